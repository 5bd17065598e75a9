import { ident, literal } from '../db/ident.js';
import type { Discovery } from '../discover/discover.js';
import { ProblemCode, type Problem } from '../discover/problems.js';
import type { CitusPlan, PlanSettings, SharedTable, Step, UnifiedTable } from './model.js';

export type { CitusPlan };

/**
 * Citus: readiness problems for any plan (would the result distribute by tenant?) and, on a Citus
 * target, the distribution phase. Pure functions of the catalog, like the rest of the planner.
 */

/**
 * A foreign key to a reference table makes Citus use one connection per node for the rest of the
 * transaction, which the parallel validation of a key between distributed tables would break: the fk
 * steps run sequentially.
 */
export const CITUS_SEQUENTIAL = `SET LOCAL citus.multi_shard_modify_mode TO 'sequential'`;

/** The target has the extension, or `--distribute citus` asks for it. */
export function wantsCitus(cfg: Pick<PlanSettings, 'distribute'>, d: Pick<Discovery, 'citus'>): boolean {
  return cfg.distribute === 'citus' || d.citus !== undefined;
}

/**
 * Readiness: each finding is a warning on a plain PostgreSQL target (what to fix before distributing
 * later), an error on a Citus target that cannot take it, info where Citus only behaves differently.
 */
export function citusReadiness(cfg: PlanSettings, d: Discovery, tables: UnifiedTable[], shared: SharedTable[], citus: boolean): Problem[] {
  const out: Problem[] = [];
  const blocking = citus ? 'error' : 'warning';
  const later = citus ? '' : ' (when distributing with Citus later)';
  const col = cfg.tenantColumn;

  if (cfg.distribute === 'citus' && d.citus === undefined) {
    out.push({
      severity: 'error',
      code: ProblemCode.CITUS_NOT_INSTALLED,
      message: '--distribute citus: the target database has no citus extension',
      hint: 'CREATE EXTENSION citus in the target database (with citus in shared_preload_libraries) and add the worker nodes, or leave --distribute out',
    });
  }
  if (citus) {
    out.push({
      severity: 'info',
      code: ProblemCode.CITUS_TARGET,
      message:
        `Citus target${d.citus ? ` (citus ${d.citus.version})` : ''}: unified tables are distributed by ${col} and colocated, shared tables they reference become reference tables, ` +
        `foreign keys are added after distribution, and the policy compares ${col} with ${cfg.rls.setting} directly`,
      hint: `the application sets the tenant with SET LOCAL citus.propagate_set_commands = 'local' and SET LOCAL ${cfg.rls.setting} in each transaction (see \`oasys-migrate guide\`)`,
    });
  }

  // A shared table referencing a tenant table: Citus refuses a reference table pointing at a distributed one.
  const tenantSchemas = new Set(d.tenants.map((t) => t.schema));
  const unified = new Set(tables.map((t) => t.target));
  const seen = new Set<string>();
  for (const [schema, byName] of d.source.tables) {
    if (tenantSchemas.has(schema)) continue;
    for (const def of byName.values()) {
      if (schema === cfg.targetSchema && unified.has(def.name)) continue;
      for (const c of def.constraints) {
        if (c.kind !== 'f' || !c.ref) continue;
        const toTenant = tenantSchemas.has(c.ref.schema) || (c.ref.schema === cfg.targetSchema && unified.has(c.ref.table));
        const key = `${schema}.${def.name}.${c.name}`;
        if (!toTenant || seen.has(key)) continue;
        seen.add(key);
        out.push({
          severity: blocking,
          code: ProblemCode.CITUS_SHARED_REFERENCES_TENANT,
          table: `${schema}.${def.name}`,
          message: `shared table ${schema}.${def.name} references tenant table "${c.ref.table}" (foreign key "${c.name}"): a reference table cannot reference a distributed table${later}`,
          hint: `drop the foreign key, or give ${schema}.${def.name} a ${col} and migrate it as a tenant table`,
        });
      }
    }
  }

  for (const t of tables) {
    for (const fk of t.foreignKeys) {
      const setOnDelete = fk.onDelete === 'n' || fk.onDelete === 'd';
      const onUpdate = fk.onUpdate === 'c' || fk.onUpdate === 'n' || fk.onUpdate === 'd';
      if (!fk.tenantScoped || (!setOnDelete && !onUpdate)) continue;
      out.push({
        severity: blocking,
        code: ProblemCode.CITUS_FK_ACTION,
        table: t.target,
        message:
          `foreign key "${fk.name}" on "${t.target}" (${col}, ${fk.columns.join(', ')}) has ${setOnDelete ? `ON DELETE SET ${fk.onDelete === 'n' ? 'NULL' : 'DEFAULT'}` : ''}` +
          `${setOnDelete && onUpdate ? ' and ' : ''}${onUpdate ? 'an ON UPDATE action' : ''}: Citus refuses it when the distribution column is in the key${later}`,
        hint: 'change the action to CASCADE, RESTRICT or NO ACTION in the tenant schemas (the application clears the column itself), or exclude the table',
      });
    }
    for (const idx of t.indexes) {
      if (!/^CREATE UNIQUE /.test(idx.sql) || idx.tenantLeading) continue;
      out.push({
        severity: blocking,
        code: ProblemCode.CITUS_UNIQUE_WITHOUT_TENANT,
        table: t.target,
        message: `unique index "${idx.name}" on "${t.target}" cannot include ${col}: Citus enforces uniqueness only with the distribution column${later}`,
        hint: `make it a btree index that includes ${col}, or enforce the rule in the application`,
      });
    }
    if (t.partitioned) {
      out.push({
        severity: 'info',
        code: ProblemCode.CITUS_PARTITIONED,
        table: t.target,
        message: `"${t.source}" is partitioned in the tenant schemas; its unified table is one ordinary table, which Citus distributes by ${col} as a whole`,
        hint: `to partition it again, partition the distributed table by hand (Citus distributes a partitioned table's partitions with it, colocated)`,
      });
    }
    const seqCols = t.columns.filter((c) => c.serial || c.identity !== '');
    if (seqCols.length > 0) {
      const narrow = seqCols.filter((c) => c.type !== 'bigint');
      out.push({
        severity: 'info',
        code: ProblemCode.CITUS_SEQUENCE,
        table: t.target,
        message:
          `"${t.target}" takes ${seqCols.map((c) => `${c.name}`).join(', ')} from a sequence: on Citus the coordinator hands out the values` +
          (narrow.length > 0 ? `; ${narrow.map((c) => `${c.name} (${c.type})`).join(', ')} cannot be drawn on the workers (only bigint can)` : ''),
        hint:
          narrow.length > 0
            ? 'write through the coordinator, or widen the column to bigint before distributing'
            : 'nothing to change: Citus keeps a bigint sequence working on the coordinator and the workers; never ALTER its type once distributed',
      });
    }
  }

  for (const st of shared.filter((s) => s.partitioned)) {
    out.push({
      severity: blocking,
      code: ProblemCode.CITUS_PARTITIONED,
      table: `${st.schema}.${st.table}`,
      message: `shared table ${st.schema}.${st.table} is partitioned: Citus cannot make a partitioned table a reference table${later}`,
      hint: 'make it an ordinary table in the source, or exclude the tables that reference it',
    });
  }

  if (d.tenantIdType === 'integer' || d.tenantIdType === 'smallint') {
    out.push({
      severity: citus ? 'info' : 'warning',
      code: ProblemCode.CITUS_TENANT_ID_TYPE,
      column: col,
      message: `the tenant id is ${d.tenantIdType}: Citus distributes by it, but a distribution column cannot be altered once distributed; bigint leaves room for growth`,
      hint: 'widen the registry id to bigint before the migration if the tenants may outgrow it',
    });
  }

  if (!citus) {
    out.push({
      severity: 'info',
      code: ProblemCode.CITUS_POLICY_FORM,
      message: `the policy reads ${cfg.rls.setting} in a sub-select (evaluated once per statement): Citus rejects sub-selects in policies on distributed tables`,
      hint: `before distributing, recreate "tenant_isolation" as ${col} = NULLIF(current_setting('${cfg.rls.setting}', true), '')::<type> (what --distribute citus plans)`,
    });
  }

  if (citus) {
    for (const t of tables.filter((x) => x.action === 'fill')) {
      out.push({
        severity: 'error',
        code: ProblemCode.CITUS_FILL_UNSUPPORTED,
        table: t.target,
        message: `${cfg.targetSchema}.${t.target} already exists in the Citus target: filling a pre-existing table is not supported there (revert could not restore its distribution)`,
        hint: 'drop it or map the tenant table to another name with tables.map, or migrate into a target without it',
      });
    }
    const copied = new Set(shared.map((s) => `${s.schema}.${s.table}`));
    const referenced = new Set<string>();
    if (d.registry) referenced.add(`${d.registry.schema}.${d.registry.table}`);
    for (const t of tables) for (const fk of t.foreignKeys) if (!fk.tenantScoped && fk.refSchema) referenced.add(`${fk.refSchema}.${fk.refTableName}`);
    for (const name of [...referenced].sort()) {
      const [schema, table] = [name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1)];
      if (copied.has(name) || !d.target.tables.get(schema)?.has(table) || d.citus?.reference.includes(name)) continue;
      out.push({
        severity: 'error',
        code: ProblemCode.CITUS_FILL_UNSUPPORTED,
        table: name,
        message: `shared table ${name} exists in the Citus target as an ordinary table: tenant tables can only reference it as a reference table`,
        hint: `SELECT create_reference_table('${name}') on the coordinator first`,
      });
    }
  }
  return out;
}

/** Shared tables the run will make reference tables: those it copies (a pre-existing reference table stays as it is). */
export function citusPlan(tables: UnifiedTable[], shared: SharedTable[]): CitusPlan {
  return {
    distributed: distributionOrder(tables),
    reference: shared.filter((s) => !s.partitioned).map((s) => `${s.schema}.${s.table}`),
    policy: 'direct',
  };
}

/** Referenced tables first (their keys exist when the referencing table is distributed), then by name. */
function distributionOrder(tables: UnifiedTable[]): string[] {
  const byTarget = new Map(tables.map((t) => [t.target, t]));
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string) => {
    if (state.has(name)) return;
    state.set(name, 'visiting');
    const t = byTarget.get(name)!;
    const refs = t.foreignKeys.filter((f) => f.tenantScoped).map((f) => unquoteLast(f.refTable));
    for (const r of [...new Set(refs)].sort()) if (byTarget.has(r) && r !== name) visit(r);
    state.set(name, 'done');
    out.push(name);
  };
  for (const name of [...byTarget.keys()].sort()) visit(name);
  return out;
}

/** The table name of an already quoted, qualified reference ("public"."orders" → orders). */
function unquoteLast(qualified: string): string {
  const m = /(?:^|\.)("(?:[^"]|"")*"|[^."]+)$/.exec(qualified);
  const last = m ? m[1] : qualified;
  return last.startsWith('"') ? last.slice(1, -1).replace(/""/g, '"') : last;
}

/**
 * The distribute phase: reference tables first (tenant tables' foreign keys point at them), then every
 * unified table by the tenant column, colocated with the first. Tables are empty here (the copy
 * follows), so nothing moves; foreign keys come in their own phase, after all of this.
 */
export function distributeSteps(cfg: Pick<PlanSettings, 'targetSchema' | 'tenantColumn'>, c: CitusPlan): Step[] {
  const steps: Step[] = [];
  for (const name of c.reference) {
    const dot = name.indexOf('.');
    const q = ident(name.slice(0, dot), name.slice(dot + 1));
    steps.push({
      id: `distribute:${name}`,
      phase: 'distribute',
      table: name,
      sql: [
        `SELECT create_reference_table(${literal(q)})`,
        // The copied rows now live in the reference table's shards; the coordinator's local copy is dead weight.
        `SELECT truncate_local_data_after_distributing_table(${literal(q)})`,
      ],
    });
  }
  const anchor = c.distributed[0];
  for (const name of c.distributed) {
    const q = ident(cfg.targetSchema, name);
    const colocate = name === anchor ? `'default'` : literal(ident(cfg.targetSchema, anchor));
    steps.push({
      id: `distribute:${name}`,
      phase: 'distribute',
      table: name,
      sql: [`SELECT create_distributed_table(${literal(q)}, ${literal(cfg.tenantColumn)}, colocate_with => ${colocate})`],
    });
  }
  return steps;
}
