import { createHash } from 'node:crypto';
import type { Discovery } from '../discover/discover.js';
import { ProblemCode, sortProblems, type Problem } from '../discover/problems.js';
import { citusPlan, citusReadiness, wantsCitus } from './citus.js';
import { analyseDrift } from './drift.js';
import { mergeMap, planMerges, translationsFor } from './merge.js';
import { PLAN_VERSION, type Plan, type PlanSettings, type SharedTable, type UnifiedTable } from './model.js';
import { buildSteps } from './steps.js';
import { tableToCreate, tableToFill, unifiedColumns, unifiedTypes, type TableContext } from './unify.js';

/**
 * Builds the plan from what discovery read: the unified tables, the problems,
 * and the ordered steps that `run` executes. Pure: same input, same plan.
 */
export function buildPlan(cfg: PlanSettings, d: Discovery): Plan {
  const problems: Problem[] = [...d.problems];
  const { tenants } = d;
  const include = cfg.tables.include ? new Set(cfg.tables.include) : undefined;
  const exclude = new Set(cfg.tables.exclude);
  const filter = (name: string) => !exclude.has(name) && (!include || include.has(name));
  // Tables whose unified table already exists with the tenant column are filled, not created: drift in
  // the tenants' keys does not reach them (tableToFill adds none), so it cannot make run fail.
  const fills = (name: string) =>
    d.target.tables
      .get(cfg.targetSchema)
      ?.get(cfg.tables.map[name] ?? name)
      ?.columns.some((c) => c.name === cfg.tenantColumn) === true;
  const tenantTables = new Set<string>();
  for (const t of tenants) for (const name of d.source.tables.get(t.schema)?.keys() ?? []) tenantTables.add(name);
  const filled = new Set([...tenantTables].filter((name) => filter(name) && fills(name)));
  const drift = analyseDrift(d.source, tenants, filter, new Set(cfg.tables.partial ?? []), filled);
  for (const p of drift.problems) problems.push(p); // not push(...): one per tenant can be 100,000s of arguments

  const seen = new Set(drift.groups.map((g) => g.name));
  for (const name of cfg.tables.include ?? []) {
    if (!seen.has(name))
      problems.push({
        severity: 'warning',
        code: ProblemCode.UNKNOWN_TABLE,
        table: name,
        message: `tables.include names "${name}", which no tenant schema has`,
        hint: 'check the spelling (names are case-sensitive)',
      });
  }
  for (const name of cfg.tables.partial ?? []) {
    if (!seen.has(name))
      problems.push({
        severity: 'warning',
        code: ProblemCode.UNKNOWN_TABLE,
        table: name,
        message: `tables.partial names "${name}", which no tenant schema has (or tables.include / tables.exclude leave out)`,
        hint: 'check the spelling (names are case-sensitive), or remove it from tables.partial',
      });
  }
  for (const name of Object.keys(cfg.tables.map)) {
    if (!seen.has(name))
      problems.push({
        severity: 'warning',
        code: ProblemCode.UNKNOWN_TABLE,
        table: name,
        message: `tables.map names "${name}", which is not a migrated tenant table`,
        hint: 'check the spelling, tables.include and tables.exclude',
      });
  }

  // Same-name lookup tables merged into the shared one by natural key (plan/merge.ts) are not unified tables.
  const merges = planMerges(
    { tenantColumn: cfg.tenantColumn, merge: cfg.tables.merge ?? {}, source: d.source, target: d.target, sameDatabase: d.sameDatabase },
    drift.groups,
    problems,
  );
  const merged = mergeMap(merges);

  const targetNames = new Map<string, string>();
  const byTarget = new Map<string, string>();
  for (const g of drift.groups) {
    if (merged.has(g.name)) continue;
    const target = cfg.tables.map[g.name] ?? g.name;
    const other = byTarget.get(target);
    if (other !== undefined) {
      problems.push({
        severity: 'error',
        code: ProblemCode.MAP_COLLISION,
        table: g.name,
        message: `tenant tables "${other}" and "${g.name}" would both become ${cfg.targetSchema}.${target}`,
        hint: 'give one of them another name with tables.map',
      });
      continue;
    }
    byTarget.set(target, g.name);
    targetNames.set(g.name, target);
  }

  const tenantIdType = d.tenantIdType;
  const ctx: TableContext = {
    targetSchema: cfg.targetSchema,
    tenantColumn: cfg.tenantColumn,
    tenantColumnType: tenantIdType,
    targetNames,
    target: d.target,
    targetVersionNum: d.targetVersionNum,
    tenantSchemas: new Set(tenants.map((t) => t.schema)),
    usedNames: new Set(d.target.relationNames.get(cfg.targetSchema) ?? []),
    problems,
    merged: new Set(merged.keys()),
  };

  const tables: UnifiedTable[] = [];
  for (const g of drift.groups) {
    const target = targetNames.get(g.name);
    if (target === undefined) continue;
    for (const [schema, def] of g.byTenant) {
      if (def.columns.some((c) => c.name === cfg.tenantColumn)) {
        problems.push({
          severity: 'error',
          code: ProblemCode.TENANT_COLUMN_EXISTS,
          tenant: schema,
          table: g.name,
          column: cfg.tenantColumn,
          message: `tenant "${schema}" table "${g.name}" already has a column "${cfg.tenantColumn}"`,
          hint: 'choose another tenantColumn in the config, or exclude the table',
        });
      }
    }
    const existing = d.target.tables.get(cfg.targetSchema)?.get(target);
    const existingOther = d.target.nonTables.get(cfg.targetSchema)?.get(target);
    if (existingOther) {
      problems.push({
        severity: 'error',
        code: ProblemCode.TARGET_CONFLICT,
        table: g.name,
        message: `${cfg.targetSchema}.${target} already exists and is not a table`,
        hint: `map the table to another name with tables.map, or exclude it with tables.exclude`,
      });
      continue;
    }
    if (existing) {
      if (!existing.columns.some((c) => c.name === cfg.tenantColumn)) {
        problems.push({
          severity: 'error',
          code: ProblemCode.TARGET_CONFLICT,
          table: g.name,
          message: `${cfg.targetSchema}.${target} already exists without a "${cfg.tenantColumn}" column (a shared table of the same name?)`,
          hint:
            `tables.map {"${g.name}": "tenant_${g.name}"} when the tenants' rows are their own data (a unified table beside the shared one); ` +
            `tables.merge {"${g.name}": ["<natural key columns>"]} when they are copies of the same lookup rows (merged into the shared table, references translated); ` +
            `a separate targetSchema when the unified tables should live apart from the shared ones; or tables.exclude to leave it out`,
        });
        continue;
      }
      tables.push(tableToFill(ctx, g, target, existing));
    } else {
      tables.push(tableToCreate(ctx, g, target));
    }
    if (merged.size > 0) {
      const tr = translationsFor(g, merged, problems);
      if (tr.length > 0) tables[tables.length - 1].translations = tr;
    }
  }
  const types = unifiedTypes(cfg.targetSchema, drift.types, d.target, problems);

  const shared = d.sameDatabase
    ? []
    : sharedTablesToCopy(
        cfg,
        d,
        tables,
        ctx,
        merges.map((m) => m.table),
      );

  const tenantSchemas = new Set(tenants.map((t) => t.schema));
  // One warning per kind of object, however many tenants have it (10,000 tenants, 10,000 views).
  const byKind = new Map<string, { tenants: string[]; count: number; examples: Set<string> }>();
  for (const o of d.source.other.filter((x) => tenantSchemas.has(x.schema))) {
    const e = byKind.get(o.kind) ?? { tenants: [], count: 0, examples: new Set<string>() };
    e.tenants.push(o.schema);
    e.count += o.count;
    for (const x of o.examples) if (e.examples.size < 5) e.examples.add(x);
    byKind.set(o.kind, e);
  }
  for (const [kind, e] of byKind) {
    const names = [...e.examples].join(', ');
    const who =
      e.tenants.length === 1
        ? `tenant "${e.tenants[0]}"`
        : `${e.tenants.length} tenant schemas (${e.tenants
            .slice(0, 3)
            .map((t) => `"${t}"`)
            .join(', ')}${e.tenants.length > 3 ? ', …' : ''})`;
    problems.push({
      severity: 'warning',
      code: ProblemCode.NOT_MIGRATED_OBJECT,
      tenant: e.tenants.length === 1 ? e.tenants[0] : undefined,
      message: `${who} hold ${e.count} ${kind}${e.count > 1 ? 's' : ''} (${names}${e.count > e.examples.size ? ', …' : ''}) that are not migrated`,
      hint: `recreate the ${kind}s on the unified tables by hand if the application needs them`,
    });
  }
  for (const r of d.bypassRoles) {
    problems.push({
      severity: 'warning',
      code: ProblemCode.RLS_BYPASS_ROLE,
      message: `role "${r.role}" is ${r.superuser ? 'a superuser' : 'BYPASSRLS'}: row-level security does not apply to it`,
      hint: 'the application must connect as a role that is neither superuser nor BYPASSRLS (check with `oasys-migrate check-rls --role <role>`)',
    });
  }

  // A role that is neither superuser nor BYPASSRLS is subject to FORCEd policies even as the owner:
  // on a pre-existing forced table it would see none of the rows it must save, count or reset past.
  const subject = !d.role.superuser && !d.role.bypassRls;
  for (const t of tables.filter((x) => x.action === 'fill')) {
    const def = d.target.tables.get(cfg.targetSchema)!.get(t.target)!;
    t.existing = {
      columns: def.columns.filter((c) => c.generated === '').map((c) => c.name),
      rlsEnabled: def.rlsEnabled,
      rlsForced: def.rlsForced,
      policies: d.target.policies.get(cfg.targetSchema)?.get(t.target) ?? [],
      indexes: def.indexes.map((i) => i.name),
      tenantDefault: def.columns.find((c) => c.name === cfg.tenantColumn)?.defaultExpr ?? null,
    };
  }
  const targets = new Set(tables.map((t) => t.target));
  for (const t of tables.filter((x) => x.action === 'fill')) {
    const refs =
      d.target.tables
        .get(cfg.targetSchema)
        ?.get(t.target)
        ?.constraints.filter((c) => c.kind === 'f' && c.ref?.schema === cfg.targetSchema && c.ref.table !== t.target && targets.has(c.ref.table))
        .map((c) => c.ref!.table) ?? [];
    if (refs.length > 0) t.copyAfter = [...new Set(refs)].sort();
  }
  for (const t of tables) {
    if (subject && t.action === 'fill' && d.target.tables.get(cfg.targetSchema)?.get(t.target)?.rlsForced) t.liftForce = true;
  }
  problems.push(
    roleProblem(
      d,
      tables.filter((t) => t.liftForce).map((t) => t.target),
    ),
  );

  const citus = wantsCitus(cfg, d);
  problems.push(...citusReadiness(cfg, d, tables, shared, citus));
  const distribution = citus ? citusPlan(tables, shared) : undefined;
  const steps = buildSteps(cfg, d, tables, types, shared, merged, distribution);
  return {
    version: PLAN_VERSION,
    rls: { setting: cfg.rls.setting, force: cfg.rls.force },
    role: d.role,
    tenants,
    tenantColumn: cfg.tenantColumn,
    tenantColumnType: tenantIdType,
    targetSchema: cfg.targetSchema,
    sameDatabase: d.sameDatabase,
    tables,
    types,
    problems: sortProblems(problems),
    steps,
    shared,
    sourceFingerprint: sourceFingerprint(d, drift.groups),
    ...(merges.length > 0 ? { merges } : {}),
    ...(distribution ? { citus: distribution } : {}),
  };
}

/** Names the role run will use and what follows from its attributes (what it lacks is PRIVILEGE_MISSING). */
/** Said, never done silently: the tool's sessions override the role's timeouts (SPEC §4, locks on live tables). */
const SESSION_NOTE =
  "its sessions run with statement_timeout = 0 (a long copy is never cut short by the role's or server's setting) " +
  "and each step's lock_timeout = --lock-timeout (default 5s, 3 attempts)";

function roleProblem(d: Discovery, lifted: string[]): Problem {
  const r = d.role;
  if (r.superuser || r.bypassRls) {
    return {
      severity: 'info',
      code: ProblemCode.MIGRATING_ROLE,
      message: `run connects to the target as "${r.name}" (${r.superuser ? 'superuser' : 'BYPASSRLS'}): row-level security does not apply to it; ${SESSION_NOTE}`,
    };
  }
  return {
    severity: 'info',
    code: ProblemCode.MIGRATING_ROLE,
    message:
      `run connects to the target as "${r.name}" (NOSUPERUSER NOBYPASSRLS): as the tables' owner it is subject to FORCE ROW LEVEL SECURITY; ` +
      `sequences are reset and the run verified before the policies are forced` +
      (lifted.length > 0 ? `; FORCE is lifted for the owner on ${lifted.join(', ')} while the run writes and put back by its rls phase` : '') +
      `. After cut-over a logical backup (pg_dump) as "${r.name}" cannot read the unified tables; ${SESSION_NOTE}`,
    hint: 'back up with a BYPASSRLS role (or physical/managed snapshots), see README "Backups after cut-over"; `verify` and `revert` as this role handle FORCE themselves',
  };
}

/**
 * A separate target needs the shared tables that tenant foreign keys point at
 * (and the registry) before the keys can be made; those it lacks are copied.
 */
function sharedTablesToCopy(cfg: PlanSettings, d: Discovery, tables: UnifiedTable[], ctx: TableContext, mergedTables: string[] = []): SharedTable[] {
  const wanted: { schema: string; table: string; why: string }[] = [];
  const seen = new Set<string>();
  const want = (schema: string, table: string, why: string) => {
    const key = `${schema}\u0000${table}`;
    if (seen.has(key)) return;
    seen.add(key);
    wanted.push({ schema, table, why });
  };
  if (d.registry) want(d.registry.schema, d.registry.table, 'the tenant registry');
  for (const name of mergedTables) want('public', name, "the tenants' rows are merged into it");
  for (const t of tables) {
    for (const fk of t.foreignKeys.filter((f) => !f.tenantScoped)) want(fk.refSchema!, fk.refTableName!, `referenced by "${t.source}"`);
  }
  const out: SharedTable[] = [];
  for (const w of wanted) {
    if (d.target.tables.get(w.schema)?.has(w.table)) continue;
    const def = d.source.tables.get(w.schema)?.get(w.table);
    if (!def || (!d.target.relationNames.has(w.schema) && w.schema !== 'public')) {
      ctx.problems.push({
        severity: 'error',
        code: ProblemCode.SHARED_TABLE_MISSING,
        table: w.table,
        message: `shared table ${w.schema}.${w.table} (${w.why}) is missing in the target and cannot be copied there (${!def ? 'not found in the source' : `schema ${w.schema} does not exist in the target`})`,
        hint: `create ${w.schema}.${w.table} in the target first (e.g. with the application's migrations)`,
      });
      continue;
    }
    const group = {
      name: w.table,
      reference: def,
      byTenant: new Map(),
      notNullEverywhere: new Set(def.columns.filter((c) => c.notNull).map((c) => c.name)),
      estimatedRows: def.estimate,
    };
    const columns = unifiedColumns({ ...ctx, targetSchema: w.schema }, group);
    const pk = def.constraints.find((c) => c.kind === 'p');
    out.push({
      schema: w.schema,
      table: w.table,
      partitioned: def.kind === 'p',
      columns,
      primaryKey: pk?.columns ?? [],
      uniques: def.constraints.filter((c) => c.kind === 'u').map((c) => c.columns),
      checks: def.constraints.filter((c) => c.kind === 'c' && !c.usesLocalObjects).map((c) => c.definition),
    });
    ctx.problems.push({
      severity: 'info',
      code: ProblemCode.SHARED_TABLE_MISSING,
      table: w.table,
      message: `shared table ${w.schema}.${w.table} (${w.why}) is missing in the target; it is copied there first, as it is`,
    });
  }
  return out;
}

/**
 * What the source looked like when planned: the tenants and each tenant
 * table's reference definition. Only the source counts: the target changes
 * under a run (its tables exist after a crash), the source must not.
 */
function sourceFingerprint(d: Discovery, groups: { name: string; reference: { columns: { name: string; type: string; notNull: boolean }[] } }[]): string {
  const h = createHash('sha256');
  for (const t of d.tenants) h.update(`${t.schema}\u0000${t.tenantId}\u0001`);
  for (const g of groups) {
    h.update(`${g.name}\u0002`);
    for (const c of g.reference.columns) h.update(`${c.name}:${c.type.replace(/^.*\./, '')}:${c.notNull}\u0001`);
  }
  return h.digest('hex').slice(0, 16);
}
