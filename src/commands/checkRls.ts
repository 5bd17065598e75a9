import type { ResolvedConfig } from '../config/load.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { checkRls, DEFAULT_SAMPLE, type RlsCheckReport } from '../rls/check.js';
import { listRuns, loadPlan, stateSchemaExists } from '../state/journal.js';
import { openSession } from '../db/session.js';
import { restrictTenants, skipTenants } from '../discover/tenants.js';

export interface CheckRlsOptions {
  /** Tenants to probe, spread over the list (default 5). */
  sample?: number;
}

/**
 * `check-rls --role <role>`: proves isolation as the application role on the
 * unified tables of the latest completed run. Writes nothing: every probe is
 * rolled back. `--tenants a,b` restricts the tenants probed.
 */
export async function checkRlsCommand(cfg: ResolvedConfig, log: Logger, role: string, opts: CheckRlsOptions = {}): Promise<RlsCheckReport> {
  if (!role || role.trim() === '') throw new UsageError('check-rls needs the application role', 'give it with --role <app_role>');
  const s = await openSession(cfg, log);
  try {
    const noRun = 'run `oasys-migrate run` first';
    if (!(await stateSchemaExists(s.target))) {
      throw new UsageError('nothing to check: no oasys-migrate run is recorded in the target database', noRun);
    }
    const runs = await listRuns(s.target);
    const lastCompleted = [...runs].reverse().find((r) => r.state === 'completed');
    const unfinished = runs.find((r) => (lastCompleted === undefined || r.runId > lastCompleted.runId) && r.state !== 'reverted');
    if (unfinished) {
      throw new UsageError(
        `run #${unfinished.runId} is ${unfinished.state}: row-level security may not be installed yet`,
        unfinished.state === 'reverting'
          ? 'finish the revert: oasys-migrate revert'
          : 'finish it with `oasys-migrate run` (it resumes), or undo it with `oasys-migrate revert`',
      );
    }
    if (!lastCompleted) {
      throw new UsageError('nothing to check: no completed oasys-migrate run is recorded in the target database', noRun);
    }
    const plan = await loadPlan(s.target, lastCompleted.runId, cfg.rls);
    // After a canary and the rest, the tenants of every completed run (into the same tables) are probed.
    const completed = runs.filter((r) => r.state === 'completed');
    const plans = await Promise.all(completed.map(async (r) => (r.runId === lastCompleted.runId ? plan : loadPlan(s.target, r.runId, cfg.rls))));
    const allTenants = [...new Map(plans.flatMap((p) => p.tenants.map((t) => [t.schema, t] as const))).values()];
    const tables = [...new Map(plans.filter((p) => p.targetSchema === plan.targetSchema).flatMap((p) => p.tables.map((t) => [t.target, t] as const))).values()];
    const of = completed.length === 1 ? `run #${lastCompleted.runId}` : `runs #${completed.map((r) => r.runId).join(', #')}`;
    const tenants = skipTenants(restrictTenants(allTenants, cfg.only, of), cfg.skip, of);
    const sample = opts.sample ?? DEFAULT_SAMPLE;
    log.info(
      `checking row-level security as "${role}" on ${tables.length} tables of ${of}, probing ${Math.min(sample, tenants.length)} of ${tenants.length} tenants`,
    );
    return await checkRls(s.target, {
      role,
      targetSchema: plan.targetSchema,
      tenantColumn: plan.tenantColumn,
      setting: plan.rls.setting,
      tables: tables.map((t) => ({ name: t.target, tenantColumnType: t.tenantColumnType })),
      tenants: tenants.map((t) => ({ schema: t.schema, tenantId: t.tenantId })),
      sample,
      citus: plan.citus !== undefined,
    });
  } finally {
    await s.close();
  }
}
