import { randomBytes } from 'node:crypto';
import { ident, literal } from '../../src/db/ident.js';
import { withClient } from './client.js';

/**
 * Who runs the tool in a test: the server's superuser, or — as on managed
 * services (SPEC §1 "The migrating role") — a role that is NOSUPERUSER
 * NOBYPASSRLS and owns the database and everything in it.
 */
export type RunAs = 'superuser' | 'owner';

/** A throwaway login role with a random name and password (roles are cluster-wide; test files run in parallel). */
export async function createLoginRole(
  serverUrl: string,
  prefix: string,
  attributes: string,
): Promise<{ name: string; password: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  // CREATE ROLE takes no bound parameters: the password goes in as a quoted literal.
  await withClient(serverUrl, (c) => c.query(`CREATE ROLE ${ident(name)} LOGIN ${attributes} PASSWORD ${literal(password)}`));
  return {
    name,
    password,
    // After the databases holding its objects are dropped: nothing else depends on it.
    drop: () => withClient(serverUrl, (c) => c.query(`DROP ROLE IF EXISTS ${ident(name)}`)).then(() => undefined),
  };
}

/** `url` with another user and password. */
export function urlAs(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
}

/**
 * The URL the tool (and the fixture, so that it owns every object) connects
 * with to `dbUrl`: unchanged for 'superuser'; for 'owner', a new NOSUPERUSER
 * NOBYPASSRLS role made owner of the database, with CREATE on it.
 */
export async function runnerUrl(
  serverUrl: string,
  database: string,
  dbUrl: string,
  runAs: RunAs,
): Promise<{ url: string; role: string | null; drop: () => Promise<void> }> {
  if (runAs === 'superuser') return { url: dbUrl, role: null, drop: async () => undefined };
  const owner = await createLoginRole(serverUrl, 'oasys_owner', 'NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE');
  await withClient(serverUrl, async (c) => {
    await c.query(`ALTER DATABASE ${ident(database)} OWNER TO ${ident(owner.name)}`);
    await c.query(`GRANT CREATE ON DATABASE ${ident(database)} TO ${ident(owner.name)}`);
  });
  // public is left as the server made it: on 15+ the database owner owns it (pg_database_owner);
  // on 14 the bootstrap superuser does and everyone may CREATE in it — as on a managed 14.
  return { url: urlAs(dbUrl, owner.name, owner.password), role: owner.name, drop: owner.drop };
}
