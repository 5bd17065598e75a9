import pg from 'pg';
import { ConnStringError, resolveConnection, type ConnParams } from '../config/conninfo.js';
import { EnvironmentError, UsageError, describeError, isEnvironmentSqlState, isNetworkError, pgFields } from '../errors.js';
import { redactText, redactUrl, registerSecret } from './redact.js';
import { sslConfig } from './ssl.js';

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

/**
 * node-postgres's client config for a connection string (undefined: libpq's
 * PG* environment). The string is parsed once, by src/config/conninfo.ts, into
 * libpq keywords; pg never sees the string itself (it would read a key=value
 * string as a database name and give sslmode=require the meaning of
 * verify-full). A string the tool cannot honour is a UsageError (exit 2).
 */
export function clientConfig(opts: ConnectOptions, env: NodeJS.ProcessEnv = process.env): pg.ClientConfig {
  let p: ConnParams;
  try {
    p = resolveConnection(opts.url, env);
  } catch (err) {
    if (err instanceof ConnStringError) throw new UsageError(`--${opts.role}: ${err.message}`, err.hint, { keyPath: `--${opts.role}` });
    throw err;
  }
  registerSecret(p.password);
  if (env.PGPASSWORD) registerSecret(env.PGPASSWORD);
  const settings = opts.readOnly ? { ...SESSION_SETTINGS, default_transaction_read_only: 'on' } : SESSION_SETTINGS;
  // The user's options first: PostgreSQL applies -c settings in order, and the
  // tool's session settings must win (checksums depend on them).
  const options = [p.options, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v.replace(/([\\ ])/g, '\\$1')}`)].filter(Boolean).join(' ');
  const config: pg.ClientConfig = {
    // hostaddr is where libpq connects; host then only names the server (certificate check).
    host: p.hostaddr ?? p.host,
    port: p.port === undefined ? undefined : Number(p.port),
    database: p.dbname,
    user: p.user,
    password: p.password,
    ssl: sslConfig(p, opts.role),
    // The lock's connection keeps the name that identifies its holder; pools take the user's.
    application_name: opts.applicationName ?? p.application_name ?? `${APPLICATION_NAME} ${opts.role}`,
    connectionTimeoutMillis: connectTimeoutMs(p.connect_timeout) ?? opts.connectTimeoutMs ?? 10_000,
    options,
  };
  // Left undefined, pg falls back to PG* variables and its own defaults (see README).
  for (const k of Object.keys(config) as (keyof pg.ClientConfig)[]) if (config[k] === undefined) delete config[k];
  return config;
}

/** libpq's connect_timeout: seconds; zero or negative waits forever; below 2 counts as 2. */
function connectTimeoutMs(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return n <= 0 ? 0 : Math.max(2, n) * 1000;
}

/** A pool's connection string, for messages about a connection made from `pool.options`. */
const poolUrls = new WeakMap<pg.Pool, string | undefined>();
export function urlOfPool(pool: pg.Pool): string | undefined {
  return poolUrls.get(pool);
}

/** A pool for one side. Every connection is checked on first use (see `checkConnection`). */
export function createPool(opts: ConnectOptions): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(opts), max: opts.max ?? 4, idleTimeoutMillis: 30_000 });
  poolUrls.set(pool, opts.url);
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
    const r = await pool.query<{ v: string; n: string }>(`SELECT version() AS v, current_setting('server_version_num') AS n`);
    return { version: r.rows[0].v, serverVersionNum: Number(r.rows[0].n) };
  } catch (err) {
    throw connectionError(err, opts);
  }
}

export function connectionError(err: unknown, opts: ConnectOptions): Error {
  if (err instanceof EnvironmentError) return err;
  const code = pgFields(err)?.code;
  const text = describeError(err);
  const where = `cannot connect to the ${opts.role} database ${redactUrl(opts.url)}`;
  // sslmode=require/verify-* against a server without TLS: libpq fails the same way ("server does not support SSL").
  if (/does not support SSL|establishing an SSL connection/i.test(text)) {
    return new EnvironmentError(
      `${where}: the server does not accept TLS, and sslmode requires it`,
      'enable ssl on the server, or connect with sslmode=disable if an unencrypted connection is acceptable',
      err,
    );
  }
  if (isTlsError(err)) {
    return new EnvironmentError(
      `${where}: TLS: ${redactText(text)}`,
      'check sslrootcert (the CA that signed the server certificate) and that host names the server in its certificate; sslmode=verify-ca skips the name check, sslmode=require the whole verification',
      err,
    );
  }
  if (isNetworkError(err) || isEnvironmentSqlState(code)) {
    // A server that accepts only TLS (pg_hba hostssl) refuses the plain connection the tool makes without sslmode.
    const noTls = /no encryption/i.test(text) && code === '28000';
    return new EnvironmentError(
      `${where}: ${redactText(text)}`,
      noTls
        ? 'the server requires TLS: add sslmode=require (or verify-full with sslrootcert) to the connection string, or set PGSSLMODE'
        : `check that the server is running and reachable and that the connection string (--${opts.role}, OASYS_${opts.role.toUpperCase()}_URL, DATABASE_URL or PG* variables) is right`,
      err,
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** Node's TLS failures (certificate chain, host name, handshake). */
function isTlsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (/^ERR_TLS_|^ERR_SSL_/.test(code) || /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code));
}

/** The server process (backend pid) behind a client: the driver knows it from the connection's start. */
export function backendPid(client: pg.ClientBase): number {
  return (client as unknown as { processID: number }).processID;
}

/** Runs `fn` in a transaction on one pooled client; rolls back on any error. */
export async function withTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  opts: { readOnly?: boolean; isolation?: 'REPEATABLE READ' | 'READ COMMITTED' } = {},
): Promise<T> {
  const client = await pool.connect();
  try {
    const mode = [opts.isolation ? `ISOLATION LEVEL ${opts.isolation}` : '', opts.readOnly ? 'READ ONLY' : ''].filter(Boolean).join(' ');
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
