import type pg from 'pg';
import { EnvironmentError, pgFields } from '../errors.js';
import { backendPid, withTransaction } from './connect.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * DDL on a table the application may be using waits at most `timeoutMs` for
 * its lock, so it never queues in front of the application's queries (every
 * later query on that table would queue behind it); it is retried a few times
 * with a pause between attempts, then given up with the blocking session named.
 */
export interface LockPolicy {
  timeoutMs: number;
  /** Attempts in all (default 3). */
  attempts?: number;
  /** Pause before the second attempt, doubled after each (default 1 s). */
  backoffMs?: number;
}

export interface Blocker {
  pid: number;
  user: string | null;
  application: string | null;
  state: string | null;
  since: string | null;
  query: string | null;
}

export function isLockTimeout(err: unknown): boolean {
  return pgFields(err)?.code === '55P03';
}

/** Sets the transaction's lock_timeout (bound, never interpolated). */
export async function setLockTimeout(db: Queryable, policy: LockPolicy): Promise<void> {
  await db.query(`SELECT pg_catalog.set_config('lock_timeout', $1, true)`, [`${Math.max(1, Math.round(policy.timeoutMs))}ms`]);
}

/**
 * Watches a backend while it may wait for a lock: shortly before the timeout,
 * asks another connection who blocks it, so the final error can name them
 * (after the timeout the wait, and with it pg_blocking_pids, is gone).
 */
export function watchBlockers(pool: pg.Pool, pid: number, policy: LockPolicy): { stop(): void; blockers(): Blocker[] } {
  let seen: Blocker[] = [];
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const look = async () => {
    try {
      const r = await pool.query<{ pid: number; usr: string | null; app: string | null; state: string | null; since: string | null; query: string | null }>(
        `SELECT a.pid, a.usename::text AS usr, a.application_name AS app, a.state,
                to_char(COALESCE(a.xact_start, a.backend_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"') AS since,
                left(regexp_replace(a.query, '\\s+', ' ', 'g'), 160) AS query
           FROM pg_catalog.pg_stat_activity a WHERE a.pid = ANY (pg_catalog.pg_blocking_pids($1))`,
        [pid],
      );
      if (r.rows.length > 0) seen = r.rows.map((x) => ({ pid: x.pid, user: x.usr, application: x.app, state: x.state, since: x.since, query: x.query }));
    } catch {
      // Naming the blocker is a courtesy: the lock timeout itself still stops the wait.
    }
    if (!stopped) timer = setTimeout(look, Math.max(50, policy.timeoutMs / 2));
  };
  timer = setTimeout(look, Math.max(20, Math.min(policy.timeoutMs * 0.5, policy.timeoutMs - 50)));
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
    blockers: () => seen,
  };
}

export function describeBlockers(blockers: Blocker[]): string {
  if (blockers.length === 0) return 'another session (it had let go by the time it was looked up)';
  return blockers
    .map(
      (b) =>
        `pid ${b.pid}${b.user ? ` (user "${b.user}"` : ' ('}${b.application ? `, application "${b.application}"` : ''}${b.state ? `, ${b.state}` : ''}${b.since ? ` since ${b.since}` : ''})${b.query && b.query !== '<insufficient privilege>' ? `: ${b.query}` : ''}`,
    )
    .join('; ');
}

export function lockGiveUpError(what: string, policy: LockPolicy, blockers: Blocker[], cause: unknown): EnvironmentError {
  const attempts = policy.attempts ?? 3;
  const pids = blockers.map((b) => b.pid);
  return new EnvironmentError(
    `${what}: waited ${attempts} × ${policy.timeoutMs} ms for a table lock held by ${describeBlockers(blockers)}; gave up rather than queue in front of the application's queries`,
    `let that session finish${pids.length > 0 ? ` (or end it: SELECT pg_terminate_backend(${pids[0]}))` : ''}, or raise --lock-timeout; then run the command again — nothing of this step was written, and a run resumes where it stopped`,
    cause,
  );
}

/**
 * Runs `attempt` (one whole transaction) until it does not end on a lock
 * timeout, at most `policy.attempts` times; the last lock timeout becomes an
 * environment error (exit 3) naming the blocking sessions that `attempt`
 * reported through `blockers`.
 */
export async function retryOnLockTimeout<T>(what: string, policy: LockPolicy, attempt: (report: (b: Blocker[]) => void) => Promise<T>): Promise<T> {
  const attempts = policy.attempts ?? 3;
  let pause = policy.backoffMs ?? 1_000;
  let blockers: Blocker[] = [];
  for (let i = 1; ; i++) {
    try {
      return await attempt((b) => {
        if (b.length > 0) blockers = b;
      });
    } catch (err) {
      if (!isLockTimeout(err)) throw err;
      if (i >= attempts) throw lockGiveUpError(what, policy, blockers, err);
      await new Promise((r) => setTimeout(r, pause));
      pause *= 2;
    }
  }
}

/** A transaction on `pool` with lock_timeout set and the blockers watched, retried on lock timeouts. */
export async function withLockedTransaction<T>(pool: pg.Pool, what: string, policy: LockPolicy, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return retryOnLockTimeout(what, policy, async (report) => {
    let watch: ReturnType<typeof watchBlockers> | undefined;
    try {
      return await withTransaction(pool, async (client) => {
        watch = watchBlockers(pool, backendPid(client), policy);
        await setLockTimeout(client, policy);
        return fn(client);
      });
    } finally {
      watch?.stop();
      report(watch?.blockers() ?? []);
    }
  });
}
