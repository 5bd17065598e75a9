import type { ResolvedConfig } from '../config/load.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { findUnfinishedRun, latestRun, loadPlan, stateSchemaExists } from '../state/journal.js';
import { preexistingRows, verifyPlan, type VerifyReport } from '../verify/checksum.js';
import { openSession } from './session.js';
import { describeSourceWrites, sourceWrites, type SourceWrite } from '../verify/sourceWrites.js';
import { restrictTenants, skipTenants } from '../discover/tenants.js';
import { reportContext, type ReportContext } from '../report/context.js';

/**
 * Recomputes counts and checksums for the latest run's plan (completed or
 * not), on both sides. Read-only.
 */
export async function verifyCommand(
  cfg: ResolvedConfig, log: Logger, opts: { context?: boolean } = {},
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
    const plan = await loadPlan(s.target, run.runId);
    // An unknown --tenants name is exit 2, not a verification of zero pairs.
    const chosen = skipTenants(restrictTenants(plan.tenants, cfg.only, `run #${run.runId}`), cfg.skip, `run #${run.runId}`);
    const report = await verifyPlan({
      source: s.source, target: s.target, plan, concurrency: cfg.concurrency, rlsSetting: cfg.rls.setting,
      tenants: cfg.only || cfg.skip ? chosen.map((t) => t.schema) : undefined,
      preexisting: await preexistingRows(s.target, run.runId),
    });
    // A mismatch whose source changed after its copy: the application still writes to the tenant schemas.
    const written = report.ok ? [] : await sourceWrites(s.source, s.target, run.runId, plan, report.results.filter((r) => !r.ok));
    if (written.length > 0) {
      log.warn(`the source changed after it was copied — ${describeSourceWrites(written)}; once writes to the tenant schemas have stopped: oasys-migrate run --recopy ${[...new Set(written.map((w) => w.tenant))].join(',')}`);
    }
    // verify --report: the servers, versions and the run's timings for the change ticket.
    const context = opts.context ? await reportContext(s.source, s.target, cfg.sameDatabase, run) : undefined;
    return { ...report, runId: run.runId, ...(written.length > 0 ? { sourceWrites: written } : {}), ...(context ? { context } : {}) };
  } finally {
    await s.close();
  }
}
