import type { ResolvedConfig } from '../config/load.js';
import { withTransaction } from '../db/connect.js';
import { describeError, InterruptedError, pgFields, UsageError, WantingError } from '../errors.js';
import type { Logger } from '../log.js';
import { acquireLock } from '../state/lock.js';
import { addEvent, listRuns, setRunState, stateSchemaExists, type RunRow } from '../state/journal.js';
import { restoreSnapshot } from '../state/snapshot.js';
import { openSession } from './session.js';

export interface RevertResult {
  runId: number | null;
  reverted: boolean;
  actions: string[];
  message: string;
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
    if (!(await confirm(run))) {
      throw new UsageError(`revert of run #${run.runId} was not confirmed; nothing was changed`, 'answer yes at the prompt, or pass --yes');
    }
    const lock = await acquireLock(cfg.sameDatabase ? cfg.source : cfg.target, 'revert');
    try {
      const again = await pick();
      if (!again || again.runId !== run.runId) return { ...none, message: `run #${run.runId} changed while waiting; nothing was done, try again` };
      let interrupted = false;
      const actions = await withTransaction(s.target, async (c) => {
        // A signal cancels the statement in flight; the transaction then rolls back whole.
        const pid = (await c.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0].pid;
        hooks.onAbortable?.(() => {
          interrupted = true;
          void s.target.query('SELECT pg_catalog.pg_cancel_backend($1)', [pid]).catch(() => undefined);
        });
        if (hooks.stop?.stopping) throw new InterruptedError(REVERT_INTERRUPTED);
        await addEvent(c, run.runId, 'revert-started', null);
        // The run's own target schema and tenant column, whatever config revert is given.
        const done = await restoreSnapshot(c, run.runId, run.tenantColumn);
        await setRunState(c, run.runId, 'reverted');
        if (interrupted) throw new InterruptedError(REVERT_INTERRUPTED);
        return done;
      }).catch((err) => {
        if (interrupted && !(err instanceof InterruptedError)) throw new InterruptedError(REVERT_INTERRUPTED);
        if (pgFields(err)?.code === '2BP01') {
          throw new WantingError(
            `revert stopped: objects created since the run depend on its tables — ${pgFields(err)?.detail ?? describeError(err)}; nothing was changed`,
            'drop or move those objects (revert never drops what the run did not create), then revert again',
          );
        }
        throw err;
      });
      log.info(`run #${run.runId} reverted: ${actions.length} objects dropped or restored`);
      return { runId: run.runId, reverted: true, actions, message: `run #${run.runId} reverted` };
    } finally {
      await lock.release();
    }
  } finally {
    await s.close();
  }
}
