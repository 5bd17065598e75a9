import pg from 'pg';
import { EnvironmentError, describeError, isEnvironmentSqlState, isNetworkError, pgFields } from '../errors.js';
import { redactText, redactUrl, registerSecret, passwordOf } from './redact.js';

/**
 * Session settings that make the text form of values identical on every
 * connection and server, so checksums computed on two databases compare,
 * and so no timeout of the caller's role cuts a long copy short.
 */
export const SESSION_SETTINGS: Record<string, string> = {
  TimeZone: 'UTC',
  DateStyle: 'ISO, YMD',
  IntervalStyle: 'postgres',
  extra_float_digits: '1',
  bytea_output: 'hex',
  search_path: 'pg_catalog',
  statement_timeout: '0',
  idle_in_transaction_session_timeout: '0',
  lock_timeout: '0',
};

export const APPLICATION_NAME = 'oasys-migrate';

export interface ConnectOptions {
  url?: string;
  role: 'source' | 'target';
  max?: number;
  applicationName?: string;
  /** Every transaction read-only: the server itself refuses a write (the source of a separate-target run). */
  readOnly?: boolean;
  connectTimeoutMs?: number;
}

function clientConfig(opts: ConnectOptions): pg.ClientConfig {
  registerSecret(passwordOf(opts.url));
  if (process.env.PGPASSWORD) registerSecret(process.env.PGPASSWORD);
  const settings = opts.readOnly ? { ...SESSION_SETTINGS, default_transaction_read_only: 'on' } : SESSION_SETTINGS;
  const options = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v.replace(/([\\ ])/g, '\\$1')}`)
    .join(' ');
  return {
    connectionString: opts.url,
    application_name: opts.applicationName ?? `${APPLICATION_NAME} ${opts.role}`,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    options,
  };
}

/** A pool for one side. Every connection is checked on first use (see `checkConnection`). */
export function createPool(opts: ConnectOptions): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(opts), max: opts.max ?? 4, idleTimeoutMillis: 30_000 });
  // A client losing its server (pg_terminate_backend, a restart) must not crash the process with an
  // unhandled 'error' event, idle or checked out: the query in flight rejects and reports it.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** A dedicated connection (never from a pool) — used for the advisory lock. */
export async function connectClient(opts: ConnectOptions): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(opts));
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw connectionError(err, opts);
  }
  return client;
}

/** Opens and closes one connection so that a bad URL fails early with exit 3. */
export async function checkConnection(pool: pg.Pool, opts: ConnectOptions): Promise<{ version: string; serverVersionNum: number }> {
  try {
    const r = await pool.query<{ v: string; n: string }>(
      `SELECT version() AS v, current_setting('server_version_num') AS n`,
    );
    return { version: r.rows[0].v, serverVersionNum: Number(r.rows[0].n) };
  } catch (err) {
    throw connectionError(err, opts);
  }
}

export function connectionError(err: unknown, opts: ConnectOptions): Error {
  if (err instanceof EnvironmentError) return err;
  const code = pgFields(err)?.code;
  if (isNetworkError(err) || isEnvironmentSqlState(code)) {
    return new EnvironmentError(
      `cannot connect to the ${opts.role} database ${redactUrl(opts.url)}: ${redactText(describeError(err))}`,
      `check that the server is running and reachable and that the URL (--${opts.role}, OASYS_${opts.role.toUpperCase()}_URL, DATABASE_URL or PG* variables) is right`,
      err,
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** Runs `fn` in a transaction on one pooled client; rolls back on any error. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  opts: { readOnly?: boolean; isolation?: 'REPEATABLE READ' | 'READ COMMITTED' } = {},
): Promise<T> {
  const client = await pool.connect();
  try {
    const mode = [opts.isolation ? `ISOLATION LEVEL ${opts.isolation}` : '', opts.readOnly ? 'READ ONLY' : '']
      .filter(Boolean)
      .join(' ');
    await client.query(`BEGIN ${mode}`);
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    client.release();
  }
}
