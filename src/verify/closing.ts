import type pg from 'pg';
import { ident } from '../db/ident.js';
import { copyStepId, sourceRelation, type CopyStep, type Plan, type UnifiedTable } from '../plan/model.js';
import { copiedColumns, insertHead, rangeWhere, selectExpression } from '../plan/copySql.js';
import { withTransaction } from '../db/connect.js';
import { Pinned, type ReadBy } from '../db/warm.js';
import { snapshotLimits, unseenSql } from './unseen.js';
import { mergeMap } from '../plan/merge.js';
import { rowHashSql, sourceChecksums, sourceSql, verifyPlan, type VerifyOptions, type VerifyReport, type VerifyResult } from './checksum.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * run's closing verification reads the source's rows without hashing them again. Each copy
 * computes its source rows' count and checksum in its own statement — the same definition as
 * `verify` (sourceSql, the source values as read from the tenant schema, not what was inserted,
 * so a wrong column mapping still differs), under the snapshot the rows were copied from — and
 * journals them with its step (step.source_checksum). The closing verification then hashes only
 * the target. What it still reads of the source is a scan without hashing: each (tenant, table)'s
 * count and its rows that the copy's snapshot could not see, so a source written after its copy
 * is found as before (those pairs are hashed again in full). Standalone `verify` reads both sides.
 */

/**
 * The count and checksum of the copied tenants' source rows ($<first + i> = the i-th schema),
 * or undefined where the copy translates columns (merged lookup tables: verified as before).
 */
export function copyChecksumSql(plan: Pick<Plan, 'merges'>, t: UnifiedTable, copies: Pick<CopyStep, 'tenant' | 'range'>[], first: number): string | undefined {
  if (t.translations?.length) return undefined;
  return sourceSql(
    t,
    copies.map((c) => c.tenant),
    mergeMap(plan.merges),
    first,
    copies.length === 1 ? rangeWhere(copies[0].range, 's') : '',
  );
}

/** Below this many estimated rows a batch of tenants is read once (batchCopySql), above it twice. */
export const ONE_SCAN_ROWS = 5_000;

/**
 * Many small tenants of `t` copied and counted and hashed in one statement that reads each
 * source table once ($1..$n: tenant ids, $n+1..$2n: schemas): the rows are kept (a materialized
 * CTE, in memory at this size), inserted from there and hashed from there — the source values
 * as read, as sourceSql defines them, so a wrong column mapping still differs. At 50,000 tenants
 * opening each of 250,000 small tables once instead of twice is a third off a batch's time.
 * Undefined where the copy translates columns, or a source column has one of the names it adds.
 */
export function batchCopySql(
  plan: Pick<Plan, 'targetSchema' | 'tenantColumn'>,
  t: UnifiedTable,
  copies: Pick<CopyStep, 'tenant' | 'range'>[],
): string | undefined {
  const cols = copiedColumns(t);
  if (t.translations?.length || copies.some((c) => c.range) || cols.some((c) => c.name === SCHEMA_COLUMN || c.name === TENANT_COLUMN)) return undefined;
  const n = copies.length;
  // A type of the tenant's own schema is another type in each tenant (acme.mood, globex.mood): kept
  // as its text, which is what the insert casts to the unified type and what the hash reads anyway.
  const kept = cols.map((x) => (x.castViaText ? `s.${ident(x.name)}::text AS ${ident(x.name)}` : `s.${ident(x.name)}`)).join(', ');
  const rows = copies
    .map(
      (c, i) =>
        `SELECT $${n + i + 1}::text AS ${SCHEMA_COLUMN}, $${i + 1}::${t.tenantColumnType} AS ${TENANT_COLUMN}, ${kept} FROM ${sourceRelation(ident(c.tenant, t.source), t.partitioned)} AS s`,
    )
    .join('\nUNION ALL\n');
  const insert = `${insertHead(plan, t)}\nSELECT s.${TENANT_COLUMN}, ${cols.map(selectExpression).join(', ')} FROM src AS s`;
  return `WITH src AS MATERIALIZED (${rows}),
ins AS (${insert})
SELECT s.${SCHEMA_COLUMN} AS schema, count(*)::int8 AS n, COALESCE(sum(${rowHashSql(t, 's')}), 0)::text AS h FROM src AS s GROUP BY 1`;
}

const SCHEMA_COLUMN = 'oasys_migrate_schema';
const TENANT_COLUMN = 'oasys_migrate_tenant';

interface Journaled {
  n: number;
  h: string;
  snapshot: string;
  /** A whale's chunks, each with its own count and checksum (undefined for a pair copied by one plain step). */
  chunks: { stepId: string; n: number; h: string }[] | undefined;
}

const key = (schema: string, table: string) => `${schema}\u0000${table}`;

/**
 * The source counts and checksums the run's copies of one unified table journaled, per tenant
 * schema: a whale's chunks add up (the checksum is a sum of row hashes), under the oldest of their
 * snapshots. A pair with any step lacking them (an older version's, a recopy's) is left out: its
 * source is hashed. One table at a time, in pages: all 250,000 pairs of 50,000 tenants at once
 * were most of run's peak memory.
 */
export async function journaledChecksums(target: Queryable, runId: number, table: string): Promise<Map<string, Journaled>> {
  const out = new Map<string, Journaled | null>();
  const xmax = (s: string) => BigInt(s.split(':')[1]);
  // A batch's steps share one snapshot: one string of each is kept.
  const snapshots = new Map<string, string>();
  for (let after = ''; ;) {
    const r = await target.query<{
      step_id: string;
      tenant: string;
      rows: string;
      source_checksum: string | null;
      source_snapshot: string | null;
    }>(
      `SELECT step_id, tenant, rows::text AS rows, source_checksum, source_snapshot FROM oasys_migrate.step
        WHERE run_id = $1 AND table_name = $2 AND step_id > $3 AND phase = 'copy' AND state = 'done' AND tenant IS NOT NULL
        ORDER BY step_id LIMIT ${JOURNAL_PAGE}`,
      [runId, table, after],
    );
    for (const x of r.rows) {
      const cur = out.get(x.tenant);
      if (cur === null) continue;
      if (x.source_checksum === null || x.source_snapshot === null) {
        out.set(x.tenant, null);
        continue;
      }
      let snapshot = snapshots.get(x.source_snapshot);
      if (snapshot === undefined) snapshots.set(x.source_snapshot, (snapshot = x.source_snapshot));
      // Only a chunk's id is kept: a plain copy step's is said by its tenant and table.
      const chunk = x.step_id === copyStepId(x.tenant, table) ? undefined : { stepId: x.step_id, n: Number(x.rows), h: x.source_checksum };
      if (cur === undefined) {
        out.set(x.tenant, { n: Number(x.rows), h: x.source_checksum, snapshot, chunks: chunk && [chunk] });
        continue;
      }
      out.set(x.tenant, {
        n: cur.n + Number(x.rows),
        h: (BigInt(cur.h) + BigInt(x.source_checksum)).toString(),
        snapshot: xmax(snapshot) < xmax(cur.snapshot) ? snapshot : cur.snapshot,
        chunks: chunk ? [...(cur.chunks ?? []), chunk] : cur.chunks,
      });
    }
    if (r.rows.length < JOURNAL_PAGE) break;
    after = r.rows[r.rows.length - 1].step_id;
  }
  for (const [schema, j] of out) if (j === null) out.delete(schema);
  return out as Map<string, Journaled>;
}

const JOURNAL_PAGE = 5_000;

/**
 * The schemas of `t` whose source rows differ from what their copy saw: another count, or a
 * row version the copy's snapshot could not see (inserted or updated after it). One UNION ALL
 * per call, two or three parameters per schema.
 */
async function changedSinceCopy(inTransaction: InTransaction, t: UnifiedTable, part: { schema: string; j: Journaled }[]): Promise<Set<string>> {
  // The snapshots' ages are read first, in the same transaction, and bound as numbers: a sub-select
  // in each branch cost as much to plan as opening the table (200 tables never opened by the
  // connection: 36 ms instead of 65).
  return inTransaction(async (client) => {
    const xmaxes = [...new Set(part.map(({ j }) => snapshotLimits(j.snapshot).xmax))];
    const ages = await client.query<{ x: string; a: number }>('SELECT x, pg_catalog.age(x::xid) AS a FROM unnest($1::text[]) AS x', [xmaxes]);
    const params: unknown[] = [];
    const ageParam = new Map<string, number>();
    for (const r of ages.rows) ageParam.set(r.x, params.push(r.a));
    const sql = part
      .map(({ schema, j }) => {
        const { xmax, inProgress } = snapshotLimits(j.snapshot);
        const s = params.push(schema);
        const unseen = unseenSql('s', `$${ageParam.get(xmax)}::int4`, inProgress.length > 0 ? `$${params.push(inProgress)}` : undefined);
        return `SELECT $${s}::text AS schema, count(*)::int8 AS n, count(*) FILTER (WHERE ${unseen})::int8 AS changed
         FROM ${sourceRelation(ident(schema, t.source), t.partitioned)} AS s`;
      })
      .join('\nUNION ALL\n');
    const r = await client.query<{ schema: string; n: string; changed: string }>(sql, params);
    const byName = new Map(part.map((x) => [x.schema, x.j]));
    return new Set(r.rows.filter((x) => Number(x.changed) > 0 || Number(x.n) !== byName.get(x.schema)!.n).map((x) => x.schema));
  });
}

type InTransaction = <T>(fn: (client: pg.ClientBase) => Promise<T>) => Promise<T>;

/**
 * The verification that ends `run`: the target hashed, the source's checksums from the journal where the copies left them.
 * With `readBy` (which connection copied which tables), each source table is scanned again on the connection that copied it.
 */
export async function closingVerify(
  o: VerifyOptions & {
    runId: number;
    plan: Plan;
    readBy?: ReadBy;
    /** Called once per source scan: whether it ran on the connection that copied its tables. */
    onSourceScan?: (onCopyingConnection: boolean) => void;
  },
): Promise<VerifyReport> {
  // Per unified table, read when its first tenants are verified; each pair's entry is dropped once used.
  const journals = new Map<string, Promise<Map<string, Journaled>>>();
  // Whales' pairs whose source checksum came from the journal: which chunk differs, if the pair does.
  const chunked = new Map<string, Journaled>();
  const merges = mergeMap(o.plan.merges);
  // As many as the steps ran on, leaving the pool as many for the target's side.
  const pinned = o.readBy ? await Pinned.take(o.source, o.readBy.pids(), { most: o.concurrency, leave: o.concurrency }) : undefined;
  let report: VerifyReport;
  try {
    report = await verifyPlan({
      ...o,
      parts: pinned?.size ? (t, schemas, size) => o.readBy!.parts(t.target, schemas, size) : undefined,
      sourceRows: async (t, schemas, via) => {
        let journal = journals.get(t.target);
        if (journal === undefined) journals.set(t.target, (journal = journaledChecksums(o.target, o.runId, t.target)));
        const journaled = await journal;
        const known: { schema: string; j: Journaled }[] = [];
        for (const schema of schemas) {
          const j = journaled.get(schema);
          if (j === undefined) continue;
          known.push({ schema, j });
          journaled.delete(schema);
        }
        if (journaled.size === 0) journals.delete(t.target);
        const inTransaction: InTransaction = async (fn) => {
          const pool = () => withTransaction(o.source, fn, { readOnly: true });
          const warm = pinned?.inTransaction(via ?? 0, fn);
          o.onSourceScan?.(warm !== undefined);
          if (warm === undefined) return pool();
          // A connection that broke while it waited here: the scan is read-only, so it is simply run again.
          return warm.catch((err: unknown) => (pinned!.broke(via ?? 0) ? pool() : Promise.reject(err)));
        };
        const changed = known.length > 0 ? await changedSinceCopy(inTransaction, t, known) : new Set<string>();
        const fromJournal = known.filter((k) => !changed.has(k.schema));
        const settled = new Set<string>();
        for (const k of fromJournal) {
          settled.add(k.schema);
          if (k.j.chunks) chunked.set(key(k.schema, t.target), k.j);
        }
        const fresh = schemas.filter((s) => !settled.has(s));
        const rows = fromJournal.map(({ schema, j }) => ({ schema, n: String(j.n), h: j.h }));
        if (fresh.length > 0) rows.push(...(await sourceChecksums(o.source, t, fresh, merges)));
        return rows;
      },
    });
  } finally {
    await pinned?.release();
  }
  // A whale that differs: which of its chunks (the same key range on the target side).
  for (const r of report.results) {
    const j = r.ok ? undefined : chunked.get(key(r.tenant, r.table));
    if (j) r.chunks = await differingChunks(o.target, o.plan, r, j);
  }
  return report;
}

async function differingChunks(target: pg.Pool, plan: Plan, r: VerifyResult, j: Journaled): Promise<NonNullable<VerifyResult['chunks']>> {
  const t = plan.tables.find((x) => x.target === r.table)!;
  const byId = new Map(plan.steps.filter((s) => s.copy?.range).map((s) => [s.id, s.copy!.range!]));
  const out: NonNullable<VerifyResult['chunks']> = [];
  for (const c of j.chunks ?? []) {
    const range = byId.get(c.stepId);
    if (!range) continue;
    const where = rangeWhere(range, 't').replace(' WHERE ', ' AND ');
    // As the tenant: a FORCEd policy shows an owner without BYPASSRLS that tenant's rows.
    const x = await withTransaction(
      target,
      async (client) => {
        await client.query('SELECT pg_catalog.set_config($1, $2, true)', [plan.rls.setting, r.tenantId]);
        return (
          await client.query<{ n: string; h: string }>(
            `SELECT count(*)::int8 AS n, COALESCE(sum(${rowHashSql(t, 't')}), 0)::text AS h FROM ${ident(plan.targetSchema, t.target)} AS t
              WHERE t.${ident(plan.tenantColumn)} = $1::${t.tenantColumnType}${where}`,
            [r.tenantId],
          )
        ).rows[0];
      },
      { readOnly: true },
    );
    if (Number(x.n) !== c.n || x.h !== c.h) out.push({ chunk: range.chunk, sourceRows: c.n, targetRows: Number(x.n) });
  }
  return out;
}
