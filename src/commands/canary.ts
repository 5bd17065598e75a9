/**
 * The canary flow: `run --tenants a,b`, then a plain `run` migrates the
 * remaining tenants into the same unified tables (and a later `run`, tenants
 * registered since). Tenants a completed, unreverted run already migrated with
 * the same configuration are skipped, not refused; with another configuration
 * they are still refused (their rows were shaped by the other one).
 */
import type { ResolvedConfig } from '../config/load.js';
import { WantingError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Plan, PlanFacts } from '../plan/model.js';
import { completedRuns, loadPlan, type RunRow } from '../state/journal.js';
import { preexistingRows, verifyPlan, type VerifyReport } from '../verify/checksum.js';
import type { StopSignal } from '../copy/execute.js';
import { planWithSession } from './plan.js';
import type { Session } from '../db/session.js';

export type EarlierRun = RunRow & { tenants: string[] };

export type CanaryOutcome =
  /** Every selected tenant was migrated already: verified again, nothing to copy. */
  | { done: { runId: number; plan: Plan; verify: VerifyReport } }
  /** The plan for the tenants no earlier run migrated. */
  | { fresh: { plan: Plan }; skipped: string[] };

const few = (xs: string[]) =>
  xs
    .slice(0, 5)
    .map((t) => JSON.stringify(t))
    .join(', ') + (xs.length > 5 ? `, … (${xs.length})` : '');

export async function continueAfterEarlierRuns(
  session: Session,
  cfg: ResolvedConfig,
  cfgFp: string,
  fresh: { plan: Plan },
  earlier: EarlierRun[],
  log: Logger,
  stop?: StopSignal,
): Promise<CanaryOutcome> {
  const selected = new Set(fresh.plan.tenants.map((t) => t.schema));
  const other = earlier.filter((r) => r.configFingerprint !== cfgFp);
  if (other.length > 0) {
    const overlap = [...new Set(other.flatMap((r) => r.tenants.filter((t) => selected.has(t))))];
    throw new WantingError(
      `tenant${overlap.length > 1 ? 's' : ''} ${few(overlap)} ${overlap.length > 1 ? 'were' : 'was'} already migrated by run #${other.map((r) => r.runId).join(', #')} ` +
        'with a different configuration; migrating them again would duplicate their rows, and the others would go into tables shaped by another configuration',
      'run with the configuration of that run to migrate the remaining tenants, or `oasys-migrate revert` first to redo them',
    );
  }
  const migrated = new Set(earlier.flatMap((r) => r.tenants));
  const skipped = fresh.plan.tenants.map((t) => t.schema).filter((t) => migrated.has(t));
  const remaining = fresh.plan.tenants.filter((t) => !migrated.has(t.schema));
  if (remaining.length > 0) {
    log.info(
      `${skipped.length} tenant${skipped.length === 1 ? '' : 's'} (${few(skipped)}) already migrated by run #${earlier.map((r) => r.runId).join(', #')}: skipped; migrating the ${remaining.length} remaining`,
    );
    const rest = await planWithSession({ ...session, cfg: { ...cfg, only: remaining.map((t) => t.schema), skip: undefined } });
    return { fresh: { plan: rest.plan }, skipped };
  }
  // Nothing left: verify what the earlier runs did for the selected tenants.
  log.info(`run #${earlier.map((r) => r.runId).join(', #')} already migrated these tenants; nothing to copy, verifying`);
  const runs = await Promise.all(earlier.map(async (r) => ({ runId: r.runId, plan: await loadPlan(session.target, r.runId, cfg.rls) })));
  const merged = await verifyRuns(session, cfg, runs, selected, stop);
  if (!merged.ok) {
    throw new WantingError(
      `run #${earlier.map((r) => r.runId).join(', #')} completed earlier, but verification now finds mismatches`,
      'inspect with `oasys-migrate verify`; undo with `oasys-migrate revert`',
    );
  }
  const last = runs[runs.length - 1];
  return { done: { runId: last.runId, plan: last.plan, verify: merged } };
}

/**
 * Verifies several runs into the same unified tables (a canary, the rest, later tenants) as one
 * report: each run's tenants against its own plan and snapshot (restricted to `selected` when
 * given). Rows of other runs' tenants are "other tenants" to a run's tables, so only the latest
 * run judges the rows outside the migrated tenants, and only its shared tables count.
 */
export async function verifyRuns(
  session: Pick<Session, 'source' | 'target'>,
  cfg: Pick<ResolvedConfig, 'concurrency'>,
  runs: { runId: number; plan: PlanFacts }[],
  selected?: Set<string>,
  stop?: StopSignal,
): Promise<VerifyReport & { perRun: { runId: number; plan: PlanFacts; results: VerifyReport['results'] }[] }> {
  const started = performance.now();
  const merged: VerifyReport & { perRun: { runId: number; plan: PlanFacts; results: VerifyReport['results'] }[] } = {
    ok: true,
    results: [],
    anomalies: [],
    seconds: 0,
    perRun: [],
  };
  for (const [i, r] of runs.entries()) {
    const latest = i === runs.length - 1;
    const tenants = r.plan.tenants.map((t) => t.schema).filter((t) => !selected || selected.has(t));
    if (tenants.length === 0 && !latest) continue;
    const v = await verifyPlan({
      source: session.source,
      target: session.target,
      plan: r.plan,
      concurrency: cfg.concurrency,
      stop,
      tenants,
      preexisting: await preexistingRows(session.target, r.runId),
    });
    const results = latest ? v.results : v.results.filter((x) => x.tenant !== '(shared)');
    // Not push(...results): 250,000 arguments (50,000 tenants × 5 tables) overflow the call stack.
    for (const x of results) merged.results.push(x);
    merged.perRun.push({ runId: r.runId, plan: r.plan, results });
    if (latest) merged.anomalies = v.anomalies;
  }
  merged.ok = merged.results.every((x) => x.ok) && merged.anomalies.every((a) => a.ok);
  merged.seconds = (performance.now() - started) / 1000;
  return merged;
}

/**
 * Resuming an interrupted run for the rest (after a canary): a plain `run` selects every tenant,
 * the unfinished run only those no earlier run had migrated. When that is exactly the difference
 * (same configuration), the plan for the unfinished run's tenants, to compare with it; else undefined.
 */
export async function narrowToUnfinished(
  session: Session,
  cfg: ResolvedConfig,
  cfgFp: string,
  fresh: { plan: Plan },
  unfinishedPlan: Plan,
): Promise<{ plan: Plan } | undefined> {
  const was = new Set(unfinishedPlan.tenants.map((t) => t.schema));
  const now = fresh.plan.tenants.map((t) => t.schema);
  if (was.size === now.length) return undefined;
  const earlier = (await completedRuns(session.target)).filter((r) => r.configFingerprint === cfgFp);
  const migrated = new Set(earlier.flatMap((r) => r.tenants));
  const rest = now.filter((t) => !migrated.has(t));
  if (rest.length !== was.size || !rest.every((t) => was.has(t))) return undefined;
  return { plan: (await planWithSession({ ...session, cfg: { ...cfg, only: rest, skip: undefined } })).plan };
}
