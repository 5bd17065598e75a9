import type { ResolvedConfig } from '../config/load.js';
import { configFingerprint } from '../config/load.js';
import { openSession, type Session } from '../db/session.js';
import { EnvironmentError, InterruptedError, OasysError, UsageError, WantingError, describeError, isNetworkError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Plan } from '../plan/model.js';
import { acquireLock } from '../state/lock.js';
import { listRuns, loadPlan, saveVerify, setRunState, stateSchemaExists, stepsOf, type RunRow } from '../state/journal.js';
import { preexistingRows, verifyPlan, type VerifyReport } from '../verify/checksum.js';
import { recopyTenant, resetSequences } from '../copy/recopy.js';
import { follow } from '../online/follow.js';
import { cleanPairs, preverify } from '../online/preverify.js';
import { dropSlot, slotExists, slotLag } from '../online/slot.js';
import { onlineOf, setFence, stamp } from '../online/state.js';
import { changedScope, emitFence } from '../online/cutover.js';
import { lockPolicy } from './run.js';
import { planWithSession } from './plan.js';

export interface CutoverResult {
  runId: number;
  /** The run had been cut over already: only the slot was made sure to be gone. */
  already: boolean;
  changesApplied: number;
  /** From the operator's confirmation that writes stopped to the run's completion. */
  downtimeSeconds: number;
  tenantsVerified: string[];
  /** The (tenant, unified table) pairs verified: those with changes applied (and the frozen tables of changed tenants). */
  pairsVerified: number;
  /** Changed pairs verified before the stop (run on a following run, or cutover while catching up) and not changed after. */
  pairsVerifiedBefore: number;
  /**
   * Where the write stop went, in seconds, in order: applying up to the fence (with emitting it),
   * copying the frozen tables again, the sequences, verifying (the definitions are checked at the
   * same time: `definitions` is only what was left to wait for), and finishing (slot, journal).
   */
  downtime: { fence: number; frozen: number; sequences: number; verify: number; definitions: number; finish: number };
  verify: VerifyReport;
  slot: string;
  seconds: number;
}

export interface CutoverHooks {
  /** Asks the operator to stop the application's writes; false cancels (nothing changes, the run keeps its slot). */
  confirmWritesStopped: (runId: number, lagBytes: number) => Promise<boolean>;
  /**
   * The writes are stopped already (--yes): no check and catch-up before asking, straight to the
   * fence (which applies everything anyway); the source's definitions are still checked after it.
   */
  writesStopped?: boolean;
  stop?: { stopping: boolean };
}

/**
 * Ends an online run: catches up while the application still writes, has the operator stop the
 * writes, emits the fence, applies up to it, checks that the tenant tables' definitions are the
 * planned ones, moves the sequences past the migrated values, verifies the tenants that changed,
 * drops the slot and completes the run. Every stage is journaled: a kill at any moment, then
 * `cutover` again, goes on from where it stopped (the fence already emitted is the one waited for).
 */
export async function cutoverCommand(cfg: ResolvedConfig, log: Logger, hooks: CutoverHooks): Promise<CutoverResult> {
  const started = performance.now();
  const session = await openSession(cfg, log, 1);
  try {
    const none = 'nothing to cut over: no online run is recorded in the target database';
    if (!(await stateSchemaExists(session.target))) throw new UsageError(none, 'start one with `oasys-migrate run --online`');
    const lock = await acquireLock(cfg.sameDatabase ? cfg.source : cfg.target, 'cutover');
    try {
      const run = (await listRuns(session.target)).filter((r) => r.state !== 'reverted').pop();
      const row = run ? await onlineOf(session.target, run.runId) : undefined;
      if (!run || !row) throw new UsageError(none, 'start one with `oasys-migrate run --online`');
      const plan = await loadPlan(session.target, run.runId, cfg.rls);
      const empty: VerifyReport = { ok: true, results: [], anomalies: [], seconds: 0 };
      if (run.state === 'completed') {
        // A cut-over killed after completing: the slot must still go.
        if (await dropSlot(session.source, row.slot)) log.info(`replication slot ${row.slot} dropped`);
        await stamp(session.target, run.runId, 'slot_dropped_at');
        return {
          runId: run.runId,
          already: true,
          changesApplied: row.changesApplied,
          downtimeSeconds: 0,
          tenantsVerified: [],
          pairsVerified: 0,
          pairsVerifiedBefore: 0,
          downtime: { fence: 0, frozen: 0, sequences: 0, verify: 0, definitions: 0, finish: 0 },
          verify: empty,
          slot: row.slot,
          seconds: 0,
        };
      }
      if (run.state === 'reverting')
        throw new WantingError(`run #${run.runId} was being reverted when it stopped`, 'finish the revert first: oasys-migrate revert');
      if (run.configFingerprint !== configFingerprint(cfg)) {
        throw new UsageError(`run #${run.runId} was started with a different configuration; cut it over with the configuration it was started with`);
      }
      const pending = (await stepsOf(session.target, run.runId)).filter((s) => s.state !== 'done');
      if (pending.length > 0) {
        throw new WantingError(
          `online run #${run.runId} has not finished its copy (${pending.length} steps pending, e.g. ${pending[0].stepId})`,
          'finish it first: `oasys-migrate run` resumes it',
        );
      }
      try {
        return await cutOver(session, cfg, log, hooks, run, plan, started);
      } catch (err) {
        // Interrupted or disconnected: the position and every stage are journaled, `cutover` resumes
        // (the slot stays). Anything else ends the online run: its slot is dropped.
        const resumable = err instanceof InterruptedError || err instanceof EnvironmentError || isNetworkError(err) || err instanceof UsageError;
        if (!resumable) {
          await setRunState(session.target, run.runId, 'failed', err instanceof OasysError ? err.message : describeError(err)).catch(() => undefined);
          if (await dropSlot(session.source, row.slot).catch(() => false)) log.info(`replication slot ${row.slot} dropped`);
          await stamp(session.target, run.runId, 'slot_dropped_at').catch(() => undefined);
        } else if (!(err instanceof UsageError)) {
          log.warn(`the replication slot ${row.slot} stays on the source: run \`oasys-migrate cutover\` again to finish, or \`oasys-migrate revert\``);
        }
        throw err;
      }
    } finally {
      await lock.release();
    }
  } finally {
    await session.close();
  }
}

async function cutOver(
  session: Session,
  cfg: ResolvedConfig,
  log: Logger,
  hooks: CutoverHooks,
  run: RunRow,
  plan: Plan,
  started: number,
): Promise<CutoverResult> {
  const runId = run.runId;
  let row = (await onlineOf(session.target, runId))!;
  let applied = 0;
  let stopped = performance.now();
  const followUntil = async (until: 'caught-up' | 'fence') =>
    (applied += (await follow({ source: session.source, target: session.target, runId, plan, slot: row.slot, log, stop: hooks.stop, until })).changes);
  if (!row.fenceApplied) {
    if (!(await slotExists(session.source, row.slot))) {
      throw new WantingError(
        `online run #${runId} has no replication slot ${row.slot} on the source any more: the changes since its copy cannot be applied`,
        'undo it with `oasys-migrate revert`, then start again with `oasys-migrate run --online`',
      );
    }
    if (!row.writesStoppedAt && hooks.writesStopped) await stamp(session.target, runId, 'writes_stopped_at');
    else if (!row.writesStoppedAt) {
      await sourceUnchanged(session, run);
      log.info('catching up while the application still writes');
      await followUntil('caught-up');
      await preverify(session, runId, plan, log, hooks.stop);
      const lag = (await slotLag(session.source, row.slot))?.bytes ?? 0;
      if (!(await hooks.confirmWritesStopped(runId, lag))) {
        throw new UsageError(
          `cut-over cancelled: nothing changed; run #${runId} keeps its slot ${row.slot}`,
          'run `oasys-migrate cutover` again when the application can stop writing',
        );
      }
      await stamp(session.target, runId, 'writes_stopped_at');
    }
    row = (await onlineOf(session.target, runId))!;
    stopped = performance.now();
    if (!row.fenceLsn) {
      const lsn = await emitFence(session.source, runId);
      await setFence(session.target, runId, lsn);
      log.info(`fence emitted at ${lsn}; applying up to it`);
    }
    await followUntil('fence');
  }
  // Writes are stopped: the tenant tables must still be the planned ones (DDL, a new tenant schema).
  // Checked while the rest goes on (it only reads the catalog): a change fails the cut-over either way.
  const checked = sourceUnchanged(session, run);
  checked.catch(() => undefined);
  const downtime = { fence: 0, frozen: 0, sequences: 0, verify: 0, definitions: 0, finish: 0 };
  let t0 = stopped;
  const lap = (what: keyof typeof downtime) => {
    const now = performance.now();
    downtime[what] = Math.round(now - t0) / 1000;
    t0 = now;
    log.debug(`cutover: ${what} took ${downtime[what].toFixed(2)} s`);
  };
  lap('fence');
  // The write freeze: tables without a key were not followed; copied again now that writes are stopped.
  const frozen = plan.tables.filter((t) => !t.sourceKey?.length);
  if (frozen.length > 0) {
    const only = new Set(frozen.map((t) => t.target));
    const tenants = new Set(frozen.flatMap((t) => t.tenants));
    log.info(`copying the frozen tables (${[...only].join(', ')}) again for ${tenants.size} tenants`);
    for (const t of plan.tenants) if (tenants.has(t.schema)) await recopyTenant(session, runId, plan, t.schema, lockPolicy(cfg), only);
    lap('frozen');
  }
  await resetSequences(session, plan, lockPolicy(cfg));
  lap('sequences');
  row = (await onlineOf(session.target, runId))!;
  const tenants = row.tenantsChanged;
  // Pairs verified before the stop and not changed since are equal now (src/online/preverify.ts).
  const clean = cleanPairs(row);
  const scope = changedScope(plan, tenants, row.pairsChanged?.filter((p) => !clean.has(p)) ?? null);
  const pairs = scope.tables.reduce((n, t) => n + t.tenants.length, 0);
  log.info(
    `verifying the ${tenants.length} tenant${tenants.length === 1 ? '' : 's'} that changed during the online run (${pairs} tenant tables; ${clean.size} verified before the stop and unchanged since)`,
  );
  const verify =
    tenants.length > 0
      ? await verifyPlan({
          source: session.source,
          target: session.target,
          plan: scope,
          tenants,
          concurrency: cfg.concurrency,
          stop: hooks.stop,
          preexisting: await preexistingRows(session.target, runId),
        })
      : { ok: true, results: [], anomalies: [], seconds: 0 };
  lap('verify');
  await checked;
  lap('definitions');
  if (hooks.stop?.stopping) throw new InterruptedError();
  if (!verify.ok) {
    const bad = verify.results.filter((r) => !r.ok);
    throw new WantingError(
      `after applying the changes up to the fence, verification found ${bad.length} mismatch${bad.length === 1 ? '' : 'es'}` +
        (bad[0] ? `, e.g. tenant "${bad[0].tenant}" table ${bad[0].table}: source ${bad[0].sourceRows} rows, target ${bad[0].targetRows}` : ''),
      'the application writes must stay stopped; undo with `oasys-migrate revert` (the source is unchanged) and report the mismatch',
    );
  }
  if (verify.results.length > 0) await saveVerify(session.target, runId, verify);
  if (await dropSlot(session.source, row.slot)) log.info(`replication slot ${row.slot} dropped`);
  await stamp(session.target, runId, 'slot_dropped_at');
  await setRunState(session.target, runId, 'completed');
  await stamp(session.target, runId, 'cutover_at');
  lap('finish');
  const d = await session.target.query<{ s: number }>(
    `SELECT EXTRACT(epoch FROM cutover_at - writes_stopped_at)::float8 AS s FROM oasys_migrate.online WHERE run_id = $1`,
    [runId],
  );
  return {
    runId,
    already: false,
    changesApplied: row.changesApplied,
    downtimeSeconds: d.rows[0]?.s ?? 0,
    tenantsVerified: tenants,
    pairsVerified: pairs,
    pairsVerifiedBefore: clean.size,
    downtime,
    verify,
    slot: row.slot,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The tenants and their tables' definitions as when the run was planned (SPEC: the source fingerprint). */
async function sourceUnchanged(session: Session, run: RunRow): Promise<void> {
  const { plan } = await planWithSession(session);
  if (plan.sourceFingerprint !== run.sourceFingerprint) {
    throw new WantingError(
      `the source changed since online run #${run.runId} started (a tenant table's definition differs, or a tenant schema was added or removed): changes made under the new definition cannot be applied to the planned tables`,
      'undo this run with `oasys-migrate revert` (it drops the replication slot), then plan and run again',
    );
  }
}
