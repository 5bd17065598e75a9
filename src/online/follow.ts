import type pg from 'pg';
import { InterruptedError, isNetworkError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Plan } from '../plan/model.js';
import { applyTxns, Router, type SourceTxn } from './apply.js';
import { parseChange, type Change } from './decode.js';
import { ensureOnlineState, journalApplied, onlineOf, setLag } from './state.js';

export interface FollowOptions {
  source: pg.Pool;
  target: pg.Pool;
  runId: number;
  plan: Plan;
  slot: string;
  log: Logger;
  stop?: { stopping: boolean };
  /** 'caught-up': return once a read finds nothing left to apply; 'fence': return once this run's fence is applied. */
  until: 'caught-up' | 'fence';
  /** Decoded rows read per round (whole transactions: a round may return more). */
  chunk?: number;
  /** Changes per target transaction (several source transactions share one). */
  batchChanges?: number;
  onBatch?: (b: { changes: number; txns: number; lagSeconds: number }) => void;
}

export interface FollowResult {
  changes: number;
  txns: number;
  seconds: number;
  fence: boolean;
}

export function fenceContent(runId: number): string {
  return `fence of run ${runId}`;
}

/**
 * Reads the slot's changes with pg_logical_slot_peek_changes (nothing is consumed by reading),
 * applies whole source transactions in commit order, several per target transaction together
 * with the applied position (oasys_migrate.online.applied_lsn), and only after that commit
 * advances the slot. A kill at any moment leaves the position journaled with exactly the
 * changes it covers: transactions at or before it are skipped when the same changes are read again.
 */
export async function follow(o: FollowOptions): Promise<FollowResult> {
  const started = performance.now();
  const router = new Router(o.plan);
  // A run journaled by an earlier version gets the columns this one journals.
  await ensureOnlineState(o.target);
  const fence = fenceContent(o.runId);
  const chunk = o.chunk ?? 100_000;
  const batchChanges = o.batchChanges ?? 5_000;
  let changes = 0;
  let txnsApplied = 0;
  let fenceSeen = (await onlineOf(o.target, o.runId))?.fenceApplied === true;
  let idle = 0;
  let caughtUp = false;
  for (;;) {
    if (o.until === 'fence' && fenceSeen) break;
    if (o.stop?.stopping)
      throw new InterruptedError('interrupted while following; the replication slot stays and `oasys-migrate cutover` resumes from the applied position');
    const applied = (await onlineOf(o.target, o.runId))?.appliedLsn ?? '0/0';
    const read0 = performance.now();
    const { txns, lastLsn, total } = await peek(o.source, o.slot, o.plan, chunk);
    const readSeconds = (performance.now() - read0) / 1000;
    // Transactions with nothing for the unified tables (other schemas, the copy's own writes) only move the position.
    const pending = txns.filter((t) => t.changes.length > 0 && lsnGreater(t.lsn, applied));
    // Whole transactions per target transaction, up to batchChanges changes (a bigger one goes alone).
    for (let i = 0; i < pending.length && !(o.until === 'fence' && fenceSeen);) {
      const batch: SourceTxn[] = [];
      let n = 0;
      while (i < pending.length && (batch.length === 0 || n + pending[i].changes.length <= batchChanges)) {
        n += pending[i].changes.length;
        batch.push(pending[i++]);
      }
      const last = batch[batch.length - 1];
      const lagSeconds = last.at ? Math.max(0, (Date.now() - Date.parse(last.at)) / 1000) : 0;
      const result = await inTransaction(o.target, async (c) => {
        const r = await applyTxns(c, router, batch, fence);
        await journalApplied(c, o.runId, last.lsn, r.changes, [...r.tenants], r.fence, lagSeconds, [...r.pairs]);
        return r;
      });
      await advance(o.source, o.slot, last.lsn);
      changes += result.changes;
      txnsApplied += batch.length;
      o.onBatch?.({ changes: result.changes, txns: batch.length, lagSeconds });
      if (result.fence) fenceSeen = true;
    }
    o.log.debug(
      `online: read ${total} decoded rows (${pending.length} transactions to apply) in ${readSeconds.toFixed(2)} s, applied them in ${((performance.now() - read0) / 1000 - readSeconds).toFixed(2)} s`,
    );
    if (o.until === 'fence' && fenceSeen) break;
    if (lastLsn) await advance(o.source, o.slot, lastLsn);
    // The read reached the end of the WAL written so far: caught up (within one round's changes).
    if (total < chunk) {
      if (pending.length === 0) {
        if (!caughtUp) await setLag(o.target, o.runId, 0);
        caughtUp = true;
      }
      if (o.until === 'caught-up') break;
      // Waiting for the fence: it is flushed at once, but the source may be a moment behind.
      if (pending.length === 0) await sleep(Math.min(200, 20 * ++idle));
      else idle = 0;
    }
  }
  return { changes, txns: txnsApplied, seconds: (performance.now() - started) / 1000, fence: fenceSeen };
}

/**
 * The next decoded transactions. In place, rows of the target schema and of the tool's state are
 * dropped in the server (the run decodes its own copy): their BEGIN/COMMIT still move the position.
 */
async function peek(source: pg.Pool, slot: string, plan: Plan, chunk: number): Promise<{ txns: SourceTxn[]; lastLsn?: string; total: number }> {
  const r = await source.query<{ lsn: string | null; data: string }>(
    `WITH p AS MATERIALIZED (
       SELECT lsn, data FROM pg_catalog.pg_logical_slot_peek_changes($1, NULL, $2,
              'include-xids', '1', 'skip-empty-xacts', '1', 'include-timestamp', '1'))
     SELECT NULL AS lsn, pg_catalog.count(*)::text AS data FROM p
     UNION ALL
     SELECT lsn::text, data FROM p
      WHERE ($3::text IS NULL OR NOT pg_catalog.starts_with(data, 'table ' || pg_catalog.quote_ident($3) || '.'))
        AND NOT pg_catalog.starts_with(data, 'table oasys_migrate.')`,
    // Into a separate target, the source's schema of that name holds the shared tables: kept (Router).
    [slot, chunk, plan.sameDatabase ? plan.targetSchema : null],
  );
  const txns: SourceTxn[] = [];
  let open: { xid: string; changes: Change[] } | undefined;
  let lastLsn: string | undefined;
  let total = 0;
  for (const row of r.rows) {
    if (row.lsn === null) {
      total = Number(row.data);
      continue;
    }
    if (row.data.startsWith('BEGIN ')) {
      open = { xid: row.data.slice(6).trim(), changes: [] };
      continue;
    }
    if (row.data.startsWith('COMMIT ')) {
      if (open) {
        const at = /\(at (.+)\)$/.exec(row.data)?.[1];
        txns.push({ xid: open.xid, lsn: row.lsn, at: at ? at.replace(' ', 'T').replace(/\+00$/, 'Z') : undefined, changes: open.changes });
      }
      lastLsn = row.lsn;
      open = undefined;
      continue;
    }
    // A change outside BEGIN … COMMIT is a non-transactional message: nothing to apply.
    if (open) open.changes.push(parseChange(row.data));
  }
  return { txns, lastLsn, total };
}

/** Moves the slot forward (never back): the source may then recycle the WAL before `lsn`. */
async function advance(source: pg.Pool, slot: string, lsn: string): Promise<void> {
  await source.query(
    `SELECT pg_catalog.pg_replication_slot_advance(slot_name, $2::pg_lsn) FROM pg_catalog.pg_replication_slots
      WHERE slot_name = $1 AND database = pg_catalog.current_database() AND confirmed_flush_lsn < $2::pg_lsn`,
    [slot, lsn],
  );
}

export function lsnGreater(a: string, b: string): boolean {
  return lsnValue(a) > lsnValue(b);
}

function lsnValue(l: string): bigint {
  const [hi, lo] = l.split('/');
  return (BigInt(parseInt(hi, 16)) << 32n) + BigInt(parseInt(lo, 16));
}

async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken = false;
  try {
    await c.query('BEGIN');
    try {
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (err) {
      broken = isNetworkError(err);
      await c.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    }
  } finally {
    c.release(broken);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
