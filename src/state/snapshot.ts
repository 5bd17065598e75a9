import type pg from 'pg';
import { ident, identList, literal } from '../db/ident.js';
import { tenantsAmong, type Effect, type Plan } from '../plan/model.js';
import { CREATED_BY_MARK } from '../plan/ddl.js';
import { WantingError } from '../errors.js';
import { unmerge } from '../merge/execute.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * The rollback snapshot: before `run` writes anything, it records what it will
 * create (dropped on revert) and saves what it will change (restored on
 * revert): a pre-existing unified table's rows of the migrated tenants, its
 * indexes, policies, RLS flags, tenant-column default and sequence values.
 */
export type SnapshotEntry =
  | { kind: 'created_table'; object: string; detail: { table: string } }
  | { kind: 'created_type'; object: string; detail: { type: string } }
  | {
      kind: 'existing_table';
      object: string;
      detail: {
        table: string;
        rowsTable: string;
        columns: string[];
        tenantIds: string[];
        tenantType: string;
        rlsEnabled: boolean;
        rlsForced: boolean;
        policies: string[];
        indexes: string[];
        tenantDefault: string | null;
      };
    }
  | {
      kind: 'existing_sequence';
      object: string;
      /** floor: a merged shared table's id sequence never goes back below the ids that stay in it (rows the application added since). */
      detail: { sequence: string; lastValue: string | null; isCalled: boolean; floor?: { table: string; column: string } };
    }
  /** A shared table tenant rows are merged into: revert deletes exactly the rows the run added (recorded in its mapping). */
  | { kind: 'merged_table'; object: string; detail: { schema: string; table: string; idColumn: string; idType: string; mapTable: string } };

/**
 * What revert must undo, derived from what the steps declare they do
 * (Step.effects), once each, in plan order: a phase that declares its effects
 * cannot be forgotten by revert. Pure: the planner's unit tests read it.
 */
export function revertScope(plan: Pick<Plan, 'steps'>): Effect[] {
  const seen = new Set<string>();
  const out: Effect[] = [];
  for (const e of plan.steps.flatMap((st) => st.effects ?? [])) {
    const key = e.kind === 'changes-table' ? `t:${e.table}` : `${e.kind}:${e.object}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out;
}

export async function takeSnapshot(db: Queryable, runId: number, plan: Plan): Promise<SnapshotEntry[]> {
  const schema = plan.targetSchema;
  const entries: SnapshotEntry[] = [];
  let n = 0;
  for (const e of revertScope(plan)) {
    if (e.kind === 'creates-type') {
      entries.push({ kind: 'created_type', object: e.object, detail: { type: e.object } });
      continue;
    }
    if (e.kind === 'creates-table') {
      entries.push({ kind: 'created_table', object: e.object, detail: { table: e.object } });
      continue;
    }
    const t = plan.tables.find((x) => x.target === e.table)!;
    const was = t.existing!;
    const qualified = ident(schema, t.target);
    const rowsTable = `snap_${runId}_${++n}`;
    // The owner is hidden from the rows by FORCE: lifted here, in the run's first transaction, put back by the rls phase.
    if (t.liftForce) await db.query(`ALTER TABLE ${qualified} NO FORCE ROW LEVEL SECURITY`);
    const tenantIds = tenantsAmong(plan, t.tenants).map((x) => x.tenantId);
    await db.query(`CREATE TABLE oasys_migrate.${ident(rowsTable)} (LIKE ${qualified})`);
    await db.query(
      `INSERT INTO oasys_migrate.${ident(rowsTable)} (${identList(was.columns)}) SELECT ${identList(was.columns)} FROM ${qualified} WHERE ${ident(plan.tenantColumn)} = ANY($1::${t.tenantColumnType}[])`,
      [tenantIds],
    );
    await db.query(
      `COMMENT ON TABLE oasys_migrate.${ident(rowsTable)} IS ${literal(`oasys-migrate run ${runId}: rows of ${qualified} saved before the run, restored by revert`)}`,
    );
    entries.push({
      kind: 'existing_table',
      object: qualified,
      detail: {
        table: t.target,
        rowsTable,
        columns: was.columns,
        tenantIds,
        tenantType: t.tenantColumnType,
        rlsEnabled: was.rlsEnabled,
        rlsForced: was.rlsForced,
        policies: was.policies,
        indexes: was.indexes,
        tenantDefault: was.tenantDefault,
      },
    });
    // Every sequence the table's columns use — the copied ones and the table's own extra ones
    // (a surrogate serial also advances when rows go in, and diagnosis probes advance it too).
    const seqs = await db.query<{ seq: string; last: string; called: boolean }>(
      `SELECT q.seq, COALESCE(pg_catalog.pg_sequence_last_value(q.seq::regclass), ps.seqstart)::text AS last,
              pg_catalog.pg_sequence_last_value(q.seq::regclass) IS NOT NULL AS called
         FROM (SELECT DISTINCT pg_catalog.pg_get_serial_sequence($1, c) AS seq FROM unnest($2::text[]) AS c) q
         JOIN pg_catalog.pg_sequence ps ON ps.seqrelid = q.seq::regclass
        WHERE q.seq IS NOT NULL`,
      [qualified, was.columns],
    );
    for (const x of seqs.rows) {
      entries.push({ kind: 'existing_sequence', object: x.seq, detail: { sequence: x.seq, lastValue: x.last, isCalled: x.called } });
    }
  }
  entries.push(...(await mergedEntries(db, plan)));
  await db.query(
    `INSERT INTO oasys_migrate.snapshot (run_id, ordinal, kind, object, detail)
     SELECT $1, o - 1, k, obj, d::jsonb FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS s(k, obj, d, o)`,
    [runId, entries.map((e) => e.kind), entries.map((e) => e.object), entries.map((e) => JSON.stringify(e.detail))],
  );
  return entries;
}

export async function loadSnapshot(db: Queryable, runId: number): Promise<SnapshotEntry[]> {
  const r = await db.query<{ kind: SnapshotEntry['kind']; object: string; detail: never }>(
    'SELECT kind, object, detail FROM oasys_migrate.snapshot WHERE run_id = $1 ORDER BY ordinal',
    [runId],
  );
  return r.rows.map((x) => ({ kind: x.kind, object: x.object, detail: x.detail }) as SnapshotEntry);
}

/**
 * Puts the target back as the snapshot found it, in the caller's transaction:
 * all of it or none of it. Statements are written to be harmless when an
 * object was never created (a run that stopped early).
 */
export async function restoreSnapshot(db: Queryable, runId: number, tenantColumn: string): Promise<string[]> {
  const entries = await loadSnapshot(db, runId);
  const done: string[] = [];
  const reforce: string[] = [];
  for (const e of entries) {
    if (e.kind !== 'existing_table') continue;
    const t = e.object;
    const d = e.detail;
    const now = await db.query<{ relrowsecurity: boolean; relforcerowsecurity: boolean }>(
      `SELECT relrowsecurity, relforcerowsecurity FROM pg_catalog.pg_class WHERE oid = $1::regclass`,
      [t],
    );
    const pols = await db.query<{ polname: string }>(`SELECT polname FROM pg_catalog.pg_policy WHERE polrelid = $1::regclass`, [t]);
    for (const p of pols.rows) if (!d.policies.includes(p.polname)) await db.query(`DROP POLICY ${ident(p.polname)} ON ${t}`);
    const idx = await db.query<{ name: string; schema: string }>(
      `SELECT c.relname AS name, n.nspname AS schema
         FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE i.indrelid = $1::regclass`,
      [t],
    );
    // An index lives in its table's schema: drop it there, by the name the catalog gives.
    for (const i of idx.rows) if (!d.indexes.includes(i.name)) await db.query(`DROP INDEX ${ident(i.schema, i.name)}`);
    if (now.rows[0].relrowsecurity !== d.rlsEnabled) await db.query(`ALTER TABLE ${t} ${d.rlsEnabled ? 'ENABLE' : 'DISABLE'} ROW LEVEL SECURITY`);
    // A forced policy would hide the rows to delete from an owner without BYPASSRLS: FORCE goes back on after.
    if (now.rows[0].relforcerowsecurity) await db.query(`ALTER TABLE ${t} NO FORCE ROW LEVEL SECURITY`);
    await db.query(`ALTER TABLE ${t} ALTER COLUMN ${ident(tenantColumn)} ${d.tenantDefault ? `SET DEFAULT ${d.tenantDefault}` : 'DROP DEFAULT'}`);
    await db.query(`DELETE FROM ${t} WHERE ${ident(tenantColumn)} = ANY($1::${d.tenantType}[])`, [d.tenantIds]);
    await db.query(
      `INSERT INTO ${t} (${identList(d.columns)}) OVERRIDING SYSTEM VALUE SELECT ${identList(d.columns)} FROM oasys_migrate.${ident(d.rowsTable)}`,
    );
    if (d.rlsForced) reforce.push(t);
    done.push(`restored ${t}`);
  }
  if (reforce.length > 0) {
    // ALTER TABLE refuses while deferred foreign-key checks of the rows just restored are pending: run them now.
    await db.query('SET CONSTRAINTS ALL IMMEDIATE');
    for (const t of reforce) await db.query(`ALTER TABLE ${t} FORCE ROW LEVEL SECURITY`);
  }
  for (const e of entries) {
    if (e.kind !== 'existing_sequence') continue;
    if (e.detail.lastValue !== null) {
      await db.query(`SELECT pg_catalog.setval($1::regclass, $2::int8, $3)`, [e.detail.sequence, e.detail.lastValue, e.detail.isCalled]);
      done.push(`restored sequence ${e.object}`);
    }
  }
  // The tables the run created, all in one statement (their foreign keys to each other go with
  // them) and without CASCADE: an object someone built on them since (a view) stops the revert
  // with its name instead of vanishing. A table of that name that is not the run's is left alone.
  const created = entries.filter((e) => e.kind === 'created_table').map((e) => e.object);
  if (created.length > 0) {
    const found = await db.query<{ t: string; comment: string | null }>(
      `SELECT t, pg_catalog.obj_description(pg_catalog.to_regclass(t), 'pg_class') AS comment
         FROM unnest($1::text[]) AS t WHERE pg_catalog.to_regclass(t) IS NOT NULL`,
      [created],
    );
    const ours = found.rows.filter((r) => (r.comment ?? '').startsWith(CREATED_BY_MARK)).map((r) => r.t);
    for (const r of found.rows.filter((x) => !ours.includes(x.t))) {
      throw new WantingError(
        `revert stopped: ${r.t} exists but was not created by this run (its comment does not say so); nothing was changed`,
        'revert leaves tables it did not create alone: rename or drop it by hand if it is a leftover, then revert again',
      );
    }
    if (ours.length > 0) await db.query(`DROP TABLE ${ours.join(', ')}`);
    for (const t of ours) done.push(`dropped ${t}`);
  }
  // Rows the run added to shared tables, after the unified tables that referred to them are gone; dependents first.
  for (const e of [...entries].reverse()) {
    if (e.kind !== 'merged_table') continue;
    const n = await unmerge(db, runId, e.detail);
    done.push(`deleted ${n} row${n === 1 ? '' : 's'} the run added to ${e.object}`);
  }
  // A shared table's sequence was put back above; rows the application added since the run stay, and
  // the sequence must not hand out their ids again.
  for (const e of entries) {
    if (e.kind !== 'existing_sequence' || !e.detail.floor || e.detail.lastValue === null) continue;
    const { table, column } = e.detail.floor;
    await db.query(
      `SELECT pg_catalog.setval($1::regclass, m.max_value, true) FROM (SELECT max(${ident(column)})::int8 AS max_value FROM ${table}) m WHERE m.max_value > $2::int8`,
      [e.detail.sequence, e.detail.lastValue],
    );
  }
  for (const e of [...entries].reverse()) {
    if (e.kind === 'created_type') {
      await db.query(`DROP TYPE IF EXISTS ${e.object}`);
      done.push(`dropped type ${e.object}`);
    }
  }
  for (const e of entries) {
    if (e.kind === 'existing_table') await db.query(`DROP TABLE IF EXISTS oasys_migrate.${ident(e.detail.rowsTable)}`);
  }
  return done;
}

/**
 * The merged tables (in dependency order) and, for a shared table that exists before the run,
 * its id sequence: adding rows advances it, and revert puts it back.
 */
async function mergedEntries(db: Queryable, plan: Plan): Promise<SnapshotEntry[]> {
  const out: SnapshotEntry[] = [];
  for (const m of plan.merges ?? []) {
    const object = ident(m.sharedSchema, m.table);
    out.push({
      kind: 'merged_table',
      object,
      detail: { schema: m.sharedSchema, table: m.table, idColumn: m.idColumn, idType: m.idType, mapTable: m.mapTable },
    });
    // A shared table the run copies into a separate target does not exist yet: it is dropped whole by revert.
    const exists = await db.query<{ ok: boolean }>('SELECT pg_catalog.to_regclass($1) IS NOT NULL AS ok', [object]);
    if (!exists.rows[0].ok) continue;
    const seq = await db.query<{ seq: string; last: string; called: boolean }>(
      `SELECT q.seq, COALESCE(pg_catalog.pg_sequence_last_value(q.seq::regclass), ps.seqstart)::text AS last,
              pg_catalog.pg_sequence_last_value(q.seq::regclass) IS NOT NULL AS called
         FROM (SELECT pg_catalog.pg_get_serial_sequence($1, $2) AS seq) q
         JOIN pg_catalog.pg_sequence ps ON ps.seqrelid = q.seq::regclass`,
      [object, m.idColumn],
    );
    for (const x of seq.rows) {
      out.push({
        kind: 'existing_sequence',
        object: x.seq,
        detail: { sequence: x.seq, lastValue: x.last, isCalled: x.called, floor: { table: object, column: m.idColumn } },
      });
    }
  }
  return out;
}
