import os from 'node:os';
import type pg from 'pg';
import { connectClient } from '../db/connect.js';
import { EnvironmentError } from '../errors.js';

/**
 * One advisory lock per target database serialises `run` and `revert`. It is
 * held on a dedicated connection (never a pooled one, which could hand the
 * lock's session to other work or release it by recycling), for the whole
 * command; if the process dies, the server releases it with the connection.
 */
export const LOCK_KEY = 0x6f617379; // 'oasy'

export interface HeldLock {
  /** True once the lock's connection ended or failed: the server has released the lock. */
  lost(): boolean;
  /** Calls `fn` once, when the lock is lost. */
  onLost(fn: () => void): void;
  release(): Promise<void>;
}

export async function acquireLock(url: string | undefined, command: string): Promise<HeldLock> {
  // The application name carries this process's pid and host, so a second run can say who holds the lock.
  const applicationName = `oasys-migrate ${command} pid ${process.pid}@${os.hostname()}`.slice(0, 63);
  const client = await connectClient({ url, role: 'target', applicationName });
  let got = false;
  try {
    got = (await client.query<{ ok: boolean }>('SELECT pg_catalog.pg_try_advisory_lock($1::int8) AS ok', [LOCK_KEY])).rows[0].ok;
    if (!got) {
      const holder = await describeHolder(client);
      throw new EnvironmentError(
        `another oasys-migrate run or revert is active on the target database${holder}`,
        'wait for it to finish, or if that process is gone for good, end its session with pg_terminate_backend(pid); then try again',
      );
    }
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  let lost = false;
  let releasing = false;
  const listeners: (() => void)[] = [];
  const onLost = () => {
    if (releasing || lost) return;
    lost = true;
    for (const fn of listeners) fn();
  };
  client.on('error', onLost);
  client.on('end', onLost);
  return {
    lost: () => lost,
    onLost: (fn) => listeners.push(fn),
    async release() {
      releasing = true;
      await client.query('SELECT pg_catalog.pg_advisory_unlock($1::int8)', [LOCK_KEY]).catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

async function describeHolder(client: pg.Client): Promise<string> {
  const r = await client.query<{ pid: number; app: string; since: Date; usename: string; client_addr: string | null }>(
    `SELECT a.pid, a.application_name AS app, a.backend_start AS since, a.usename, a.client_addr::text AS client_addr
       FROM pg_catalog.pg_locks l
       JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted
        AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
        AND l.classid = 0 AND l.objid = $1::oid AND l.objsubid = 1
      LIMIT 1`,
    [LOCK_KEY],
  );
  const h = r.rows[0];
  if (!h) return '';
  return `: held by "${h.app || 'no application name'}" (server pid ${h.pid}, role ${h.usename}${h.client_addr ? ` from ${h.client_addr}` : ''}) since ${h.since.toISOString()}`;
}
