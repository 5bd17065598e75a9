import { ident } from '../db/ident.js';
import type { Discovery } from '../discover/discover.js';
import type { Column } from '../discover/model.js';
import { CITUS_SEQUENTIAL, distributeSteps, type CitusPlan } from './citus.js';
import { copyStep, sharedCopyStep } from './copySql.js';
import { createSharedTableSql, createTableSql, foreignKeySql, keysSql } from './ddl.js';
import { mergeStepComment } from './merge.js';
import {
  copyStepOf,
  PHASES,
  plainCopyStep,
  type CopyFacts,
  type Effect,
  type MergeTable,
  type Plan,
  type PlanSettings,
  type SharedTable,
  type Step,
  type UnifiedTable,
} from './model.js';
import { rlsPartsFor, rlsSql } from './rls.js';
import { tenantDefaultSql } from './tenantDefault.js';
import { chunkedCopy } from './chunks.js';

/**
 * The ordered steps `run` executes (each in a transaction with its journal entry) and `plan --sql`
 * prints, phase by phase, each declaring what revert must undo (Step.effects).
 */
export function buildSteps(
  cfg: PlanSettings,
  d: Discovery,
  tables: UnifiedTable[],
  types: Plan['types'],
  shared: SharedTable[],
  merged: Map<string, MergeTable> = new Map(),
  citus?: CitusPlan,
): Step[] {
  const ctx = { targetSchema: cfg.targetSchema, tenantColumn: cfg.tenantColumn, rls: cfg.rls, policy: citus?.policy };
  const steps: Step[] = [];
  for (const st of shared) {
    const def = d.source.tables.get(st.schema)!.get(st.table)!;
    const copy = sharedCopyStep(
      st,
      def.columns.every((c) => c.builtinType),
      def.estimate,
    );
    steps.push({
      id: `shared:${st.schema}.${st.table}`,
      phase: 'shared',
      table: `${st.schema}.${st.table}`,
      sql: createSharedTableSql(st),
      copy,
      effects: [{ kind: 'creates-table', object: ident(st.schema, st.table) }],
    });
    const seqCols = st.columns.filter((c) => c.serial || c.identity !== '').map((c) => c.name);
    if (seqCols.length > 0) {
      steps.push({
        id: `sequence:${st.schema}.${st.table}`,
        phase: 'sequences',
        table: `${st.schema}.${st.table}`,
        sql: seqCols.map((c) => sequenceResetSql(st.schema, st.table, c)),
      });
    }
  }
  const tenantById = new Map(d.tenants.map((t) => [t.schema, t]));
  for (const ty of types.filter((x) => x.action === 'create')) {
    steps.push({ id: `type:${ty.name}`, phase: 'types', sql: [ty.sql], effects: [{ kind: 'creates-type', object: ident(cfg.targetSchema, ty.name) }] });
  }
  for (const t of tables) {
    const sql = t.action === 'create' ? createTableSql(ctx, t) : [];
    // The tenant column's default reads rls.setting: it stamps a separate target's COPY rows (the
    // copy sets the setting per tenant) and, after cut-over, the application's inserts (tenantDefault.ts).
    sql.push(tenantDefaultSql(ctx, t));
    const effects: Effect[] = t.action === 'create' ? [{ kind: 'creates-table', object: ident(cfg.targetSchema, t.target) }] : changes(t);
    if (sql.length > 0) steps.push({ id: `table:${t.target}`, phase: 'tables', table: t.target, sql, effects });
  }
  if (citus) steps.push(...distributeSteps(cfg, citus));
  // One step per merged table, all its tenants at once, before any copy translates through its mapping.
  // Its `sql` is only what `plan --sql` prints: the step itself is src/merge/execute.ts (it reads the source).
  for (const m of merged.values()) {
    steps.push({ id: `merge:${m.table}`, phase: 'merge', table: `${m.sharedSchema}.${m.table}`, sql: [mergeStepComment(m)], merge: m.table });
  }
  for (const t of tables) {
    const g = d.source.tables;
    const builtinOnly = t.columns.length > 0;
    // One of each per table, not per tenant (250,000 copy steps at 50,000 tenants): never written to.
    const effects = changes(t);
    const binaryColumns = new Map<Column[], boolean>();
    const factsOf = new Map<boolean, CopyFacts>();
    for (const schema of t.tenants) {
      const tenant = tenantById.get(schema)!;
      const def = g.get(schema)!.get(t.source)!;
      // Binary COPY only where both ends surely have the same types: a filled table's own columns may differ.
      let binaryOk = binaryColumns.get(def.columns);
      if (binaryOk === undefined) {
        binaryOk = builtinOnly && t.action === 'create' && def.columns.every((c) => c.builtinType || (c.localType?.kind === 'e' && !c.localType.array));
        binaryColumns.set(def.columns, binaryOk);
      }
      // Translated columns (merged lookup tables) join the mappings on the tenant: never batched.
      const copy = copyStep(t, tenant, binaryOk && !t.translations?.length, def.estimate);
      let step: Step;
      if (t.translations?.length) step = copyStepOf({ ...copy, alone: true }, effects);
      else {
        let facts = factsOf.get(copy.binary);
        if (facts === undefined)
          factsOf.set(copy.binary, (facts = { sourceTable: copy.sourceTable, targetTable: copy.targetTable, binary: copy.binary, effects }));
        step = plainCopyStep(tenant, facts, copy.estimatedRows);
      }
      steps.push(...chunkedCopy(step, d.keyBounds?.get(`${schema}.${t.source}`), cfg.chunkRows));
    }
  }
  for (const t of tables) {
    const sql = keysSql(ctx, t);
    if (sql.length > 0) steps.push({ id: `keys:${t.target}`, phase: 'keys', table: t.target, sql, effects: changes(t) });
  }
  for (const t of tables) {
    for (const idx of t.indexes) steps.push({ id: `index:${t.target}:${idx.name}`, phase: 'indexes', table: t.target, sql: [idx.sql], effects: changes(t) });
  }
  for (const t of tables) {
    if (t.foreignKeys.length > 0) {
      steps.push({
        id: `fk:${t.target}`,
        phase: 'foreign-keys',
        table: t.target,
        sql: [...(citus ? [CITUS_SEQUENTIAL] : []), ...t.foreignKeys.map((fk) => foreignKeySql(ctx, t.target, fk))],
        effects: changes(t),
      });
    }
  }
  for (const t of tables) {
    const existing = d.target.tables.get(cfg.targetSchema)?.get(t.target);
    const parts = rlsPartsFor(
      cfg.rls,
      t,
      existing && { rlsEnabled: existing.rlsEnabled, rlsForced: existing.rlsForced, hasPolicy: d.targetPolicies.has(t.target) },
    );
    const sql = rlsSql(ctx, t, parts);
    if (sql.length > 0) steps.push({ id: `rls:${t.target}`, phase: 'rls', table: t.target, sql, effects: changes(t) });
  }
  for (const t of tables) {
    if (t.sequenceColumns.length === 0) continue;
    steps.push({
      id: `sequence:${t.target}`,
      phase: 'sequences',
      table: t.target,
      sql: t.sequenceColumns.map((c) => sequenceResetSql(cfg.targetSchema, t.target, c)),
      effects: changes(t),
    });
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
