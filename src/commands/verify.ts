import type { ResolvedConfig } from '../config/load.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { completedRuns, findUnfinishedRun, latestRun, loadPlanFacts, stateSchemaExists } from '../state/journal.js';
import type { VerifyReport } from '../verify/checksum.js';
import { verifyRuns } from './canary.js';
import { openSession } from '../db/session.js';
import { describeSourceWrites, sourceWrites, type SourceWrite } from '../verify/sourceWrites.js';
import { restrictTenants, skipTenants } from '../discover/tenants.js';
import { reportContext, type ReportContext } from '../report/context.js';

/**
 * Recomputes counts and checksums on both sides: for an unfinished latest run,
 * its plan; otherwise every completed run's (a canary, the rest, later
 * tenants — each against its own plan). Read-only.
 */
export async function verifyCommand(
  cfg: ResolvedConfig,
  log: Logger,
  opts: { context?: boolean } = {},
): Promise<VerifyReport & { runId: number; sourceWrites?: SourceWrite[]; context?: ReportContext }> {
  const s = await openSession(cfg, log);
  try {
    if (!(await stateSchemaExists(s.target))) {
      throw new UsageError('nothing to verify: no oasys-migrate run is recorded in the target database', 'run `oasys-migrate run` first');
    }
    const run = (await findUnfinishedRun(s.target)) ?? (await latestRun(s.target));
    if (!run || run.state === 'reverted') {
      throw new UsageError('nothing to verify: the latest run was reverted (or none exists)', 'run `oasys-migrate run` first');
    }
    // After a canary and the rest (runs into the same unified tables), every completed run's tenants are verified.
    const runs =
      run.state === 'completed'
        ? await Promise.all((await completedRuns(s.target)).map(async (r) => ({ runId: r.runId, plan: await loadPlanFacts(s.target, r.runId, cfg.rls) })))
        : [{ runId: run.runId, plan: await loadPlanFacts(s.target, run.runId, cfg.rls) }];
    const of = runs.length === 1 ? `run #${run.runId}` : `runs #${runs.map((r) => r.runId).join(', #')}`;
    const all = [...new Map(runs.flatMap((r) => r.plan.tenants.map((t) => [t.schema, t] as const))).values()];
    // An unknown --tenants name is exit 2, not a verification of zero pairs.
    const chosen = skipTenants(restrictTenants(all, cfg.only, of), cfg.skip, of);
    const report = await verifyRuns(s, cfg, runs, cfg.only || cfg.skip ? new Set(chosen.map((t) => t.schema)) : undefined);
    // A mismatch whose source changed after its copy: the application still writes to the tenant schemas.
    const written: SourceWrite[] = [];
    for (const r of report.perRun) {
      const bad = r.results.filter((x) => !x.ok);
      if (bad.length > 0) written.push(...(await sourceWrites(s.source, s.target, r.runId, r.plan, bad)));
    }
    if (written.length > 0) {
      log.warn(
        `the source changed after it was copied — ${describeSourceWrites(written)}; once writes to the tenant schemas have stopped: oasys-migrate run --recopy ${[...new Set(written.map((w) => w.tenant))].join(',')}`,
      );
    }
    // verify --report: the servers, versions and the run's timings for the change ticket.
    const context = opts.context ? await reportContext(s.source, s.target, cfg.sameDatabase, run) : undefined;
    const { perRun: _perRun, ...plain } = report;
    return { ...plain, runId: run.runId, ...(written.length > 0 ? { sourceWrites: written } : {}), ...(context ? { context } : {}) };
  } finally {
    await s.close();
  }
}
