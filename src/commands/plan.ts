import type { ResolvedConfig } from '../config/load.js';
import { withTransaction } from '../db/connect.js';
import { discover, type Discovery } from '../discover/discover.js';
import type { Logger } from '../log.js';
import { buildPlan } from '../plan/build.js';
import type { Plan } from '../plan/model.js';
import { hasBlocking, ProblemCode, sortProblems } from '../plan/problems.js';
import { ident } from '../db/ident.js';
import { completedRuns, stateSchemaExists } from '../state/journal.js';
import { sourcePrivileges, targetPrivileges } from '../db/privileges.js';
import { openSession, type Session } from './session.js';
import { tenantTableSizes } from '../report/size.js';

export interface PlanResult {
  plan: Plan;
  discovery: Discovery;
  blocking: boolean;
  seconds: number;
  /** `plan` only: the tenant tables' size on disk per unified table (bytes; heap, TOAST, indexes). */
  sizes?: Record<string, number>;
}

/**
 * Discovers and plans inside READ ONLY transactions: the database itself
 * guarantees that a dry run writes nothing. Takes no lock, creates nothing.
 */
export async function planWithSession(s: Session): Promise<PlanResult> {
  const started = performance.now();
  const { cfg } = s;
  const discovery = await withTransaction(
    s.source,
    async (src) => {
      // Discovery reads whole catalogs: hash joins, in memory. Right after thousands of schemas were
      // created (a restored dump in CI) the catalogs' statistics are stale and the planner picks
      // nested loops that take twice as long at 10,000 tenants.
      await src.query(`SET LOCAL work_mem = '64MB'`);
      await src.query('SET LOCAL enable_nestloop = off');
      if (cfg.sameDatabase) return discover(src, src, cfg);
      return withTransaction(s.target, async (tgt) => {
        await tgt.query('SET LOCAL enable_nestloop = off');
        return discover(src, tgt, cfg);
      }, { readOnly: true, isolation: 'REPEATABLE READ' });
    },
    { readOnly: true, isolation: 'REPEATABLE READ' },
  );
  const plan = buildPlan(cfg, discovery);
  // What run would lack, said now (run itself refuses with exit 3 before writing anything).
  for (const m of [...(await targetPrivileges(s.target, plan)), ...(await sourcePrivileges(s.source, plan))]) {
    plan.problems.unshift({ severity: 'warning', code: ProblemCode.PRIVILEGE_MISSING, message: `${m.side}: ${m.what}`, hint: m.grant });
  }
  // Tenants a completed run already migrated: run would only verify them (or refuse an overlap).
  if (await stateSchemaExists(s.target)) {
    const selected = new Set(plan.tenants.map((t) => t.schema));
    for (const r of await completedRuns(s.target)) {
      const overlap = r.tenants.filter((t) => selected.has(t));
      if (overlap.length === 0) continue;
      plan.problems.push({
        severity: 'info', code: ProblemCode.ALREADY_MIGRATED,
        message: `run #${r.runId} (completed ${r.finishedAt?.toISOString() ?? ''}) already migrated ${overlap.length} of the selected tenants: \`run\` skips them (with the same configuration) and migrates only the others`,
        hint: 'to migrate them again, `oasys-migrate revert` first',
      });
    }
  }
  // A table to be filled that already holds rows of the selected tenants: they stay, and without
  // a key nothing would stop a second copy of the same rows (e.g. after the journal was dropped).
  for (const t of plan.tables.filter((x) => x.action === 'fill')) {
    const ids = plan.tenants.filter((x) => t.tenants.includes(x.schema)).map((x) => x.tenantId);
    const r = await s.target.query<{ n: number }>(
      `SELECT count(DISTINCT ${ident(cfg.tenantColumn)})::int AS n FROM ${ident(cfg.targetSchema, t.target)} WHERE ${ident(cfg.tenantColumn)} = ANY ($1::${t.tenantColumnType}[])`,
      [ids],
    );
    if (r.rows[0].n > 0) {
      plan.problems.push({
        severity: 'warning', code: ProblemCode.TARGET_HAS_TENANT_ROWS, table: t.source,
        message: `${cfg.targetSchema}.${t.target} already holds rows of ${r.rows[0].n} of the selected tenants; they stay, and a migrated row that collides with one on the table's key is a data error${t.sourceKey ? '' : ' (the tenants\' table has no primary key: identical rows would not collide)'}`,
        hint: 'if an earlier migration already copied these tenants (its journal gone), revert or clean it first; otherwise nothing to do',
      });
    }
  }
  sortProblems(plan.problems);
  s.log.debug(`discovery: ${discovery.tenants.length} tenants, ${discovery.queryCount} catalog queries`);
  return { plan, discovery, blocking: hasBlocking(plan.problems), seconds: (performance.now() - started) / 1000 };
}

export async function planCommand(cfg: ResolvedConfig, log: Logger): Promise<PlanResult> {
  const s = await openSession(cfg, log);
  try {
    const r = await planWithSession(s);
    return { ...r, sizes: await tenantTableSizes(s.source, r.plan) };
  } finally {
    await s.close();
  }
}
