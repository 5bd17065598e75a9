import type { ResolvedConfig } from '../config/load.js';
import { withTransaction } from '../db/connect.js';
import { discover } from '../discover/discover.js';
import type { Logger } from '../log.js';
import { buildPlan } from '../plan/build.js';
import type { Plan } from '../plan/model.js';
import { hasBlocking } from '../discover/problems.js';
import { withPreflight } from '../preflight/preflight.js';
import { lockTableProblems } from '../preflight/lockTable.js';
import { openSession, type Session } from '../db/session.js';
import { sortProblems } from '../discover/problems.js';
import { countMerges } from '../merge/count.js';
import { onlineProblems } from '../online/prereq.js';
import { readKeyBounds } from '../discover/keyBounds.js';
import { tenantTableStats } from '../report/size.js';
import { estimatePlan, type Estimate } from '../report/estimate.js';

export interface PlanResult {
  plan: Plan;
  /** Catalog queries discovery sent (a test holds this constant as tenants grow). */
  queryCount: number;
  blocking: boolean;
  seconds: number;
  /** `plan` only: the tenant tables' size on disk per unified table (bytes; heap, TOAST, indexes). */
  sizes?: Record<string, number>;
  /** `plan` only: disk the target needs, free space where known, how long `run` should take. */
  estimate?: Estimate;
}

/**
 * Discovers and plans inside READ ONLY transactions: the database itself
 * guarantees that a dry run writes nothing. Takes no lock, creates nothing.
 */
export async function planWithSession(s: Session): Promise<PlanResult> {
  const started = performance.now();
  const { plan, queryCount, tenants } = await discoverAndBuild(s);
  plan.problems.push(...(await lockTableProblems(s.source, plan, s.cfg.concurrency)));
  await withPreflight(s.source, s.target, plan);
  if (s.cfg.online) {
    plan.problems.push(...(await onlineProblems(s.source, plan)));
    sortProblems(plan.problems);
  }
  // Merged lookup tables: how many rows each side has and adds (read-only, from the data).
  if (plan.merges?.length) {
    await withTransaction(s.source, (src) => countMerges(src, s.target, plan), { readOnly: true });
    sortProblems(plan.problems);
  }
  s.log.debug(`discovery: ${tenants} tenants, ${queryCount} catalog queries`);
  return { plan, queryCount, blocking: hasBlocking(plan.problems), seconds: (performance.now() - started) / 1000 };
}

/**
 * The plan, and of discovery only its counts: its catalog of every tenant table (250,000 table
 * definitions at 50,000 tenants) is garbage once the plan is built, not held through the checks
 * that follow.
 */
async function discoverAndBuild(s: Session): Promise<{ plan: Plan; queryCount: number; tenants: number }> {
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
      return withTransaction(
        s.target,
        async (tgt) => {
          await tgt.query('SET LOCAL enable_nestloop = off');
          return discover(src, tgt, cfg);
        },
        { readOnly: true, isolation: 'REPEATABLE READ' },
      );
    },
    { readOnly: true, isolation: 'REPEATABLE READ' },
  );
  // Whale tables' key histograms: their copies are planned in chunks (src/plan/chunks.ts).
  discovery.keyBounds = await readKeyBounds(s.source, discovery.source, cfg.chunkRows);
  return { plan: buildPlan(cfg, discovery), queryCount: discovery.queryCount, tenants: discovery.tenants.length };
}

export async function planCommand(cfg: ResolvedConfig, log: Logger): Promise<PlanResult> {
  const s = await openSession(cfg, log);
  try {
    const r = await planWithSession(s);
    // Like discovery, a catalog-wide read: hash joins, whatever the (stale, right after thousands of
    // schemas were created) catalog statistics make the planner believe.
    const stats = await withTransaction(
      s.source,
      async (c) => {
        await c.query(`SET LOCAL work_mem = '64MB'`);
        await c.query('SET LOCAL enable_nestloop = off');
        return tenantTableStats(c, r.plan);
      },
      { readOnly: true },
    );
    const sizes = Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, v.bytes]));
    const estimate = await estimatePlan(s.source, s.target, r.plan, stats, r.seconds);
    if (estimate.freeSpace.short) sortProblems(r.plan.problems);
    return { ...r, sizes, estimate, blocking: hasBlocking(r.plan.problems) };
  } finally {
    await s.close();
  }
}
