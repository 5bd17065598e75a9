import type pg from 'pg';
import type { Plan } from '../plan/model.js';
import { slotLag, type SlotLag } from './slot.js';
import { onlineOf, type OnlineRow } from './state.js';
import { fenceContent } from './follow.js';

/**
 * The fence: a transactional message in the source's WAL, after the application's writes stopped.
 * Everything committed before it is applied when the follower reaches it. Flushed at once
 * (synchronous_commit on for this one transaction): decoding reads only flushed WAL.
 */
export async function emitFence(source: pg.Pool, runId: number): Promise<string> {
  const c = await source.connect();
  try {
    await c.query('BEGIN');
    await c.query('SET LOCAL synchronous_commit = on');
    const r = await c.query<{ lsn: string }>(`SELECT pg_catalog.pg_logical_emit_message(true, 'oasys_migrate', $1)::text AS lsn`, [fenceContent(runId)]);
    await c.query('COMMIT');
    return r.rows[0].lsn;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

export interface OnlineStatus {
  slot: string;
  /** The slot is on the source (null: it could not be read). */
  slotPresent: boolean;
  lag?: SlotLag;
  /** How old the last applied source transaction was when it was applied (0 when the follower had caught up). */
  lagSeconds: number | null;
  lagAt: Date | null;
  appliedLsn: string | null;
  changesApplied: number;
  tenantsChanged: number;
  fenceLsn: string | null;
  cutoverAt: Date | null;
}

/** `status` for an online run: the slot's lag in bytes (live, from the source) and in seconds (as last journaled). */
export async function onlineStatus(source: pg.Pool, target: pg.Pool, runId: number): Promise<OnlineStatus | undefined> {
  const row: OnlineRow | undefined = await onlineOf(target, runId);
  if (!row) return undefined;
  const lag = await slotLag(source, row.slot);
  return {
    slot: row.slot,
    slotPresent: lag !== undefined,
    lag,
    lagSeconds: row.lagSeconds,
    lagAt: row.lagAt,
    appliedLsn: row.appliedLsn,
    changesApplied: row.changesApplied,
    tenantsChanged: row.tenantsChanged.length,
    fenceLsn: row.fenceLsn,
    cutoverAt: row.cutoverAt,
  };
}

/**
 * The plan narrowed to what the cut-over verifies: each unified table with only the changed
 * tenants that had changes applied to it, and the frozen tables (copied again, never followed)
 * of every changed tenant. Unchanged pairs were verified by the copy and nothing wrote to them.
 * `pairs` null (journaled by an earlier version): every table of the changed tenants.
 */
export function changedScope(plan: Plan, tenants: string[], pairs: string[] | null): Plan {
  const changed = new Set(tenants);
  if (pairs === null) return plan;
  const byTable = new Map<string, Set<string>>();
  for (const p of pairs) {
    const [tenant, table] = JSON.parse(p) as [string, string];
    let set = byTable.get(table);
    if (!set) byTable.set(table, (set = new Set()));
    set.add(tenant);
  }
  const tables = plan.tables.flatMap((t) => {
    const only = t.tenants.filter((s) => (t.sourceKey?.length ? byTable.get(t.target)?.has(s) : changed.has(s)));
    return only.length > 0 ? [{ ...t, tenants: only }] : [];
  });
  return { ...plan, tables };
}
