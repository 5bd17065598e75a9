import type pg from 'pg';
import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { withClient } from './client.js';

export { withClient };

export function adminUrl(): string {
  return inject('pgAdminUrl');
}

/** The URL of another database on the server of `server` (default: the test server). */
export function urlFor(database: string, server = adminUrl()): string {
  const u = new URL(server);
  u.pathname = '/' + encodeURIComponent(database);
  return u.toString();
}

/** Creates a fresh, uniquely named database (on the test server, or on `server`) and returns its URL. */
export async function createTestDatabase(prefix = 't', server = adminUrl()): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  await withClient(server, (c) => c.query(`CREATE DATABASE "${name}"`));
  return {
    name,
    url: urlFor(name, server),
    drop: () => withClient(server, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

/** Runs one query on a database and returns its rows. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  return withClient(url, async (c) => (await c.query<R>(sql, params)).rows);
}
