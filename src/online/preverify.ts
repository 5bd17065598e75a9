import type { Session } from '../db/session.js';
import type { Logger } from '../log.js';
import type { Plan } from '../plan/model.js';
import { preexistingRows, verifyPlan } from '../verify/checksum.js';
import { changedScope } from './cutover.js';
import { lsnGreater } from './follow.js';
import { onlineOf, setPreverified, type OnlineRow } from './state.js';

/**
 * Pairs that need no verification at the stop: found equal with the target at preverifiedLsn, and
 * no change to them applied after it — so both sides are still what was compared.
 */
export function cleanPairs(row: OnlineRow): Set<string> {
  const at = row.preverifiedLsn;
  const lsns = row.pairLsns;
  if (!at || !lsns) return new Set();
  return new Set(row.preverifiedPairs.filter((p) => lsns[p] !== undefined && !lsnGreater(lsns[p], at)));
}

/**
 * Verification moved before the write stop. The caller holds the run's lock, so nothing is applied
 * meanwhile: the target is exactly the source up to applied_lsn (P0). The source is read while the
 * application writes; a pair it changed after P0 may differ now, and that change, applied later (at
 * the latest up to the fence), journals the pair with a position after P0: the cut-over then
 * verifies it again. A pair equal here and not changed after P0 is equal at the stop.
 * Frozen tables are left to the stop: they are copied again there.
 */
export async function preverify(
  session: Session,
  runId: number,
  plan: Plan,
  log: Logger,
  stop?: { stopping: boolean },
): Promise<{ pairs: number; equal: number; seconds: number } | undefined> {
  const started = performance.now();
  const row = await onlineOf(session.target, runId);
  if (!row?.appliedLsn || !row.pairsChanged || !row.pairLsns) return undefined;
  const clean = cleanPairs(row);
  const todo = row.pairsChanged.filter((p) => !clean.has(p));
  const scope = { ...changedScope(plan, [], todo), shared: [] };
  const tenants = [...new Set(scope.tables.flatMap((t) => t.tenants))];
  const pairs = scope.tables.reduce((n, t) => n + t.tenants.length, 0);
  let equal: string[] = [];
  if (pairs > 0) {
    log.info(`verifying ${pairs} changed tenant tables while the application still writes (those changed again are verified at the cut-over)`);
    const wanted = new Set(todo);
    const v = await verifyPlan({
      source: session.source,
      target: session.target,
      plan: scope,
      tenants,
      concurrency: session.cfg.concurrency,
      stop,
      preexisting: await preexistingRows(session.target, runId),
    });
    equal = v.results
      .filter((r) => r.ok)
      .map((r) => JSON.stringify([r.tenant, r.table]))
      .filter((p) => wanted.has(p));
  }
  await setPreverified(session.target, runId, row.appliedLsn, [...clean, ...equal]);
  return { pairs, equal: equal.length, seconds: (performance.now() - started) / 1000 };
}
