import type { KeyBounds } from './keyBounds.js';
import type pg from 'pg';
import type { ResolvedConfig, RegistryRef } from '../config/load.js';
import type { Problem } from './problems.js';
import { listSchemas, readBypassRoles, readCatalog, readSessionFacts } from './catalog.js';
import { readReferenceTables } from './citus.js';
import type { BypassRole, Catalog, MigratingRole, Tenant } from './model.js';
import { resolveTenants } from './tenants.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

export interface Discovery {
  tenants: Tenant[];
  tenantIdType: string;
  registry?: RegistryRef;
  /** Tenant schemas (and, in one database, the target and shared schemas too). */
  source: Catalog;
  /** The target schema and the shared schemas tenant tables reference. */
  target: Catalog;
  sameDatabase: boolean;
  problems: Problem[];
  bypassRoles: BypassRole[];
  /** The role connected to the target: a NOSUPERUSER NOBYPASSRLS owner is subject to FORCEd policies. */
  role: MigratingRole;
  /** Tables of the target schema that already have a `tenant_isolation` policy. */
  targetPolicies: Set<string>;
  /** The target server's server_version_num: what the DDL may use (src/plan/targetVersion.ts). */
  targetVersionNum: number;
  /** The target has the citus extension: its version and which tables are already reference tables (`schema.table`). */
  citus?: { version: string; reference: string[] };
  /** Catalog queries sent, whatever the number of tenants. */
  queryCount: number;
  /** Big tables' integer keys and their histogram bounds (`<schema>.<table>`), read after discovery (keyBounds.ts). */
  keyBounds?: Map<string, KeyBounds>;
}

/**
 * Reads everything planning needs, read-only, with a constant number of
 * queries: the tenant list, then each kind of catalog object for all tenant
 * schemas at once.
 */
export async function discover(
  source: Queryable,
  target: Queryable,
  cfg: ResolvedConfig,
  /** shapes: false reads every tenant table in full (the tests compare both ways). */
  opts: { shapes?: boolean } = {},
): Promise<Discovery> {
  let queryCount = 1;
  const schemas = await listSchemas(source);
  const resolved = await resolveTenants(source, cfg, schemas);
  queryCount += cfg.tenants.mode === 'schemas' ? 0 : cfg.tenants.mode === 'registry' ? 2 : 1;
  const tenantSchemas = resolved.tenants.map((t) => t.schema);
  const shapes = opts.shapes === false ? undefined : tenantSchemas;

  let sourceCatalog: Catalog;
  let targetCatalog: Catalog;
  if (cfg.sameDatabase) {
    // One pass over the tenant schemas, the target schema and public (shared tables).
    sourceCatalog = await readCatalog(source, [...new Set([...tenantSchemas, cfg.targetSchema, 'public'])], new Set([cfg.targetSchema, 'public']), shapes);
    targetCatalog = sourceCatalog;
    queryCount += sourceCatalog.queryCount;
  } else {
    sourceCatalog = await readCatalog(source, [...new Set([...tenantSchemas, 'public'])], new Set(['public']), shapes);
    const refSchemas = new Set<string>([cfg.targetSchema, 'public']);
    const tenantSet = new Set(tenantSchemas);
    for (const tables of sourceCatalog.tables.values()) {
      for (const t of tables.values()) {
        for (const c of t.constraints) if (c.ref && !tenantSet.has(c.ref.schema)) refSchemas.add(c.ref.schema);
      }
    }
    targetCatalog = await readCatalog(target, [...refSchemas]);
    queryCount += sourceCatalog.queryCount + targetCatalog.queryCount;
  }
  const bypassRoles = await readBypassRoles(target);
  const { role, versionNum: targetVersionNum, citusVersion } = await readSessionFacts(target);
  const citus = citusVersion === null ? undefined : { version: citusVersion, reference: await readReferenceTables(target) };
  queryCount += citus ? 3 : 2;
  const targetPolicies = new Set<string>();
  for (const [table, names] of targetCatalog.policies.get(cfg.targetSchema) ?? []) {
    if (names.includes('tenant_isolation')) targetPolicies.add(table);
  }
  return {
    tenants: resolved.tenants,
    tenantIdType: resolved.tenantIdType,
    registry: resolved.registry,
    source: sourceCatalog,
    target: targetCatalog,
    sameDatabase: cfg.sameDatabase,
    problems: resolved.problems,
    bypassRoles,
    role,
    targetPolicies,
    targetVersionNum,
    ...(citus ? { citus } : {}),
    queryCount,
  };
}
