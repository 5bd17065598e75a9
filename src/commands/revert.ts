import type { ResolvedConfig } from '../config/load.js';
import { withLockedTransaction } from '../db/locks.js';
import { ensureStateSchema } from '../state/journal.js';
import { writesSinceRun, type WritesSinceRun } from '../state/writes.js';
import { lockPolicy } from './run.js';
import { describeError, InterruptedError, pgFields, UsageError, WantingError } from '../errors.js';
import type { Logger } from '../log.js';
import { acquireLock } from '../state/lock.js';
import { addEvent, listRuns, setRunState, stateSchemaExists, type RunRow } from '../state/journal.js';
import { restoreSnapshot } from '../state/snapshot.js';
import { dropRunSlot } from '../online/run.js';
import { describeTarget, openSession, targetLine, type TargetInfo } from '../db/session.js';

export interface RevertResult {
  runId: number | null;
  reverted: boolean;
  actions: string[];
  message: string;
  /** With --discard-writes: the application's writes that the revert threw away. */
  discardedWrites?: WritesSinceRun[];
  /** The server and database written to. */
  target?: TargetInfo;
}

/**
 * Restores the target to its state before the latest run that was not yet
 * reverted — completed, failed, interrupted or killed — in ONE transaction:
 * a revert that is itself interrupted changes nothing, and running it again
 * finishes it. Tenant schemas are never touched.
 */
const REVERT_INTERRUPTED = 'revert interrupted: its transaction was rolled back, nothing changed; run `revert` again';

export interface RevertHooks {
  /** Receives the function that cancels the revert in flight (called on SIGINT/SIGTERM). */
  onAbortable?: (abort: () => void) => void;
  stop?: { stopping: boolean };
}

export async function revertCommand(
  cfg: ResolvedConfig,
  log: Logger,
  confirm: (run: RunRow) => Promise<boolean>,
  hooks: RevertHooks = {},
): Promise<RevertResult> {
  const s = await openSession(cfg, log);
  try {
    const none = { runId: null, reverted: false, actions: [], message: 'nothing to revert: no oasys-migrate run is recorded in the target database' };
    if (!(await stateSchemaExists(s.target))) return none;
    const pick = async () => (await listRuns(s.target)).filter((r) => r.state !== 'reverted').pop();
    const run = await pick();
    if (!run) return { ...none, message: 'nothing to revert: every recorded run is already reverted' };
    const target = await describeTarget(s);
    log.info(targetLine(`revert of run #${run.runId} writes to`, target));
    if (!(await confirm(run))) {
      throw new UsageError(`revert of run #${run.runId} was not confirmed; nothing was changed`, 'answer yes at the prompt, or pass --yes');
    }
    const lock = await acquireLock(cfg.sameDatabase ? cfg.source : cfg.target, 'revert');
    try {
      const again = await pick();
      if (!again || again.runId !== run.runId) return { ...none, message: `run #${run.runId} changed while waiting; nothing was done, try again` };
      // An online run's replication slot goes first: whatever happens next, none is left on the source.
      const slotDropped = await dropRunSlot(s.source, s.target, run.runId);
      let interrupted = false;
      let discarded: WritesSinceRun[] = [];
      const actions = await withLockedTransaction(s.target, `revert of run #${run.runId}`, lockPolicy(cfg), async (c) => {
        // A signal cancels the statement in flight; the transaction then rolls back whole.
        const pid = (await c.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0].pid;
        hooks.onAbortable?.(() => {
          interrupted = true;
          void s.target.query('SELECT pg_catalog.pg_cancel_backend($1)', [pid]).catch(() => undefined);
        });
        if (hooks.stop?.stopping) throw new InterruptedError(REVERT_INTERRUPTED);
        // A state schema written by an older version gains the columns this one records.
        await ensureStateSchema(c);
        if (run.state === 'completed' && run.finishedXid) {
          const writes = await writesSinceRun(c, run.runId, run.finishedXid);
          if (writes.length > 0 && !cfg.discardWrites) throw writesRefusal(run.runId, writes);
          if (writes.length > 0) log.warn(`--discard-writes: ${describeWrites(writes)} are discarded with run #${run.runId}`);
          discarded = writes;
        } else if (run.state === 'completed') {
          log.warn(`run #${run.runId} was recorded by an older version: writes made since it completed cannot be detected`);
        }
        await addEvent(c, run.runId, 'revert-started', discarded.length > 0 ? { discardedWrites: discarded } : null);
        // The run's own target schema and tenant column, whatever config revert is given.
        const done = await restoreSnapshot(c, run.runId, run.tenantColumn);
        await setRunState(c, run.runId, 'reverted');
        if (interrupted) throw new InterruptedError(REVERT_INTERRUPTED);
        return done;
      }).catch((err) => {
        if (interrupted && !(err instanceof InterruptedError)) throw new InterruptedError(REVERT_INTERRUPTED);
        if (err instanceof WantingError) throw err;
        if (pgFields(err)?.code === '2BP01') {
          throw new WantingError(
            `revert stopped: objects created since the run depend on its tables — ${pgFields(err)?.detail ?? describeError(err)}; nothing was changed`,
            'drop or move those objects (revert never drops what the run did not create), then revert again',
          );
        }
        throw err;
      });
      if (slotDropped) actions.unshift(`dropped the replication slot ${slotDropped} on the source`);
      log.info(`run #${run.runId} reverted: ${actions.length} objects dropped or restored`);
      return { runId: run.runId, reverted: true, actions, message: `run #${run.runId} reverted`, discardedWrites: discarded, target };
    } finally {
      await lock.release();
    }
  } finally {
    await s.close();
  }
}

function describeWrites(w: WritesSinceRun[]): string {
  return w
    .map((x) => `${x.table} (${x.writtenRows} row${x.writtenRows === 1 ? '' : 's'} inserted or updated, ${x.removedRows} deleted or replaced)`)
    .join(', ');
}

/** The application wrote to the unified tables after the run: reverting would lose that data. */
function writesRefusal(runId: number, writes: WritesSinceRun[]): WantingError {
  return new WantingError(
    `revert refused: the unified tables were written after run #${runId} completed — ${describeWrites(writes)}; reverting would lose those writes; nothing was changed`,
    'copy the new data out first (or move it back into the tenant schemas), then revert with --discard-writes; or keep the migration and fix forward',
    { writes },
  );
}
