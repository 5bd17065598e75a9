/**
 * The canary flow from the outside: `run --tenants a,b`, then a plain `run`
 * migrates the remaining tenants into the same unified tables, a later `run`
 * migrates a tenant registered since, and a `run` with nothing left verifies.
 * Also as a NOSUPERUSER NOBYPASSRLS owner (FORCEd tables of the first batch),
 * and --exclude-tenants and --tenants @file.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateFixture } from '../../fixtures/generate.js';
import { adminUrl, createTestDatabase } from '../support/db.js';
import { compareAll, parseJson, qi, runCli, show, sql, tempDir, urlAs, writeJson } from '../support/cli.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];
const roles: string[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop();
  for (const r of roles) await sql(adminUrl(), `DROP ROLE IF EXISTS ${qi(r)}`).catch(() => undefined);
});

async function tenantsIn(url: string, table = 'accounts_account'): Promise<string[]> {
  const rows = await sql<{ s: string }>(
    url,
    `SELECT DISTINCT c.schema_name AS s FROM public.${qi(table)} u JOIN public.customers_client c ON c.id = u.tenant_id ORDER BY 1`,
  );
  return rows.map((r) => r.s);
}

/** The registry row of `schema`, removed (a tenant "not yet registered"); returns a function that registers it again. */
async function unregister(url: string, schema: string): Promise<() => Promise<void>> {
  const domains = await sql(
    url,
    `DELETE FROM public.customers_domain WHERE tenant_id = (SELECT id FROM public.customers_client WHERE schema_name = $1) RETURNING *`,
    [schema],
  );
  const [row] = await sql(url, `DELETE FROM public.customers_client WHERE schema_name = $1 RETURNING *`, [schema]);
  const insert = async (table: string, r: Record<string, unknown>) => {
    const cols = Object.keys(r);
    await sql(
      url,
      `INSERT INTO public.${qi(table)} (${cols.map((c) => qi(c)).join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
      cols.map((c) => r[c]),
    );
  };
  return async () => {
    await insert('customers_client', row);
    for (const d of domains) await insert('customers_domain', d);
  };
}

async function canaryFlow(url: string, admin: string, opts: { owner: boolean }) {
  const all = ['acme', 'globex', 'weird "name"; with.dot', 'C2'];
  const register = await unregister(admin, 'C2');

  // 1. The canary.
  const canary = await runCli(['run', '--source', url, '--tenants', 'acme', '--json']);
  expect(canary.code, show(canary)).toBe(0);
  expect(await tenantsIn(admin)).toEqual(['acme']);

  // 2. A plain run: the remaining registered tenants, into the same tables.
  const rest = await runCli(['run', '--source', url, '--json']);
  expect(rest.code, show(rest)).toBe(0);
  const doc = parseJson(rest);
  expect(doc.alreadyComplete).toBe(false);
  expect(doc.runId).toBe(2);
  expect(new Set(doc.results.map((r: { tenant: string }) => r.tenant))).toEqual(new Set(['globex', 'weird "name"; with.dot']));
  expect(rest.stderr).toContain('already migrated by run #1: skipped; migrating the 2 remaining');
  expect(await tenantsIn(admin)).toEqual(['acme', 'globex', 'weird "name"; with.dot'].sort());

  // 3. A tenant registered since: the next run migrates it alone.
  await register();
  const later = await runCli(['run', '--source', url, '--json']);
  expect(later.code, show(later)).toBe(0);
  expect(parseJson(later).results.every((r: { tenant: string }) => r.tenant === 'C2')).toBe(true);
  expect(await tenantsIn(admin)).toEqual([...all].sort());

  // 4. Nothing left: verified, nothing copied.
  const again = await runCli(['run', '--source', url, '--json']);
  expect(again.code, show(again)).toBe(0);
  const a = parseJson(again);
  expect(a.alreadyComplete).toBe(true);
  expect(a.rowsCopied).toBe(0);
  expect(new Set(a.results.map((r: { tenant: string }) => r.tenant))).toEqual(new Set(all));

  // verify checks every completed run's tenants, each against its own run (and --tenants picks among all of them).
  const v = await runCli(['verify', '--source', url, '--json']);
  expect(v.code, show(v)).toBe(0);
  const verified = parseJson(v).results.map((r: { tenant: string }) => r.tenant);
  expect(new Set(verified)).toEqual(new Set(all));
  expect(verified.length).toBe(new Set(verified.map((t: string, i: number) => `${t}/${parseJson(v).results[i].table}`)).size);
  const one = await runCli(['verify', '--source', url, '--tenants', 'acme', '--json']);
  expect(one.code, show(one)).toBe(0);
  expect(new Set(parseJson(one).results.map((r: { tenant: string }) => r.tenant))).toEqual(new Set(['acme']));

  // Every tenant's rows, exactly once, in the unified tables; sequences past the maximum.
  const ids = await sql<{ schema: string; id: string }>(
    admin,
    `SELECT schema_name AS schema, id::text AS id FROM public.customers_client WHERE schema_name = ANY($1)`,
    [all],
  );
  const { mismatches } = await compareAll(admin, admin, ids);
  expect(mismatches).toEqual([]);
  const [seq] = await sql<{ ok: boolean }>(
    admin,
    `SELECT pg_sequence_last_value(pg_get_serial_sequence('public.accounts_transaction', 'id')::regclass) >= (SELECT max(id) FROM public.accounts_transaction) AS ok`,
  );
  expect(seq.ok).toBe(true);
  const runs = await sql<{ state: string }>(admin, `SELECT state FROM oasys_migrate.run ORDER BY run_id`);
  expect(runs.map((r) => r.state)).toEqual(['completed', 'completed', 'completed']);
  if (opts.owner) {
    const [f] = await sql<{ f: boolean }>(admin, `SELECT relforcerowsecurity AS f FROM pg_class WHERE oid = 'public.accounts_transaction'::regclass`);
    expect(f.f).toBe(true);
  }
}

describe('canary: run --tenants a, then run for the rest', () => {
  it('as a superuser', async () => {
    const db = await createTestDatabase('canary');
    dbs.push(db);
    await generateFixture(db.url, { tenants: 4, rowsPerTable: 6 });
    await canaryFlow(db.url, db.url, { owner: false });
  });

  it('as a NOSUPERUSER NOBYPASSRLS owner', async () => {
    const owner = `canary_owner_${randomBytes(3).toString('hex')}`;
    const password = randomBytes(8).toString('hex');
    roles.push(owner);
    await sql(adminUrl(), `CREATE ROLE ${qi(owner)} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '${password}'`);
    const db = await createTestDatabase('canary_own');
    dbs.push(db);
    await sql(db.url, `ALTER DATABASE ${qi(db.name)} OWNER TO ${qi(owner)}`);
    await sql(db.url, `ALTER SCHEMA public OWNER TO ${qi(owner)}`);
    const url = urlAs(db.url, owner, password);
    await generateFixture(url, { tenants: 4, rowsPerTable: 6 });
    await canaryFlow(url, db.url, { owner: true });
    await sql(db.url, `DROP OWNED BY ${qi(owner)}`);
  });

  it('a run with another configuration is still refused for tenants already migrated', async () => {
    const db = await createTestDatabase('canary_cfg');
    dbs.push(db);
    await generateFixture(db.url, { tenants: 3, rowsPerTable: 3 });
    expect((await runCli(['run', '--source', db.url, '--tenants', 'acme'])).code).toBe(0);
    const cfg = writeJson({ rls: { setting: 'app.other' } });
    const r = await runCli(['run', '--source', db.url, '-c', cfg]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain('"acme" was already migrated by run #1 with a different configuration');
    expect(await tenantsIn(db.url)).toEqual(['acme']);
  });
});

describe('--exclude-tenants and --tenants @file', () => {
  it('select tenants for plan and run; unknown names and unreadable files are exit 2', async () => {
    const db = await createTestDatabase('canary_sel');
    dbs.push(db);
    await generateFixture(db.url, { tenants: 4, rowsPerTable: 3 });
    const dir = tempDir();
    const list = path.join(dir, 'wave1.txt');
    writeFileSync(list, '# wave 1 of the cut-over\nacme\n\n  weird "name"; with.dot   # the awkward one\n# C2 next week\n');
    const p = await runCli(['plan', '--source', db.url, '--tenants', `@${list}`, '--json']);
    expect(p.code, show(p)).toBe(0);
    expect(
      parseJson(p)
        .tenants.map((t: { schema: string }) => t.schema)
        .sort(),
    ).toEqual(['acme', 'weird "name"; with.dot']);

    const x = await runCli(['plan', '--source', db.url, '--exclude-tenants', 'globex,C2', '--json']);
    expect(x.code, show(x)).toBe(0);
    expect(
      parseJson(x)
        .tenants.map((t: { schema: string }) => t.schema)
        .sort(),
    ).toEqual(['acme', 'weird "name"; with.dot']);

    const unknown = await runCli(['plan', '--source', db.url, '--exclude-tenants', 'nobody', '--json']);
    expect(unknown.code, show(unknown)).toBe(2);
    expect(parseJson(unknown).error.message).toContain('unknown tenant in --exclude-tenants: "nobody"');

    const missing = await runCli(['plan', '--source', db.url, '--tenants', `@${path.join(dir, 'nope.txt')}`]);
    expect(missing.code, show(missing)).toBe(2);
    expect(missing.stderr).toMatch(/--tenants: cannot read the tenant list .*nope\.txt \(ENOENT\)/);

    // run with the exclusion, then the plain run takes the excluded ones.
    const r1 = await runCli(['run', '--source', db.url, '--exclude-tenants', `@${list}`]);
    expect(r1.code, show(r1)).toBe(0);
    expect(await tenantsIn(db.url)).toEqual(['C2', 'globex']);
    const r2 = await runCli(['run', '--source', db.url]);
    expect(r2.code, show(r2)).toBe(0);
    expect(await tenantsIn(db.url)).toEqual(['C2', 'acme', 'globex', 'weird "name"; with.dot']);
  });
});
