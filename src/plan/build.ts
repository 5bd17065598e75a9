import { createHash } from 'node:crypto';
import { ident } from '../db/ident.js';
import type { Discovery } from '../discover/discover.js';
import { analyseDrift } from './drift.js';
import { copyDefaultSql, copyStep, sharedCopyStep } from './copySql.js';
import { PHASES, PLAN_VERSION, type Effect, type Plan, type PlanSettings, type SharedTable, type Step, type UnifiedTable } from './model.js';
import { ProblemCode, sortProblems, type Problem } from '../discover/problems.js';
import { createSharedTableSql, createTableSql, foreignKeySql, keysSql } from './ddl.js';
import { tableToCreate, tableToFill, unifiedColumns, unifiedTypes, type TableContext } from './unify.js';
import { rlsPartsFor, rlsSql } from './rls.js';

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
  const fills = (name: string) => d.target.tables.get(cfg.targetSchema)?.get(cfg.tables.map[name] ?? name)?.columns.some((c) => c.name === cfg.tenantColumn) === true;
  const tenantTables = new Set<string>();
  for (const t of tenants) for (const name of d.source.tables.get(t.schema)?.keys() ?? []) tenantTables.add(name);
  const filled = new Set([...tenantTables].filter((name) => filter(name) && fills(name)));
  const drift = analyseDrift(d.source, tenants, filter, new Set(cfg.tables.partial ?? []), filled);
  problems.push(...drift.problems);

  const seen = new Set(drift.groups.map((g) => g.name));
  for (const name of cfg.tables.include ?? []) {
    if (!seen.has(name)) problems.push({ severity: 'warning', code: ProblemCode.UNKNOWN_TABLE, table: name, message: `tables.include names "${name}", which no tenant schema has`, hint: 'check the spelling (names are case-sensitive)' });
  }
  for (const name of cfg.tables.partial ?? []) {
    if (!seen.has(name)) problems.push({ severity: 'warning', code: ProblemCode.UNKNOWN_TABLE, table: name, message: `tables.partial names "${name}", which no tenant schema has (or tables.include / tables.exclude leave out)`, hint: 'check the spelling (names are case-sensitive), or remove it from tables.partial' });
  }
  for (const name of Object.keys(cfg.tables.map)) {
    if (!seen.has(name)) problems.push({ severity: 'warning', code: ProblemCode.UNKNOWN_TABLE, table: name, message: `tables.map names "${name}", which is not a migrated tenant table`, hint: 'check the spelling, tables.include and tables.exclude' });
  }

  const targetNames = new Map<string, string>();
  const byTarget = new Map<string, string>();
  for (const g of drift.groups) {
    const target = cfg.tables.map[g.name] ?? g.name;
    const other = byTarget.get(target);
    if (other !== undefined) {
      problems.push({
        severity: 'error', code: ProblemCode.MAP_COLLISION, table: g.name,
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
    targetSchema: cfg.targetSchema, tenantColumn: cfg.tenantColumn, tenantColumnType: tenantIdType, targetNames,
    target: d.target, targetVersionNum: d.targetVersionNum, tenantSchemas: new Set(tenants.map((t) => t.schema)),
    usedNames: new Set(d.target.relationNames.get(cfg.targetSchema) ?? []), problems,
  };

  const tables: UnifiedTable[] = [];
  for (const g of drift.groups) {
    const target = targetNames.get(g.name);
    if (target === undefined) continue;
    for (const [schema, def] of g.byTenant) {
      if (def.columns.some((c) => c.name === cfg.tenantColumn)) {
        problems.push({
          severity: 'error', code: ProblemCode.TENANT_COLUMN_EXISTS, tenant: schema, table: g.name, column: cfg.tenantColumn,
          message: `tenant "${schema}" table "${g.name}" already has a column "${cfg.tenantColumn}"`,
          hint: 'choose another tenantColumn in the config, or exclude the table',
        });
      }
    }
    const existing = d.target.tables.get(cfg.targetSchema)?.get(target);
    const existingOther = d.target.nonTables.get(cfg.targetSchema)?.get(target);
    if (existingOther) {
      problems.push({
        severity: 'error', code: ProblemCode.TARGET_CONFLICT, table: g.name,
        message: `${cfg.targetSchema}.${target} already exists and is not a table`,
        hint: `map the table to another name with tables.map, or exclude it with tables.exclude`,
      });
      continue;
    }
    if (existing) {
      if (!existing.columns.some((c) => c.name === cfg.tenantColumn)) {
        problems.push({
          severity: 'error', code: ProblemCode.TARGET_CONFLICT, table: g.name,
          message: `${cfg.targetSchema}.${target} already exists without a "${cfg.tenantColumn}" column (a shared table of the same name?)`,
          hint: `map the tenant table to another name (tables.map: {"${g.name}": "tenant_${g.name}"}) or exclude it (tables.exclude)`,
        });
        continue;
      }
      tables.push(tableToFill(ctx, g, target, existing));
    } else {
      tables.push(tableToCreate(ctx, g, target));
    }
  }
  const types = unifiedTypes(cfg.targetSchema, drift.types, d.target, problems);

  const shared = d.sameDatabase ? [] : sharedTablesToCopy(cfg, d, tables, ctx);

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
    const who = e.tenants.length === 1 ? `tenant "${e.tenants[0]}"` : `${e.tenants.length} tenant schemas (${e.tenants.slice(0, 3).map((t) => `"${t}"`).join(', ')}${e.tenants.length > 3 ? ', …' : ''})`;
    problems.push({
      severity: 'warning', code: ProblemCode.NOT_MIGRATED_OBJECT, tenant: e.tenants.length === 1 ? e.tenants[0] : undefined,
      message: `${who} hold ${e.count} ${kind}${e.count > 1 ? 's' : ''} (${names}${e.count > e.examples.size ? ', …' : ''}) that are not migrated`,
      hint: `recreate the ${kind}s on the unified tables by hand if the application needs them`,
    });
  }
  for (const r of d.bypassRoles) {
    problems.push({
      severity: 'warning', code: ProblemCode.RLS_BYPASS_ROLE,
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
      columns: def.columns.filter((c) => c.generated === '').map((c) => c.name), rlsEnabled: def.rlsEnabled, rlsForced: def.rlsForced,
      policies: d.target.policies.get(cfg.targetSchema)?.get(t.target) ?? [], indexes: def.indexes.map((i) => i.name),
      tenantDefault: def.columns.find((c) => c.name === cfg.tenantColumn)?.defaultExpr ?? null,
    };
  }
  const targets = new Set(tables.map((t) => t.target));
  for (const t of tables.filter((x) => x.action === 'fill')) {
    const refs = d.target.tables.get(cfg.targetSchema)?.get(t.target)?.constraints
      .filter((c) => c.kind === 'f' && c.ref?.schema === cfg.targetSchema && c.ref.table !== t.target && targets.has(c.ref.table))
      .map((c) => c.ref!.table) ?? [];
    if (refs.length > 0) t.copyAfter = [...new Set(refs)].sort();
  }
  for (const t of tables) {
    if (subject && t.action === 'fill' && d.target.tables.get(cfg.targetSchema)?.get(t.target)?.rlsForced) t.liftForce = true;
  }
  problems.push(roleProblem(d, tables.filter((t) => t.liftForce).map((t) => t.target)));

  const steps = buildSteps(cfg, d, tables, types, shared);
  return {
    version: PLAN_VERSION, rls: { setting: cfg.rls.setting, force: cfg.rls.force },
    role: d.role, tenants, tenantColumn: cfg.tenantColumn, tenantColumnType: tenantIdType, targetSchema: cfg.targetSchema,
    sameDatabase: d.sameDatabase, tables, types, problems: sortProblems(problems), steps, shared,
    sourceFingerprint: sourceFingerprint(d, drift.groups),
  };
}

/** Names the role run will use and what follows from its attributes (what it lacks is PRIVILEGE_MISSING). */
/** Said, never done silently: the tool's sessions override the role's timeouts (SPEC §4, locks on live tables). */
const SESSION_NOTE =
  'its sessions run with statement_timeout = 0 (a long copy is never cut short by the role\'s or server\'s setting) ' +
  'and each step\'s lock_timeout = --lock-timeout (default 5s, 3 attempts)';

function roleProblem(d: Discovery, lifted: string[]): Problem {
  const r = d.role;
  if (r.superuser || r.bypassRls) {
    return {
      severity: 'info', code: ProblemCode.MIGRATING_ROLE,
      message: `run connects to the target as "${r.name}" (${r.superuser ? 'superuser' : 'BYPASSRLS'}): row-level security does not apply to it; ${SESSION_NOTE}`,
    };
  }
  return {
    severity: 'info', code: ProblemCode.MIGRATING_ROLE,
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
function sharedTablesToCopy(cfg: PlanSettings, d: Discovery, tables: UnifiedTable[], ctx: TableContext): SharedTable[] {
  const wanted: { schema: string; table: string; why: string }[] = [];
  const seen = new Set<string>();
  const want = (schema: string, table: string, why: string) => {
    const key = `${schema}\u0000${table}`;
    if (seen.has(key)) return;
    seen.add(key);
    wanted.push({ schema, table, why });
  };
  if (d.registry) want(d.registry.schema, d.registry.table, 'the tenant registry');
  for (const t of tables) {
    for (const fk of t.foreignKeys.filter((f) => !f.tenantScoped)) want(fk.refSchema!, fk.refTableName!, `referenced by "${t.source}"`);
  }
  const out: SharedTable[] = [];
  for (const w of wanted) {
    if (d.target.tables.get(w.schema)?.has(w.table)) continue;
    const def = d.source.tables.get(w.schema)?.get(w.table);
    if (!def || !d.target.relationNames.has(w.schema) && w.schema !== 'public') {
      ctx.problems.push({
        severity: 'error', code: ProblemCode.SHARED_TABLE_MISSING, table: w.table,
        message: `shared table ${w.schema}.${w.table} (${w.why}) is missing in the target and cannot be copied there (${!def ? 'not found in the source' : `schema ${w.schema} does not exist in the target`})`,
        hint: `create ${w.schema}.${w.table} in the target first (e.g. with the application's migrations)`,
      });
      continue;
    }
    const group = { name: w.table, reference: def, byTenant: new Map(), notNullEverywhere: new Set(def.columns.filter((c) => c.notNull).map((c) => c.name)), estimatedRows: def.estimate };
    const columns = unifiedColumns({ ...ctx, targetSchema: w.schema }, group);
    const pk = def.constraints.find((c) => c.kind === 'p');
    out.push({
      schema: w.schema, table: w.table, partitioned: def.kind === 'p', columns, primaryKey: pk?.columns ?? [],
      uniques: def.constraints.filter((c) => c.kind === 'u').map((c) => c.columns),
      checks: def.constraints.filter((c) => c.kind === 'c' && !c.usesLocalObjects).map((c) => c.definition),
    });
    ctx.problems.push({
      severity: 'info', code: ProblemCode.SHARED_TABLE_MISSING, table: w.table,
      message: `shared table ${w.schema}.${w.table} (${w.why}) is missing in the target; it is copied there first, as it is`,
    });
  }
  return out;
}

function buildSteps(cfg: PlanSettings, d: Discovery, tables: UnifiedTable[], types: Plan['types'], shared: SharedTable[]): Step[] {
  const ctx = { targetSchema: cfg.targetSchema, tenantColumn: cfg.tenantColumn, rls: cfg.rls };
  const steps: Step[] = [];
  for (const st of shared) {
    const def = d.source.tables.get(st.schema)!.get(st.table)!;
    const copy = sharedCopyStep(st, def.columns.every((c) => c.builtinType), def.estimate);
    steps.push({
      id: `shared:${st.schema}.${st.table}`, phase: 'shared', table: `${st.schema}.${st.table}`, sql: createSharedTableSql(st), copy,
      effects: [{ kind: 'creates-table', object: ident(st.schema, st.table) }],
    });
    const seqCols = st.columns.filter((c) => c.serial || c.identity !== '').map((c) => c.name);
    if (seqCols.length > 0) {
      steps.push({ id: `sequence:${st.schema}.${st.table}`, phase: 'sequences', table: `${st.schema}.${st.table}`, sql: seqCols.map((c) => sequenceResetSql(st.schema, st.table, c)) });
    }
  }
  const tenantById = new Map(d.tenants.map((t) => [t.schema, t]));
  for (const ty of types.filter((x) => x.action === 'create')) {
    steps.push({ id: `type:${ty.name}`, phase: 'types', sql: [ty.sql], effects: [{ kind: 'creates-type', object: ident(cfg.targetSchema, ty.name) }] });
  }
  for (const t of tables) {
    const sql = t.action === 'create' ? createTableSql(ctx, t) : [];
    if (!d.sameDatabase) sql.push(copyDefaultSql(ctx, t));
    const effects: Effect[] = t.action === 'create' ? [{ kind: 'creates-table', object: ident(cfg.targetSchema, t.target) }] : changes(t);
    if (sql.length > 0) steps.push({ id: `table:${t.target}`, phase: 'tables', table: t.target, sql, effects });
  }
  for (const t of tables) {
    const g = d.source.tables;
    const builtinOnly = t.columns.length > 0;
    for (const schema of t.tenants) {
      const tenant = tenantById.get(schema)!;
      const def = g.get(schema)!.get(t.source)!;
      // Binary COPY only where both ends surely have the same types: a filled table's own columns may differ.
      const binaryOk = builtinOnly && t.action === 'create' && def.columns.every((c) => c.builtinType || (c.localType?.kind === 'e' && !c.localType.array));
      const copy = copyStep(t, tenant, binaryOk, def.estimate);
      steps.push({ id: `copy:${schema}:${t.target}`, phase: 'copy', table: t.target, tenant: schema, sql: [], copy, effects: changes(t) });
    }
  }
  for (const t of tables) {
    const sql = keysSql(ctx, t);
    // The temporary default that stamped COPY rows is removed (or the pre-existing one restored) once loaded.
    if (!d.sameDatabase) {
      const existing = d.target.tables.get(cfg.targetSchema)?.get(t.target)?.columns.find((c) => c.name === cfg.tenantColumn);
      sql.unshift(
        existing?.defaultExpr
          ? `ALTER TABLE ${ident(cfg.targetSchema, t.target)} ALTER COLUMN ${ident(cfg.tenantColumn)} SET DEFAULT ${existing.defaultExpr}`
          : `ALTER TABLE ${ident(cfg.targetSchema, t.target)} ALTER COLUMN ${ident(cfg.tenantColumn)} DROP DEFAULT`,
      );
    }
    if (sql.length > 0) steps.push({ id: `keys:${t.target}`, phase: 'keys', table: t.target, sql, effects: changes(t) });
  }
  for (const t of tables) {
    for (const idx of t.indexes) steps.push({ id: `index:${t.target}:${idx.name}`, phase: 'indexes', table: t.target, sql: [idx.sql], effects: changes(t) });
  }
  for (const t of tables) {
    if (t.foreignKeys.length > 0) {
      steps.push({ id: `fk:${t.target}`, phase: 'foreign-keys', table: t.target, sql: t.foreignKeys.map((fk) => foreignKeySql(ctx, t.target, fk)), effects: changes(t) });
    }
  }
  for (const t of tables) {
    const existing = d.target.tables.get(cfg.targetSchema)?.get(t.target);
    const parts = rlsPartsFor(cfg.rls, t, existing && { rlsEnabled: existing.rlsEnabled, rlsForced: existing.rlsForced, hasPolicy: d.targetPolicies.has(t.target) });
    const sql = rlsSql(ctx, t, parts);
    if (sql.length > 0) steps.push({ id: `rls:${t.target}`, phase: 'rls', table: t.target, sql, effects: changes(t) });
  }
  for (const t of tables) {
    if (t.sequenceColumns.length === 0) continue;
    steps.push({ id: `sequence:${t.target}`, phase: 'sequences', table: t.target, sql: t.sequenceColumns.map((c) => sequenceResetSql(cfg.targetSchema, t.target, c)), effects: changes(t) });
  }
  for (const t of tables) steps.push({ id: `analyze:${t.target}`, phase: 'analyze', table: t.target, sql: [`ANALYZE ${ident(cfg.targetSchema, t.target)}`] });
  return steps.sort((a, b) => PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase));
}

/** A step on a pre-existing table changes it (revert restores it); on a created one nothing beyond the creation. */
function changes(t: UnifiedTable): Effect[] {
  return t.action === 'fill' ? [{ kind: 'changes-table', table: t.target }] : [];
}

/**
 * Moves a serial or identity sequence past the highest value in the table,
 * never backwards (a pre-existing table may already be further).
 */
export function sequenceResetSql(schema: string, table: string, column: string): string {
  const qualified = ident(schema, table);
  const seq = `pg_catalog.pg_get_serial_sequence(${literalText(qualified)}, ${literalText(column)})::regclass`;
  return (
    `SELECT pg_catalog.setval(${seq}, GREATEST(m.max_value, COALESCE(pg_catalog.pg_sequence_last_value(${seq}), 0), 1), ` +
    `m.max_value IS NOT NULL OR pg_catalog.pg_sequence_last_value(${seq}) IS NOT NULL) ` +
    `FROM (SELECT max(${ident(column)})::int8 AS max_value FROM ${qualified}) m`
  );
}

function literalText(s: string): string {
  return "'" + s.replace(/'/g, "''") + "'";
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
