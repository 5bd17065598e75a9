import type { Session } from '../db/session.js';
import { EnvironmentError, InterruptedError, isNetworkError, WantingError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Plan } from '../plan/model.js';
import { setRunState } from '../state/journal.js';
import { follow, type FollowResult } from './follow.js';
import { preverify } from './preverify.js';
import { createSlotWithSnapshot, dropSlot, slotExists, slotLag, type ExportedSlot } from './slot.js';
import { onlineOf, setConsistentPoint, stamp } from './state.js';

export interface OnlineCopy {
  slot: string;
  /** For executePlan: creates the slot when the copy phase starts; its snapshot is what every copy reads. */
  copySnapshot: { open(): Promise<string>; close(): Promise<void> };
  /** Closes the replication connection if still open (every exit path). */
  close(): Promise<void>;
}

/**
 * The online part of a run, if the run is online (it has a row in oasys_migrate.online). A run
 * whose copy began under a slot's snapshot that died with the process cannot resume: rows
 * copied under the old snapshot and under a new one would not add up to the source.
 */
export async function onlineCopy(session: Session, runId: number, plan: Plan, done: Map<string, number>): Promise<OnlineCopy | undefined> {
  const row = await onlineOf(session.target, runId);
  if (!row) return undefined;
  const copies = plan.steps.filter((s) => s.phase === 'copy');
  const copied = copies.filter((s) => done.has(s.id)).length;
  const exists = await slotExists(session.source, row.slot);
  if (copied > 0 && copied < copies.length) {
    await dropSlot(session.source, row.slot);
    await stamp(session.target, runId, 'slot_dropped_at');
    throw new WantingError(
      `online run #${runId} stopped during its copy (${copied} of ${copies.length} copies done): the snapshot the copies read under ended with that process, so the copy cannot be resumed exactly; the replication slot ${row.slot} was dropped`,
      'undo it with `oasys-migrate revert`, then start again with `oasys-migrate run --online`',
    );
  }
  if (copied === copies.length && copies.length > 0 && !exists) {
    throw new WantingError(
      `online run #${runId} has no replication slot ${row.slot} on the source any more: changes since its copy are lost`,
      'undo it with `oasys-migrate revert`, then start again with `oasys-migrate run --online`',
    );
  }
  let exported: ExportedSlot | undefined;
  return {
    slot: row.slot,
    copySnapshot: {
      async open() {
        // A slot left by a process killed before its first copy finished: nothing was read under it.
        if (await slotExists(session.source, row.slot)) await dropSlot(session.source, row.slot);
        session.log.info(`creating the replication slot ${row.slot} (it waits for the transactions running on the source to finish)`);
        exported = await createSlotWithSnapshot(session.cfg.source, row.slot, session.serverVersionNum);
        await setConsistentPoint(session.target, runId, exported.consistentPoint);
        session.log.info(`replication slot ${row.slot} created at ${exported.consistentPoint}; every copy reads its snapshot ${exported.snapshot}`);
        return exported.snapshot;
      },
      async close() {
        await exported?.close();
        exported = undefined;
      },
    },
    close: async () => {
      await exported?.close();
      exported = undefined;
    },
  };
}

export interface CaughtUp extends FollowResult {
  slot: string;
  lagBytes: number;
}

/** After the copy, or resumed while following: applies what the application wrote meanwhile until caught up (resumed: then verifies the changed pairs before the stop), then leaves the run 'following'. */
export async function catchUp(
  session: Session,
  runId: number,
  plan: Plan,
  slot: string,
  log: Logger,
  stop: { stopping: boolean },
  resumed = false,
): Promise<CaughtUp> {
  log.info(`applying the changes written since the copy's snapshot (slot ${slot})`);
  const r = await follow({ source: session.source, target: session.target, runId, plan, slot, log, stop, until: 'caught-up' });
  // Caught up again on a following run: verify what changed now, so that the cut-over verifies only what changes after.
  if (resumed) await preverify(session, runId, plan, log, stop);
  await setRunState(session.target, runId, 'following');
  const lag = await slotLag(session.source, slot);
  return { ...r, slot, lagBytes: lag?.bytes ?? 0 };
}

/**
 * Every abort drops the slot (a forgotten slot keeps WAL on the source until its disk fills), except
 * an interruption or a lost connection while following: the applied position is journaled and
 * `cutover` (or `run`) resumes from it; `revert` drops the slot too.
 */
export async function abortOnline(session: Session, runId: number, err: unknown, log: Logger): Promise<void> {
  const row = await onlineOf(session.target, runId).catch(() => undefined);
  if (!row || row.slotDroppedAt) return;
  const copies = (
    await session.target.query<{ n: number }>(
      `SELECT count(*) FILTER (WHERE state <> 'done')::int AS n FROM oasys_migrate.step WHERE run_id = $1 AND phase = 'copy'`,
      [runId],
    )
  ).rows[0].n;
  const resumable = copies === 0 && (err instanceof InterruptedError || err instanceof EnvironmentError || isNetworkError(err));
  if (resumable) {
    log.warn(
      `the replication slot ${row.slot} stays on the source (it retains WAL until the run resumes): run \`oasys-migrate cutover\` or \`oasys-migrate revert\` soon`,
    );
    return;
  }
  if (await dropSlot(session.source, row.slot).catch(() => false)) log.info(`replication slot ${row.slot} dropped`);
  await stamp(session.target, runId, 'slot_dropped_at');
}

/** revert: the run's slot, if it is an online run and the slot is still on the source. Returns its name when dropped. */
export async function dropRunSlot(source: Session['source'], target: Session['target'], runId: number): Promise<string | undefined> {
  const row = await onlineOf(target, runId);
  if (!row) return undefined;
  const dropped = await dropSlot(source, row.slot);
  await stamp(target, runId, 'slot_dropped_at');
  return dropped ? row.slot : undefined;
}
