import type { ResolvedConfig } from '../config/load.js';
import { configFingerprint } from '../config/load.js';
import { executePlan, type Progress, type StopSignal } from '../copy/execute.js';
import { withLockedTransaction, type LockPolicy } from '../db/locks.js';
import { describeError, InterruptedError, OasysError, UsageError, WantingError } from '../errors.js';
import { privilegeProblems, refusal } from '../preflight/preflight.js';
import type { Logger } from '../log.js';
import type { Plan } from '../plan/model.js';
import { acquireLock } from '../state/lock.js';
import {
  addEvent,
  completedRuns,
  createRun,
  doneSteps,
  ensureStateSchema,
  findUnfinishedRun,
  listRuns,
  loadPlan,
  saveVerify,
  setRunState,
  stateSchemaExists,
  stepsOf,
} from '../state/journal.js';
import { takeSnapshot } from '../state/snapshot.js';
import { preexistingRows, verifyPlan, type VerifyReport } from '../verify/checksum.js';
import { planWithSession } from './plan.js';
import { describeSourceWrites, sourceWrites } from '../verify/sourceWrites.js';
import { closingVerify } from '../verify/closing.js';
import { ReadBy } from '../db/warm.js';
import { describeTarget, openSession, targetLine, type Session, type TargetInfo } from '../db/session.js';
import { recopyTenant, resetSequences } from '../copy/recopy.js';
import { continueAfterEarlierRuns, narrowToUnfinished } from './canary.js';
import { abortOnline, catchUp, onlineCopy, type CaughtUp, type OnlineCopy } from '../online/run.js';
import { recordOnlineRun } from '../online/state.js';

export interface RunResult {
  runId: number;
  resumed: boolean;
  /** The tenants were already migrated by this completed run: nothing was copied, only verified. */
  alreadyComplete?: boolean;
  rowsCopied: number;
  seconds: number;
  plan: Plan;
  verify: VerifyReport;
  /** The server and database written to. */
  target?: TargetInfo;
  /** With --recopy: the tenants whose rows were replaced. */
  recopied?: string[];
  /** run --online: copied under the slot's snapshot, caught up, following until `cutover` (no verification yet). */
  online?: CaughtUp;
}

export interface RunHooks {
  onProgress?: (p: Progress) => void;
  onPlanned?: (plan: Plan, resumed: boolean, runId: number) => void;
  stop?: StopSignal;
  /** Called with the fresh plan before anything is locked or written; throwing refuses the run (run --plan). */
  approve?: (plan: Plan) => void;
  /** Once per source scan of the closing verification: whether it ran on the connection that copied its tables. */
  onSourceScan?: (onCopyingConnection: boolean) => void;
}

/**
 * Performs the migration. Refuses while `plan` has a blocking problem; takes
 * the run lock; records the run, its steps and the rollback snapshot in one
 * transaction before writing anything else; executes the steps (each with its
 * journal entry); ends with a verification stored with the run.
 * Re-running after a crash resumes the unfinished run with its stored plan.
 */
export async function runCommand(cfg: ResolvedConfig, log: Logger, hooks: RunHooks = {}): Promise<RunResult> {
  const started = performance.now();
  const stop = hooks.stop ?? { stopping: false };
  const session = await openSession(cfg, log, 2);
  try {
    if (cfg.recopy) return await recopyRun(session, cfg, log, hooks, started);
    // Only the plan goes on: discovery's catalog of every tenant table is left to the collector.
    const { plan: freshPlan } = await planWithSession(session);
    let fresh = { plan: freshPlan };
    hooks.approve?.(fresh.plan);
    const lock = await acquireLock(cfg.sameDatabase ? cfg.source : cfg.target, 'run');
    let runId: number | undefined;
    let target: TargetInfo | undefined;
    let online: OnlineCopy | undefined;
    try {
      // A refused run writes nothing, not even the state schema: look before creating it.
      const hasState = await stateSchemaExists(session.target);
      const unfinished = hasState ? await findUnfinishedRun(session.target) : undefined;
      // The same verdict `plan` prints; a resumed run is held to its stored plan's privileges only.
      const refused = unfinished
        ? refusal(await privilegeProblems(session.source, session.target, fresh.plan, await loadPlan(session.target, unfinished.runId, cfg.rls)))
        : refusal(fresh.plan.problems);
      if (refused) throw refused;
      target = await describeTarget(session);
      log.info(targetLine('run writes to', target));
      await ensureStateSchema(session.target);
      let plan: Plan;
      let resumed = false;
      const cfgFp = configFingerprint(cfg);
      if (unfinished) {
        if (unfinished.state === 'reverting') {
          throw new WantingError(`run #${unfinished.runId} was being reverted when it stopped`, 'finish the revert first: oasys-migrate revert');
        }
        if (unfinished.configFingerprint !== cfgFp) {
          throw new WantingError(
            `run #${unfinished.runId} (${unfinished.state}, started ${unfinished.startedAt.toISOString()}) was started with a different configuration; it cannot be resumed with this one`,
            'resume it with the configuration it was started with, or undo it with `oasys-migrate revert` and start again',
          );
        }
        // A run for the rest after a canary selects fewer tenants than a plain run: compare with that narrower plan.
        if (unfinished.sourceFingerprint !== fresh.plan.sourceFingerprint) {
          fresh = (await narrowToUnfinished(session, cfg, cfgFp, fresh, await loadPlan(session.target, unfinished.runId, cfg.rls))) ?? fresh;
        }
        if (unfinished.sourceFingerprint !== fresh.plan.sourceFingerprint) {
          const was = new Set((await loadPlan(session.target, unfinished.runId, cfg.rls)).tenants.map((t) => t.schema));
          const now = fresh.plan.tenants.map((t) => t.schema);
          const sameTenants = was.size === now.length && now.every((t) => was.has(t));
          throw new WantingError(
            sameTenants
              ? `the source changed since run #${unfinished.runId} started (a tenant table's definition differs); resuming would mix two versions`
              : `run #${unfinished.runId} was started for ${was.size} tenants; this run selects ${now.length}, not the same ones (a different --tenants, or the registry changed); resuming would mix two plans`,
            sameTenants
              ? 'undo the unfinished run with `oasys-migrate revert`, then run again'
              : 'resume with the same tenant selection (--tenants) it was started with, or undo it with `oasys-migrate revert`',
          );
        }
        runId = unfinished.runId;
        plan = await loadPlan(session.target, runId, cfg.rls);
        resumed = true;
        await setRunState(session.target, runId, 'running');
        await addEvent(session.target, runId, 'resumed', { previousState: unfinished.state });
        log.info(`resuming run #${runId} (${unfinished.state})`);
      } else {
        // Rows of a completed run are in the target: migrating the same tenants again would duplicate them.
        const newTenants = new Set(fresh.plan.tenants.map((t) => t.schema));
        const earlier = (await completedRuns(session.target)).filter((r) => r.tenants.some((t) => newTenants.has(t)));
        if (earlier.length > 0) {
          // The canary flow (src/commands/canary.ts): skip what earlier runs migrated, plan the rest.
          const outcome = await continueAfterEarlierRuns(session, cfg, cfgFp, fresh, earlier, log, stop);
          if ('done' in outcome) {
            return { ...outcome.done, resumed: false, alreadyComplete: true, rowsCopied: 0, seconds: (performance.now() - started) / 1000, target };
          }
          fresh = { plan: outcome.fresh.plan };
          const refusedRest = refusal(fresh.plan.problems);
          if (refusedRest) throw refusedRest;
        }
        plan = fresh.plan;
        runId = await withLockedTransaction(session.target, 'recording the run and its rollback snapshot', lockPolicy(cfg), async (c) => {
          const id = await createRun(c, plan, cfgFp, cfg.targetSchema, cfg.tenantColumn);
          await takeSnapshot(c, id, plan);
          if (cfg.online) await recordOnlineRun(c, id, session.source);
          return id;
        });
        log.info(`run #${runId}: ${plan.tenants.length} tenants, ${plan.tables.length} tables, ${plan.steps.length} steps`);
      }
      hooks.onPlanned?.(plan, resumed, runId);
      const done = await doneSteps(session.target, runId);
      online = await onlineCopy(session, runId, plan, done);
      const readBy = new ReadBy();
      const scans = { all: 0, warm: 0 };
      const { rowsCopied } = await executePlan({
        session,
        runId,
        plan,
        done,
        concurrency: cfg.concurrency,
        stop,
        onProgress: hooks.onProgress,
        lockLost: () => lock.lost(),
        onLockLost: (fn) => lock.onLost(fn),
        lock: lockPolicy(cfg),
        copySnapshot: online?.copySnapshot,
        readBy,
      });
      const total = [...done.values()].reduce((a, b) => a + b, 0) + rowsCopied;
      if (online) {
        // The source moves on: verification waits for the cut-over, when writes have stopped (a resumed
        // follow verifies what changed so far, so that the cut-over verifies only what changes after).
        const caught = await catchUp(session, runId, plan, online.slot, log, stop, resumed);
        const verify = { ok: true, results: [], anomalies: [], seconds: 0 };
        return { runId, resumed, rowsCopied: total, seconds: (performance.now() - started) / 1000, plan, verify, target, online: caught };
      }
      log.info('verifying every (tenant, table): counts and checksums');
      const verify = await closingVerify({
        source: session.source,
        target: session.target,
        plan,
        runId,
        concurrency: cfg.concurrency,
        stop,
        preexisting: await preexistingRows(session.target, runId),
        readBy,
        onSourceScan: (warm) => {
          scans.all++;
          if (warm) scans.warm++;
          hooks.onSourceScan?.(warm);
        },
      });
      log.debug(`closing verification: ${scans.warm} of ${scans.all} source scans on the connection that copied their tables`);
      if (stop.stopping) throw new InterruptedError();
      await saveVerify(session.target, runId, verify);
      if (!verify.ok) {
        const bad = verify.results.filter((r) => !r.ok);
        const written = await sourceWrites(session.source, session.target, runId, plan, bad);
        if (written.length > 0) {
          const tenants = [...new Set(written.map((w) => w.tenant))];
          const message = `the source was written while run #${runId} copied it (the application was not stopped): ${describeSourceWrites(written)}`;
          await setRunState(session.target, runId, 'failed', message);
          throw new WantingError(
            message,
            `stop the application's writes to the tenant schemas, then replace exactly those tenants' rows: oasys-migrate run --recopy ${tenants.join(',')}`,
            { sourceWrites: written },
          );
        }
        await setRunState(session.target, runId, 'failed', `verification found ${bad.length} mismatches`);
        throw new WantingError(
          `run #${runId} copied everything but verification found ${bad.length} mismatch${bad.length === 1 ? '' : 'es'}` +
            (bad[0] ? `, e.g. tenant "${bad[0].tenant}" table ${bad[0].table}: source ${bad[0].sourceRows} rows, target ${bad[0].targetRows}` : ''),
          'inspect with `oasys-migrate verify`; undo with `oasys-migrate revert`',
        );
      }
      await setRunState(session.target, runId, 'completed');
      // Rows copied by this run in all its attempts (a resumed run counts what earlier attempts copied).
      return { runId, resumed, rowsCopied: total, seconds: (performance.now() - started) / 1000, plan, verify, target };
    } catch (err) {
      if (runId !== undefined && !(err instanceof WantingError && /verification found|the source was written/.test(err.message))) {
        const state = err instanceof InterruptedError ? 'interrupted' : 'failed';
        await setRunState(session.target, runId, state, err instanceof OasysError ? err.message : describeError(err)).catch(() => undefined);
      }
      if (runId !== undefined) await abortOnline(session, runId, err, log).catch(() => undefined);
      throw err;
    } finally {
      await online?.close();
      await lock.release();
    }
  } finally {
    await session.close();
  }
}

/**
 * `run --recopy a,b`: replaces exactly those tenants' rows in the unified tables of the latest
 * run (after the application wrote to the source during the copy), each tenant in one journaled
 * transaction, then moves the sequences forward and verifies the whole run again.
 */
async function recopyRun(session: Session, cfg: ResolvedConfig, log: Logger, hooks: RunHooks, started: number): Promise<RunResult> {
  const tenants = cfg.recopy!;
  const none = 'nothing to recopy: no oasys-migrate run is recorded in the target database';
  if (!(await stateSchemaExists(session.target))) throw new UsageError(none, 'run `oasys-migrate run` first');
  const lock = await acquireLock(cfg.sameDatabase ? cfg.source : cfg.target, 'run');
  try {
    const run = (await listRuns(session.target)).filter((r) => r.state !== 'reverted').pop();
    if (!run) throw new UsageError(none, 'run `oasys-migrate run` first');
    if (run.state !== 'completed' && run.state !== 'failed') {
      throw new WantingError(
        `run #${run.runId} is ${run.state}; only a finished run's tenants can be copied again`,
        'finish it first: `oasys-migrate run` resumes it',
      );
    }
    const plan = await loadPlan(session.target, run.runId, cfg.rls);
    const pending = (await stepsOf(session.target, run.runId)).filter((x) => x.state !== 'done');
    if (pending.length > 0) {
      throw new WantingError(
        `run #${run.runId} has ${pending.length} unfinished steps (e.g. ${pending[0].stepId}); --recopy replaces the rows of a finished run`,
        'finish it first: `oasys-migrate run` resumes it',
      );
    }
    const unknown = tenants.filter((t) => !plan.tenants.some((x) => x.schema === t));
    if (unknown.length > 0) {
      throw new UsageError(
        `--recopy: ${unknown.map((u) => JSON.stringify(u)).join(', ')} ${unknown.length === 1 ? 'is not a tenant' : 'are not tenants'} of run #${run.runId}`,
        `choose from: ${plan.tenants
          .slice(0, 20)
          .map((t) => t.schema)
          .join(', ')}${plan.tenants.length > 20 ? ', …' : ''}`,
      );
    }
    const target = await describeTarget(session);
    log.info(targetLine(`recopy of ${tenants.length} tenant${tenants.length === 1 ? '' : 's'} writes to`, target));
    const policy = lockPolicy(cfg);
    await ensureStateSchema(session.target);
    await setRunState(session.target, run.runId, 'running');
    try {
      let rowsCopied = 0;
      for (const t of tenants) {
        if (hooks.stop?.stopping) throw new InterruptedError('interrupted; tenants recopied so far are complete, run the same --recopy again to finish');
        const n = await recopyTenant(session, run.runId, plan, t, policy);
        log.info(`tenant "${t}": ${n} rows copied again`);
        rowsCopied += n;
      }
      await resetSequences(session, plan, policy);
      const verify = await verifyPlan({
        source: session.source,
        target: session.target,
        plan,
        concurrency: cfg.concurrency,
        stop: hooks.stop,
        preexisting: await preexistingRows(session.target, run.runId),
      });
      await saveVerify(session.target, run.runId, verify);
      if (!verify.ok) {
        const bad = verify.results.filter((r) => !r.ok);
        const written = await sourceWrites(session.source, session.target, run.runId, plan, bad);
        const message =
          written.length > 0
            ? `the source is still being written: ${describeSourceWrites(written)}`
            : `after the recopy, verification still finds ${bad.length} mismatch${bad.length === 1 ? '' : 'es'}, e.g. tenant "${bad[0]?.tenant}" table ${bad[0]?.table}`;
        await setRunState(session.target, run.runId, 'failed', message);
        throw new WantingError(
          message,
          written.length > 0
            ? `stop the writes, then: oasys-migrate run --recopy ${[...new Set(written.map((w) => w.tenant))].join(',')}`
            : 'inspect with `oasys-migrate verify`; undo with `oasys-migrate revert`',
        );
      }
      await setRunState(session.target, run.runId, 'completed');
      return { runId: run.runId, resumed: false, rowsCopied, seconds: (performance.now() - started) / 1000, plan, verify, target, recopied: tenants };
    } catch (err) {
      if (!(err instanceof WantingError)) {
        await setRunState(
          session.target,
          run.runId,
          err instanceof InterruptedError ? 'interrupted' : 'failed',
          err instanceof OasysError ? err.message : describeError(err),
        ).catch(() => undefined);
      }
      throw err;
    }
  } finally {
    await lock.release();
  }
}

export function lockPolicy(cfg: Pick<ResolvedConfig, 'lockTimeoutMs'>): LockPolicy {
  return { timeoutMs: cfg.lockTimeoutMs, attempts: 3, backoffMs: Math.min(5_000, Math.max(200, cfg.lockTimeoutMs / 5)) };
}
