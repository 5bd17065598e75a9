import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixture, type FixtureInfo } from '../fixtures/generate.js';
import { checkRlsCommand } from '../src/commands/checkRls.js';
import { runCommand } from '../src/commands/run.js';
import { loadConfig, type ResolvedConfig } from '../src/config/load.js';
import { createPool } from '../src/db/connect.js';
import { ident } from '../src/db/ident.js';
import { EnvironmentError, ExitCode, UsageError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { checkRls, sampleSpread, type RlsCheckOptions, type RlsCheckReport } from '../src/rls/check.js';
import { checkRlsDocument, renderCheckRls } from '../src/cli/renderCheckRls.js';
import type { Output } from '../src/cli/output.js';
import { Chalk } from 'chalk';
import { adminUrl, createTestDatabase, query } from './support/db.js';
import { fingerprint as catalogAndData } from './support/cli.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;

/** Roles are cluster-wide and test files run in parallel: a unique name. */
const ROLE = `app_rls_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
const R = ident(ROLE);
/** A connecting user that is not a superuser (cannot bypass RLS). */
const MIGRATOR = `mig_rls_${process.pid}_${Math.floor(Math.random() * 1e6)}`;

let db: Db;
let emptyDb: Db;
let tmp: string;
let cfg: ResolvedConfig;
let info: FixtureInfo;
let tables: string[];
let pool: pg.Pool;
let opts: RlsCheckOptions;

async function sql(text: string, params: unknown[] = []) {
  return query(db.url, text, params);
}

/**
 * Everything the check could conceivably change — every unified row, sequences, RLS flags and
 * policies (the suite's one catalog-and-data oracle, test/support/cli.ts) — and the role itself.
 */
async function fingerprint(): Promise<string> {
  const everything = await catalogAndData(db.url, { only: ['public'] });
  const role = JSON.stringify(await sql(`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1`, [ROLE]));
  return [...everything, role].join('\n');
}

function failing(r: RlsCheckReport) {
  return r.checks.filter((c) => !c.ok);
}

beforeAll(async () => {
  db = await createTestDatabase('checkrls');
  emptyDb = await createTestDatabase('checkrls_empty');
  tmp = mkdtempSync(path.join(os.tmpdir(), 'oasys-checkrls-'));
  info = await generateFixture(db.url);
  cfg = loadConfig({ source: db.url }, {}, tmp);
  const run = await runCommand(cfg, silentLogger());
  tables = run.plan.tables.map((t) => t.target);
  await sql(`CREATE ROLE ${R} NOSUPERUSER NOBYPASSRLS NOINHERIT LOGIN`);
  await sql(`GRANT USAGE ON SCHEMA public TO ${R}`);
  await sql(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${tables.map((t) => ident('public', t)).join(', ')} TO ${R}`);
  pool = createPool({ url: db.url, role: 'target', max: 2 });
  opts = {
    role: ROLE,
    targetSchema: 'public',
    tenantColumn: 'tenant_id',
    setting: 'app.current_tenant',
    tables: run.plan.tables.map((t) => ({ name: t.target, tenantColumnType: t.tenantColumnType })),
    tenants: run.plan.tenants.map((t) => ({ schema: t.schema, tenantId: t.tenantId })),
  };
});

afterAll(async () => {
  await pool?.end().catch(() => undefined);
  await db?.drop().catch(() => undefined);
  await emptyDb?.drop().catch(() => undefined);
  // The databases holding the role's privileges are gone: the role can go too.
  for (const role of [MIGRATOR, ROLE]) await query(adminUrl(), `DROP ROLE IF EXISTS ${ident(role)}`).catch(() => undefined);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('checkRls on a correct setup', () => {
  it('passes every check, and changes nothing in the database', async () => {
    const before = await fingerprint();
    const r = await checkRls(pool, opts);
    expect(failing(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.role).toBe(ROLE);
    const names = new Set(r.checks.map((c) => c.check));
    for (const c of [
      'role-superuser',
      'role-bypassrls',
      'role-owner',
      'rls-enabled',
      'rls-forced',
      'policy',
      'no-tenant',
      'empty-tenant',
      'tenant-rows',
      'cross-tenant-insert',
      'cross-tenant-update',
      'other-tenant-write',
    ]) {
      expect(names, c).toContain(c);
    }
    // every table, every tenant was probed (3 tenants ≤ the default sample of 5)
    for (const t of tables) {
      expect(
        r.checks
          .filter((c) => c.table === t && c.check === 'tenant-rows')
          .map((c) => c.tenant)
          .sort(),
      ).toEqual(info.tenants.map((x) => x.schema).sort());
      for (const c of ['cross-tenant-insert', 'cross-tenant-update', 'other-tenant-write']) {
        const found = r.checks.find((x) => x.table === t && x.check === c);
        expect(found?.ok, `${t} ${c}`).toBe(true);
        expect(found?.skipped, `${t} ${c}: actually tested`).toBeFalsy();
      }
    }
    expect(await fingerprint()).toBe(before);
    // no session was left with the role or the setting: nothing is connected as it
    const left = await sql(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1`, [ROLE]);
    expect(left[0].n).toBe(0);
  });

  it('checkRlsCommand reads the latest completed run from the journal', async () => {
    const r = await checkRlsCommand(cfg, silentLogger(), ROLE);
    expect(r.ok).toBe(true);
    expect(new Set(r.checks.filter((c) => c.table).map((c) => c.table))).toEqual(new Set(tables));
  });

  it('checkRlsCommand without a recorded run is a usage error (exit 2) that says to run first', async () => {
    const emptyCfg = loadConfig({ source: emptyDb.url }, {}, tmp);
    const err = await checkRlsCommand(emptyCfg, silentLogger(), ROLE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.usage);
    expect(`${(err as UsageError).message} ${(err as UsageError).hint}`).toMatch(/oasys-migrate run/);
  });

  it('an unknown role is a usage error naming the role', async () => {
    const err = await checkRls(pool, { ...opts, role: 'no such "role"' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(ExitCode.usage);
    expect((err as Error).message).toContain('no such "role"');
  });

  it('samples tenants spread over the list', () => {
    const list = Array.from({ length: 100 }, (_, i) => i);
    expect(sampleSpread(list, 5)).toEqual([0, 25, 50, 74, 99]);
    expect(sampleSpread([1, 2, 3], 5)).toEqual([1, 2, 3]);
    expect(sampleSpread(list, 1)).toEqual([0]);
  });
});

describe('checkRls on deliberately weakened setups', () => {
  const T = 'accounts_account';
  const QT = ident('public', T);
  const predicate = `tenant_id = (SELECT NULLIF(pg_catalog.current_setting('app.current_tenant', true), '')::bigint)`;

  it('fails when RLS is not forced on a table', async () => {
    await sql(`ALTER TABLE ${QT} NO FORCE ROW LEVEL SECURITY`);
    try {
      const r = await checkRls(pool, opts);
      expect(r.ok).toBe(false);
      expect(failing(r).map((c) => [c.check, c.table])).toEqual([['rls-forced', T]]);
    } finally {
      await sql(`ALTER TABLE ${QT} FORCE ROW LEVEL SECURITY`);
    }
  });

  it('fails when the role has BYPASSRLS, and the behaviour checks name every table', async () => {
    await sql(`ALTER ROLE ${R} BYPASSRLS`);
    try {
      const before = await fingerprint();
      const r = await checkRls(pool, opts);
      expect(r.ok).toBe(false);
      expect(failing(r).map((c) => c.check)).toContain('role-bypassrls');
      for (const t of tables) {
        const f = failing(r)
          .filter((c) => c.table === t)
          .map((c) => c.check);
        expect(f, t).toEqual(
          expect.arrayContaining(['no-tenant', 'empty-tenant', 'tenant-rows', 'cross-tenant-insert', 'cross-tenant-update', 'other-tenant-write']),
        );
      }
      // even with the role able to write anything, the probes were rolled back
      expect(await fingerprint()).toBe(before);
    } finally {
      await sql(`ALTER ROLE ${R} NOBYPASSRLS`);
    }
  });

  it('fails when the policy checks no new rows (WITH CHECK (true)): cross-tenant writes get through', async () => {
    await sql(`DROP POLICY tenant_isolation ON ${QT}`);
    await sql(`CREATE POLICY tenant_isolation ON ${QT} AS PERMISSIVE FOR ALL USING (${predicate}) WITH CHECK (true)`);
    try {
      const before = await fingerprint();
      const r = await checkRls(pool, opts);
      expect(r.ok).toBe(false);
      const f = failing(r);
      expect(f.every((c) => c.table === T)).toBe(true);
      expect(f.map((c) => c.check).sort()).toEqual(['cross-tenant-insert', 'cross-tenant-update', 'policy']);
      expect(f.find((c) => c.check === 'policy')?.detail).toMatch(/WITH CHECK/);
      expect(f.find((c) => c.check === 'cross-tenant-update')?.detail).toMatch(/passed the row-level security check|succeeded/);
      // visibility itself is intact
      expect(r.checks.filter((c) => c.table === T && c.check === 'tenant-rows').every((c) => c.ok)).toBe(true);
      expect(await fingerprint()).toBe(before);
    } finally {
      await sql(`DROP POLICY tenant_isolation ON ${QT}`);
      await sql(`CREATE POLICY tenant_isolation ON ${QT} AS PERMISSIVE FOR ALL USING (${predicate}) WITH CHECK (${predicate})`);
    }
  });

  it('fails when the policy has no WITH CHECK and a permissive write policy is added', async () => {
    await sql(`DROP POLICY tenant_isolation ON ${QT}`);
    await sql(`CREATE POLICY tenant_isolation ON ${QT} USING (${predicate})`);
    await sql(`CREATE POLICY writes ON ${QT} FOR INSERT WITH CHECK (true)`);
    try {
      const r = await checkRls(pool, opts);
      expect(r.ok).toBe(false);
      const f = failing(r);
      expect(f.every((c) => c.table === T)).toBe(true);
      expect(f.map((c) => c.check)).toEqual(expect.arrayContaining(['policy', 'other-policies', 'cross-tenant-insert']));
    } finally {
      await sql(`DROP POLICY writes ON ${QT}`);
      await sql(`DROP POLICY tenant_isolation ON ${QT}`);
      await sql(`CREATE POLICY tenant_isolation ON ${QT} AS PERMISSIVE FOR ALL USING (${predicate}) WITH CHECK (${predicate})`);
    }
  });

  it('fails when the role owns a table', async () => {
    await sql(`ALTER TABLE ${QT} OWNER TO ${R}`);
    try {
      const r = await checkRls(pool, opts);
      expect(failing(r).map((c) => [c.check, c.table])).toEqual([['role-owner', T]]);
    } finally {
      await sql(`ALTER TABLE ${QT} OWNER TO CURRENT_USER`);
      // the role's grants went with the ownership: give them back
      await sql(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${QT} TO ${R}`);
    }
  });

  it("fails when a child table can be queried directly, bypassing the parent's policy", async () => {
    await sql(`CREATE TABLE public.accounts_account_child () INHERITS (${QT})`);
    await sql(`GRANT SELECT ON public.accounts_account_child TO ${R}`);
    try {
      const r = await checkRls(pool, opts);
      const f = failing(r);
      expect(f.map((c) => [c.check, c.table])).toEqual([['partitions', T]]);
      expect(f[0].detail).toContain('public.accounts_account_child');
      await sql(`REVOKE ALL ON public.accounts_account_child FROM ${R}`);
      expect((await checkRls(pool, opts)).ok).toBe(true);
    } finally {
      await sql(`DROP TABLE public.accounts_account_child`);
    }
  });

  it('reports a missing SELECT privilege as a failed check, not a crash', async () => {
    await sql(`REVOKE SELECT ON ${QT} FROM ${R}`);
    try {
      const r = await checkRls(pool, opts);
      expect(r.ok).toBe(false);
      const f = failing(r);
      expect(f.map((c) => [c.check, c.table])).toEqual([['privileges', T]]);
      expect(f[0].detail).toMatch(/GRANT SELECT/);
    } finally {
      await sql(`GRANT SELECT ON ${QT} TO ${R}`);
    }
  });

  it('is a correct setup again after the restorations', async () => {
    const r = await checkRls(pool, opts);
    expect(failing(r)).toEqual([]);
    expect(r.checks.filter((c) => c.skipped)).toEqual([]);
  });
});

describe('check-rls output', () => {
  function capture(): { out: Output; lines: string[] } {
    const lines: string[] = [];
    const out: Output = {
      json: false,
      quiet: false,
      interactive: false,
      c: new Chalk({ level: 0 }),
      line: (t = '') => {
        lines.push(t);
      },
      document: () => undefined,
    };
    return { out, lines };
  }

  it('renders failures first and a verdict; the JSON document carries ok, role and every check', () => {
    const report: RlsCheckReport = {
      ok: false,
      role: 'app',
      checks: [
        { check: 'role-superuser', ok: true, detail: 'not a superuser' },
        { check: 'cross-tenant-insert', table: 'x', tenant: 'acme', ok: true, skipped: true, detail: 'not tested' },
        { check: 'rls-forced', table: 'accounts_account', ok: false, detail: 'not forced' },
      ],
    };
    const { out, lines } = capture();
    renderCheckRls(out, report);
    const text = lines.join('\n');
    expect(text.indexOf('rls-forced')).toBeLessThan(text.indexOf('role-superuser'));
    expect(text).toMatch(/FAIL\s+rls-forced\s+accounts_account/);
    expect(text).toMatch(/NOT proven.*1 of 3 checks failed on accounts_account/);
    const doc = checkRlsDocument(report);
    expect(doc.ok).toBe(false);
    expect(doc.role).toBe('app');
    expect(doc.checks).toHaveLength(3);
    expect(doc.checks[2]).toEqual({ check: 'rls-forced', table: 'accounts_account', tenant: null, ok: false, detail: 'not forced' });
    expect(doc.summary).toEqual({ checks: 3, failed: 1, skipped: 1 });
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });
});

describe('checkRls as a connecting user that is not a superuser', () => {
  it('needs membership in the role (exit 3 naming the GRANT), then counts through the policy', async () => {
    const password = 'mig-pw-1';
    await sql(`CREATE ROLE ${ident(MIGRATOR)} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '${password}'`);
    await sql(`GRANT USAGE ON SCHEMA public TO ${ident(MIGRATOR)}`);
    await sql(`GRANT SELECT ON ${tables.map((t) => ident('public', t)).join(', ')} TO ${ident(MIGRATOR)}`);
    const u = new URL(db.url);
    u.username = MIGRATOR;
    u.password = password;
    const migPool = createPool({ url: u.toString(), role: 'target', max: 1 });
    try {
      const reachable = await migPool.query('SELECT 1').then(
        () => true,
        () => false,
      );
      // Never a silent skip: a server whose pg_hba keeps a password role out cannot run this test.
      expect(reachable, 'a role with a password must be able to connect to the test server').toBe(true);
      const err = await checkRls(migPool, opts).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EnvironmentError);
      expect((err as EnvironmentError).exitCode).toBe(ExitCode.environment);
      expect((err as EnvironmentError).hint).toContain(`GRANT ${R} TO ${ident(MIGRATOR)}`);

      await sql(`GRANT ${R} TO ${ident(MIGRATOR)}`);
      const r = await checkRls(migPool, opts);
      expect(failing(r)).toEqual([]);
      expect(r.checks.find((c) => c.check === 'tenant-rows')?.detail).toMatch(/through the same policy/);
    } finally {
      await migPool.end();
      await sql(`REVOKE ALL ON ${tables.map((t) => ident('public', t)).join(', ')} FROM ${ident(MIGRATOR)}`).catch(() => undefined);
      await sql(`REVOKE ALL ON SCHEMA public FROM ${ident(MIGRATOR)}`).catch(() => undefined);
    }
  });
});
