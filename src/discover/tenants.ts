import type pg from 'pg';
import { ident } from '../db/ident.js';
import { UsageError } from '../errors.js';
import type { ResolvedConfig, RegistryRef } from '../config/load.js';
import type { Tenant } from './model.js';
import { ProblemCode, type Problem } from './problems.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

export interface TenantResolution {
  tenants: Tenant[];
  /** SQL type of the tenant column: the registry id's type, else text. */
  tenantIdType: string;
  registry?: RegistryRef;
  problems: Problem[];
}

/** Registry id types that can be stamped into a column and compared in a policy. */
const USABLE_ID_TYPES = /^(smallint|integer|bigint|uuid|text|character varying(\(\d+\))?|character\(\d+\))$/;

const registryName = (r: RegistryRef) => `${r.schema}.${r.table}(${r.idColumn}, ${r.schemaColumn})`;

/**
 * Finds the tenant schemas: from the registry, a list or a LIKE pattern,
 * minus `exclude` (and always minus the shared schema `public`), restricted
 * by --tenants. Schemas without a registry row and rows without a schema are
 * reported, never merged silently.
 */
export async function resolveTenants(db: Queryable, cfg: ResolvedConfig, allSchemas: string[]): Promise<TenantResolution> {
  const problems: Problem[] = [];
  const excluded = new Set([...cfg.exclude, 'public', cfg.targetSchema]);
  const existing = new Set(allSchemas);
  let tenants: Tenant[] = [];
  let tenantIdType = 'text';
  let registry: RegistryRef | undefined;

  const sel = cfg.tenants;
  if (sel.mode === 'registry') {
    registry = sel.registry;
    const qualified = ident(registry.schema, registry.table);
    const cols = await db.query<{ name: string; type: string }>(
      `SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type
         FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
      [qualified],
    );
    if (cols.rows.length === 0) {
      throw new UsageError(
        sel.explicit
          ? `the tenant registry table ${registry.schema}.${registry.table} (config key tenants.registry.table) does not exist in the source database`
          : `no tenant registry: the default table public.customers_client does not exist in the source database`,
        'name the registry with tenants.registry.table, or select tenants with tenants.schemas or tenants.pattern in the config file',
        { keyPath: 'tenants.registry.table' },
      );
    }
    const byName = new Map(cols.rows.map((c) => [c.name, c.type]));
    for (const [key, col] of [
      ['idColumn', registry.idColumn],
      ['schemaColumn', registry.schemaColumn],
    ] as const) {
      if (!byName.has(col)) {
        throw new UsageError(
          `the tenant registry ${registry.schema}.${registry.table} has no column "${col}" (config key tenants.registry.${key})`,
          `its columns are: ${[...byName.keys()].join(', ')}; set tenants.registry.${key} to one of them`,
          { keyPath: `tenants.registry.${key}` },
        );
      }
    }
    const idType = byName.get(registry.idColumn)!;
    if (!USABLE_ID_TYPES.test(idType)) {
      throw new UsageError(
        `the registry id column ${registry.schema}.${registry.table}.${registry.idColumn} has type ${idType}, which cannot be used as the tenant column`,
        'use an integer, bigint, uuid or text id column (tenants.registry.idColumn), or select tenants with tenants.schemas or tenants.pattern (tenant_id is then the schema name)',
        { keyPath: 'tenants.registry.idColumn' },
      );
    }
    tenantIdType = idType.startsWith('character') ? 'text' : idType;
    const rows = await db.query<{ id: string | null; schema: string | null }>(
      `SELECT (${ident(registry.idColumn)})::text AS id, (${ident(registry.schemaColumn)})::text AS schema
         FROM ${qualified} ORDER BY 2`,
    );
    const inRegistry = new Set<string>();
    for (const r of rows.rows) {
      if (r.schema === null || r.id === null) continue;
      inRegistry.add(r.schema);
      if (r.schema === cfg.targetSchema && r.schema !== 'public') {
        problems.push({
          severity: 'error',
          code: ProblemCode.TENANT_IS_TARGET,
          tenant: r.schema,
          message: `the registry names "${r.schema}" (id ${r.id}) as a tenant, but it is the target schema (targetSchema); its rows would be migrated into itself`,
          hint: 'choose another targetSchema, or add the schema to tenants.exclude if it is not a tenant',
        });
        continue;
      }
      if (excluded.has(r.schema)) continue;
      if (!existing.has(r.schema)) {
        problems.push({
          severity: 'warning',
          code: ProblemCode.MISSING_SCHEMA,
          tenant: r.schema,
          message: `registry ${registryName(registry)} has a row (id ${r.id}) for schema "${r.schema}", which does not exist; it is skipped`,
          hint: 'delete the stale registry row, or restore the schema, before the cut-over',
        });
        continue;
      }
      tenants.push({ schema: r.schema, tenantId: r.id });
    }
    for (const s of allSchemas) {
      if (!inRegistry.has(s) && !excluded.has(s)) {
        problems.push({
          severity: 'warning',
          code: ProblemCode.ORPHAN_SCHEMA,
          tenant: s,
          message: `schema "${s}" has no row in the registry ${registryName(registry)}; it is not migrated`,
          hint: 'add it to tenants.exclude to silence this, or register it as a tenant',
        });
      }
    }
  } else if (sel.mode === 'schemas') {
    const missing = sel.schemas.filter((s) => !existing.has(s));
    if (missing.length > 0) {
      throw new UsageError(
        `unknown tenant schema${missing.length > 1 ? 's' : ''} in tenants.schemas: ${missing.map((s) => JSON.stringify(s)).join(', ')}`,
        'check the names (they are case-sensitive) against the source database',
        { keyPath: 'tenants.schemas' },
      );
    }
    tenants = sel.schemas.filter((s) => !excluded.has(s)).map((s) => ({ schema: s, tenantId: s }));
  } else {
    const rows = await db.query<{ schema: string }>(`SELECT nspname AS schema FROM pg_catalog.pg_namespace WHERE nspname LIKE $1 ORDER BY 1`, [sel.pattern]);
    tenants = rows.rows
      .map((r) => r.schema)
      .filter((s) => !excluded.has(s) && s !== 'oasys_migrate' && !s.startsWith('pg_'))
      .map((s) => ({ schema: s, tenantId: s }));
  }

  tenants = skipTenants(restrictTenants(tenants, cfg.only), cfg.skip);

  if (tenants.length === 0) {
    problems.push({
      severity: 'error',
      code: ProblemCode.NO_TENANTS,
      message: 'no tenant schemas were selected: there is nothing to migrate',
      hint: 'check tenants.registry / tenants.schemas / tenants.pattern, tenants.exclude and --tenants',
    });
  }
  return { tenants, tenantIdType, registry, problems };
}

/**
 * The tenants `--tenants` (or OASYS_TENANTS) keeps; a name that is not among
 * them is a usage error naming it (exit 2) — never an empty, "successful"
 * selection. One check for every command that takes --tenants: discovery
 * (plan, run) and the commands that work on a recorded run's tenants (verify,
 * check-rls; `of` then names the run).
 */
/** --exclude-tenants: leaves these out; a name that is not a selected tenant is exit 2, as for --tenants. */
export function skipTenants<T extends { schema: string }>(tenants: T[], skip: readonly string[] | undefined, of?: string): T[] {
  if (!skip || skip.length === 0) return tenants;
  const known = new Set(tenants.map((t) => t.schema));
  const unknown = skip.filter((s) => !known.has(s));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown tenant${unknown.length > 1 ? 's' : ''} in --exclude-tenants: ${unknown.map((s) => JSON.stringify(s)).join(', ')}${of ? ` (not a tenant of ${of})` : ' (not among the selected tenants)'}`,
      `known tenants: ${[...known]
        .slice(0, 10)
        .map((s) => JSON.stringify(s))
        .join(', ')}${known.size > 10 ? ', …' : ''} (names are case-sensitive)`,
      { keyPath: '--exclude-tenants' },
    );
  }
  const drop = new Set(skip);
  return tenants.filter((t) => !drop.has(t.schema));
}

export function restrictTenants<T extends { schema: string }>(tenants: T[], only: readonly string[] | undefined, of?: string): T[] {
  if (!only || only.length === 0) return tenants;
  const known = new Set(tenants.map((t) => t.schema));
  const unknown = only.filter((s) => !known.has(s));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown tenant${unknown.length > 1 ? 's' : ''} in --tenants: ${unknown.map((s) => JSON.stringify(s)).join(', ')}${of ? ` (not a tenant of ${of})` : ''}`,
      known.size === 0
        ? 'there are no tenants to choose from'
        : `known tenants: ${[...known]
            .slice(0, 10)
            .map((s) => JSON.stringify(s))
            .join(', ')}${known.size > 10 ? ', …' : ''} (names are case-sensitive)`,
      { keyPath: '--tenants' },
    );
  }
  const keep = new Set(only);
  return tenants.filter((t) => keep.has(t.schema));
}
