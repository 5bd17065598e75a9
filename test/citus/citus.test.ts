/**
 * A Citus target (issue 15): plan, run, verify, check-rls as the application role and revert into a
 * real Citus cluster — the coordinator named by OASYS_TEST_CITUS_URL (a superuser URL; the cluster
 * from scripts/citus-cluster.sh). The source is a fixture database on the suite's own server; the
 * tool runs as a NOSUPERUSER NOBYPASSRLS owner. Citus cannot be installed from a package registry
 * here: without the variable this file prints one loud line and its tests do not run.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ident, literal } from '../../src/db/ident.js';
import { generateFixture, type FixtureInfo } from '../../fixtures/generate.js';
import { createTestDatabase } from '../support/db.js';
import { FIXTURE_TABLES, compareAll, fingerprint, parseJson, runCli, show, sql, urlAs, withClient } from '../support/cli.js';

const CITUS = process.env.OASYS_TEST_CITUS_URL;
if (!CITUS) {
  console.warn('!!! CITUS TESTS DID NOT RUN: OASYS_TEST_CITUS_URL is unset (start a cluster with scripts/citus-cluster.sh <citus source mirror>) !!!');
}

const SHARED = ['auth_user', 'customers_client'];

/** Every node of the cluster (coordinator first), reached with the coordinator URL's user, password and database. */
async function nodeUrls(coordinator: string): Promise<string[]> {
  const rows = await sql<{ nodename: string; nodeport: number }>(
    coordinator,
    `SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0 ORDER BY nodeport`,
  );
  return [
    coordinator,
    ...rows.map((r) => {
      const u = new URL(coordinator);
      u.hostname = r.nodename;
      u.port = String(r.nodeport);
      return u.toString();
    }),
  ];
}

/** What revert must leave as it was on a node: the independent catalog-and-data fingerprint, and Citus' own metadata. */
async function nodeState(url: string): Promise<string[]> {
  const fp = await fingerprint(url, { exclude: ['oasys_migrate'] });
  const meta = await sql<{ l: string }>(
    url,
    `SELECT 'dist ' || logicalrelid::text || ' ' || partmethod::text AS l FROM pg_dist_partition
     UNION ALL SELECT 'colocation ' || colocationid || ' ' || shardcount || ' ' || distributioncolumntype::regtype::text FROM pg_dist_colocation
     UNION ALL SELECT 'shards ' || count(*) FROM pg_dist_shard
     UNION ALL SELECT 'object ' || a::text FROM pg_dist_object, pg_catalog.pg_identify_object_as_address(classid, objid, objsubid) AS a
                WHERE NOT a::text LIKE '%oasys_migrate%'
     ORDER BY 1`,
  );
  return [...fp, ...meta.map((r) => r.l)];
}

describe.skipIf(!CITUS)('a Citus target: plan, run, verify, check-rls, revert', () => {
  const coordinator = CITUS!;
  const tag = randomBytes(3).toString('hex');
  const ownerName = `oasys_citus_owner_${tag}`;
  const appName = `oasys_citus_app_${tag}`;
  const password = randomBytes(12).toString('hex');
  let nodes: string[];
  let owner: string;
  let source: Awaited<ReturnType<typeof createTestDatabase>>;
  let info: FixtureInfo;
  let before: string[][];
  const flags = () => ['--source', source.url, '--target', owner];

  /** Runs the statements on the coordinator as its superuser: Citus propagates roles and grants to the workers. */
  const onCoordinator = async (...stmts: string[]) => {
    // One statement at a time: Citus refuses some DDL after a parallel operation in the same transaction.
    await withClient(coordinator, async (c) => {
      for (const q of stmts) await c.query(q);
    });
  };

  beforeAll(async () => {
    nodes = await nodeUrls(coordinator);
    expect(nodes.length, 'a coordinator and at least one worker').toBeGreaterThanOrEqual(2);
    expect((await sql(coordinator, `SELECT 1 FROM pg_extension WHERE extname = 'citus'`)).length, 'citus in the target database').toBe(1);
    const leftover = await sql(coordinator, `SELECT 1 FROM pg_namespace WHERE nspname = 'oasys_migrate'`);
    expect(leftover.length, 'the cluster holds an oasys_migrate schema from an earlier run: drop it (and what that run made) first').toBe(0);
    source = await createTestDatabase('citus_src');
    info = await generateFixture(source.url, { rowsPerTable: 25 });
    await withClient(coordinator, (c) => c.query(`CREATE ROLE ${ident(ownerName)} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD ${literal(password)}`));
    await withClient(coordinator, (c) => c.query(`CREATE ROLE ${ident(appName)} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD ${literal(password)}`));
    const db = decodeURIComponent(new URL(coordinator).pathname.slice(1) || 'postgres');
    // On a fresh cluster Citus tracks schema public only once something in it is distributed, and
    // only then propagates grants on it: a probe table brings the cluster into that state first, as any
    // cluster in use is, so that the grants below reach the workers now and the fingerprints compare like with like.
    await onCoordinator(
      'CREATE TABLE public.oasys_citus_probe (id int)',
      `SELECT create_distributed_table('public.oasys_citus_probe', 'id')`,
      'DROP TABLE public.oasys_citus_probe',
      // plpgsql likewise, once a plpgsql function is propagated (the tool's oasys_migrate.per_tenant is one).
      'CREATE FUNCTION public.oasys_citus_probe() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$',
      'DROP FUNCTION public.oasys_citus_probe()',
    );
    await onCoordinator(`GRANT CREATE ON DATABASE ${ident(db)} TO ${ident(ownerName)}`, `GRANT CREATE, USAGE ON SCHEMA public TO ${ident(ownerName)}`);
    owner = urlAs(coordinator, ownerName, password);
    before = await Promise.all(nodes.map(nodeState));
  }, 120_000);

  afterAll(async () => {
    if (!nodes) return;
    await withClient(coordinator, (c) => c.query('DROP SCHEMA IF EXISTS oasys_migrate CASCADE')).catch(() => undefined);
    const db = decodeURIComponent(new URL(coordinator).pathname.slice(1) || 'postgres');
    for (const r of [appName, ownerName]) {
      await onCoordinator(
        `DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${literal(r)}) THEN
           EXECUTE ${literal(`REVOKE ALL ON DATABASE ${ident(db)} FROM ${ident(r)}`)};
           EXECUTE ${literal(`REVOKE ALL ON SCHEMA public FROM ${ident(r)}`)};
         END IF; END $$`,
      ).catch(() => undefined);
      await withClient(coordinator, (c) => c.query(`DROP ROLE IF EXISTS ${ident(r)}`)).catch(() => undefined);
    }
    await source?.drop().catch(() => undefined);
  }, 60_000);

  it('plan detects the Citus target and lists the distribution with its readiness codes', async () => {
    const r = await runCli(['plan', ...flags(), '--json']);
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson(r);
    const codes: string[] = doc.plan?.problems?.map((p: { code: string }) => p.code) ?? doc.problems.map((p: { code: string }) => p.code);
    expect(codes).toContain('CITUS_TARGET');
    expect(codes.filter((c) => c.startsWith('CITUS_')).length).toBeGreaterThan(1);
    const plain = await runCli(['plan', ...flags(), '--sql']);
    expect(plain.code, show(plain)).toBe(0);
    expect(plain.stdout).toContain('create_distributed_table');
    expect(plain.stdout).toContain('create_reference_table');
    // The policy Citus accepts: no sub-select.
    expect(plain.stdout).toMatch(/USING \("tenant_id" = NULLIF\(pg_catalog\.current_setting\('app\.current_tenant', true\), ''\)::bigint\)/);
  });

  it('run distributes every unified table by tenant_id, colocated, and the shared tables as reference tables', async () => {
    const r = await runCli(['run', ...flags()], { timeoutMs: 180_000 });
    expect(r.code, show(r)).toBe(0);
    const rows = await sql<{ name: string; kind: string; col: string; colocation: number }>(
      coordinator,
      `SELECT table_name::text AS name, citus_table_type AS kind, distribution_column AS col, colocation_id AS colocation FROM citus_tables ORDER BY 1`,
    );
    const by = new Map(rows.map((x) => [x.name.replace(/^"|"$/g, ''), x]));
    for (const t of FIXTURE_TABLES) {
      expect(by.get(t)?.kind, `${t} in citus_tables`).toBe('distributed');
      expect(by.get(t)?.col).toBe('tenant_id');
    }
    expect(new Set(FIXTURE_TABLES.map((t) => by.get(t)!.colocation)).size, 'one colocation group').toBe(1);
    for (const t of SHARED) expect(by.get(t)?.kind, `${t} in citus_tables`).toBe('reference');
    const hash = await sql<{ n: string }>(
      coordinator,
      `SELECT count(*)::text AS n FROM pg_dist_partition WHERE partmethod = 'h' AND logicalrelid = ANY($1::text[]::regclass[])`,
      [FIXTURE_TABLES.map((t) => ident('public', t))],
    );
    expect(Number(hash[0].n)).toBe(FIXTURE_TABLES.length);
    // Composite foreign keys between the distributed tables were added after distribution.
    const fks = await sql(coordinator, `SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = 'public.accounts_transaction'::regclass`);
    expect(fks.length).toBeGreaterThan(0);
  });

  it('per-tenant counts and hashes match the source (the suite oracle, and verify as the owner under FORCE)', async () => {
    const { mismatches, totals } = await compareAll(source.url, coordinator, info.tenants);
    expect(mismatches).toEqual([]);
    expect(Object.values(totals).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const v = await runCli(['verify', ...flags(), '--json']);
    expect(v.code, show(v)).toBe(0);
    const doc = parseJson(v);
    expect(doc.ok).toBe(true);
    expect(doc.results.filter((x: { ok: boolean }) => x.ok).length).toBe(info.tenants.length * FIXTURE_TABLES.length + SHARED.length);
  });

  it('check-rls passes as a non-owner application role, and the tenant reaches the workers only through SET LOCAL', async () => {
    const tables = FIXTURE_TABLES.map((t) => ident('public', t)).join(', ');
    await withClient(coordinator, async (c) => {
      // check-rls acts as the role with SET ROLE: the tool's owner must be allowed to.
      await c.query(`GRANT ${ident(appName)} TO ${ident(ownerName)}`);
      await c.query(`GRANT USAGE ON SCHEMA public TO ${ident(appName)}`);
      await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${tables} TO ${ident(appName)}`);
    });
    const r = await runCli(['check-rls', ...flags(), '--role', appName, '--json']);
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson(r);
    expect(doc.ok).toBe(true);
    expect(doc.checks.filter((x: { check: string; ok: boolean; skipped?: boolean }) => x.check === 'tenant-rows' && x.ok && !x.skipped).length).toBeGreaterThan(
      0,
    );

    const acme = info.tenants[0];
    const want = Number((await sql(source.url, `SELECT count(*)::int AS n FROM ${ident(acme.schema, 'accounts_account')}`))[0].n);
    const app = urlAs(coordinator, appName, password);
    const seen = await withClient(app, async (c) => {
      await c.query('BEGIN');
      await c.query(`SELECT set_config('app.current_tenant', $1, true)`, [String(acme.id)]);
      const viaSetConfig = Number((await c.query(`SELECT count(*)::int AS n FROM public.accounts_account`)).rows[0].n);
      await c.query('ROLLBACK');
      await c.query('BEGIN');
      await c.query(`SET LOCAL citus.propagate_set_commands = 'local'`);
      await c.query(`SET LOCAL app.current_tenant = ${literal(String(acme.id))}`);
      const viaSetLocal = Number((await c.query(`SELECT count(*)::int AS n FROM public.accounts_account`)).rows[0].n);
      await c.query('ROLLBACK');
      return { viaSetConfig, viaSetLocal };
    });
    expect(seen.viaSetLocal).toBe(want);
    expect(want).toBeGreaterThan(0);
    // What the guide warns about: set_config() on the coordinator does not reach the workers.
    expect(seen.viaSetConfig).toBe(0);
    await withClient(coordinator, async (c) => {
      await c.query(`REVOKE ALL ON ${tables} FROM ${ident(appName)}`);
      await c.query(`REVOKE ALL ON SCHEMA public FROM ${ident(appName)}`);
      await c.query(`REVOKE ${ident(appName)} FROM ${ident(ownerName)}`);
    });
  });

  it('the application guide tells how to set the tenant on Citus', async () => {
    const r = await runCli(['guide', ...flags()]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain("SET LOCAL citus.propagate_set_commands = 'local'");
    expect(r.stdout).toContain('cursor.execute(\'SET LOCAL "app"."current_tenant" = \' + value)');
  });

  it('revert leaves the coordinator and every worker as they were', async () => {
    const r = await runCli(['revert', ...flags(), '--yes'], { timeoutMs: 120_000 });
    expect(r.code, show(r)).toBe(0);
    const after = await Promise.all(nodes.map(nodeState));
    for (let i = 0; i < nodes.length; i++) expect(after[i], `node ${new URL(nodes[i]).port}`).toEqual(before[i]);
    expect(
      (await sql(coordinator, `SELECT count(*)::int AS n FROM citus_tables WHERE table_name::text = ANY($1)`, [[...FIXTURE_TABLES, ...SHARED]]))[0].n,
    ).toBe(0);
  });
});
