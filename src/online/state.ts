import type pg from 'pg';
import { sqlFile } from '../db/sqlFiles.js';
import { slotNameFor } from './slot.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

export interface OnlineRow {
  runId: number;
  slot: string;
  consistentPoint: string | null;
  appliedLsn: string | null;
  changesApplied: number;
  tenantsChanged: string[];
  /** JSON [tenant schema, unified table] pairs with applied changes; null: not known (every table of tenantsChanged). */
  pairsChanged: string[] | null;
  /** Per pair: the end of the last applied source transaction that changed it (null: not journaled by this version). */
  pairLsns: Record<string, string> | null;
  preverifiedLsn: string | null;
  preverifiedPairs: string[];
  fenceLsn: string | null;
  fenceApplied: boolean;
  writesStoppedAt: Date | null;
  cutoverAt: Date | null;
  slotDroppedAt: Date | null;
  lagSeconds: number | null;
  lagAt: Date | null;
}

/** The online table (after the state schema it extends). */
export async function ensureOnlineState(db: Queryable): Promise<void> {
  await db.query(sqlFile('state/online'));
}

/** In the transaction that records the run: from then on it is an online run, whatever the flags of a resume. */
export async function recordOnlineRun(db: Queryable, runId: number, source: Queryable): Promise<void> {
  await ensureOnlineState(db);
  await db.query(`INSERT INTO oasys_migrate.online (run_id, slot, pairs_changed) VALUES ($1, $2, '{}') ON CONFLICT (run_id) DO NOTHING`, [
    runId,
    await slotNameFor(source, runId),
  ]);
}

export async function onlineOf(db: Queryable, runId: number): Promise<OnlineRow | undefined> {
  const exists = await db.query<{ ok: boolean }>(`SELECT pg_catalog.to_regclass('oasys_migrate.online') IS NOT NULL AS ok`);
  if (!exists.rows[0].ok) return undefined;
  const r = await db.query<OnlineRow>(
    `SELECT run_id::int AS "runId", slot, consistent_point::text AS "consistentPoint", applied_lsn::text AS "appliedLsn",
            changes_applied::float8 AS "changesApplied", tenants_changed AS "tenantsChanged", fence_lsn::text AS "fenceLsn",
            -- Columns added after the online table: read through to_jsonb, so that a run recorded by an
            -- earlier version reads as "not known" (NULL) until its next follow adds them.
            to_jsonb(o) -> 'pairs_changed' AS "pairsChanged", to_jsonb(o) -> 'pair_lsns' AS "pairLsns",
            to_jsonb(o) ->> 'preverified_lsn' AS "preverifiedLsn", COALESCE(to_jsonb(o) -> 'preverified_pairs', '[]') AS "preverifiedPairs",
            fence_applied AS "fenceApplied", writes_stopped_at AS "writesStoppedAt", cutover_at AS "cutoverAt",
            slot_dropped_at AS "slotDroppedAt", lag_seconds AS "lagSeconds", lag_at AS "lagAt"
       FROM oasys_migrate.online AS o WHERE run_id = $1`,
    [runId],
  );
  return r.rows[0];
}

export async function setConsistentPoint(db: Queryable, runId: number, lsn: string): Promise<void> {
  await db.query(`UPDATE oasys_migrate.online SET consistent_point = $2::pg_lsn, slot_dropped_at = NULL WHERE run_id = $1`, [runId, lsn]);
}

/**
 * Journals the position applied, in the transaction that applied the changes. Refuses (throws)
 * when another process journaled past it meanwhile: then this transaction must not commit.
 */
export async function journalApplied(
  db: Queryable,
  runId: number,
  lsn: string,
  changes: number,
  tenants: string[],
  fence: boolean,
  lagSeconds: number,
  pairs: string[],
): Promise<void> {
  const r = await db.query(
    `UPDATE oasys_migrate.online
        SET applied_lsn = $2::pg_lsn, applied_at = clock_timestamp(), changes_applied = changes_applied + $3,
            tenants_changed = ARRAY(SELECT DISTINCT x FROM unnest(tenants_changed || $4::text[]) AS x ORDER BY 1),
            pairs_changed = CASE WHEN pairs_changed IS NULL AND changes_applied > 0 THEN NULL
                                 ELSE ARRAY(SELECT DISTINCT x FROM unnest(COALESCE(pairs_changed, '{}') || $7::text[]) AS x ORDER BY 1) END,
            pair_lsns = CASE WHEN pairs_changed IS NULL AND changes_applied > 0 THEN NULL
                             ELSE COALESCE(pair_lsns, '{}') || (SELECT COALESCE(jsonb_object_agg(x, $2::text), '{}') FROM unnest($7::text[]) AS x) END,
            fence_applied = fence_applied OR $5, lag_seconds = $6, lag_at = clock_timestamp()
      WHERE run_id = $1 AND (applied_lsn IS NULL OR applied_lsn < $2::pg_lsn)`,
    [runId, lsn, changes, tenants, fence, lagSeconds, pairs],
  );
  if (r.rowCount !== 1) throw new Error(`journal conflict: run #${runId}'s changes up to ${lsn} were applied by another process`);
}

export async function setLag(db: Queryable, runId: number, lagSeconds: number): Promise<void> {
  await db.query(`UPDATE oasys_migrate.online SET lag_seconds = $2, lag_at = clock_timestamp() WHERE run_id = $1`, [runId, lagSeconds]);
}

export async function setFence(db: Queryable, runId: number, lsn: string): Promise<void> {
  await db.query(`UPDATE oasys_migrate.online SET fence_lsn = $2::pg_lsn WHERE run_id = $1`, [runId, lsn]);
}

/** Stamps a moment of the cut-over (now); a moment already stamped keeps its first value (a resumed cut-over). */
export async function stamp(db: Queryable, runId: number, field: 'writes_stopped_at' | 'cutover_at' | 'slot_dropped_at'): Promise<void> {
  await db.query(`UPDATE oasys_migrate.online SET ${field} = COALESCE(${field}, clock_timestamp()) WHERE run_id = $1`, [runId]);
}

/** Pairs found equal on both sides with the target at `lsn` (nothing applied meanwhile: the caller holds the run's lock). */
export async function setPreverified(db: Queryable, runId: number, lsn: string, pairs: string[]): Promise<void> {
  await db.query(`UPDATE oasys_migrate.online SET preverified_lsn = $2::pg_lsn, preverified_pairs = $3::text[] WHERE run_id = $1`, [runId, lsn, pairs]);
}
