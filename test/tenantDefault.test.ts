import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { generateFixture } from '../fixtures/generate.js';
import { revertCommand } from '../src/commands/revert.js';
import { runCommand } from '../src/commands/run.js';
import { loadConfig } from '../src/config/load.js';
import { ident } from '../src/db/ident.js';
import { silentLogger } from '../src/log.js';
import { fingerprint, fingerprintDiff } from '../src/verify/fingerprint.js';
import { adminUrl, createTestDatabase, query, withClient } from './support/db.js';

/**
 * SPEC §4 "Tenant column default": an unchanged application INSERT (no tenant column named)
 * in a transaction that set rls.setting gets that tenant; without it the insert fails;
 * revert puts back the tenant column's previous default exactly. Run as a NOSUPERUSER
 * NOBYPASSRLS owner; the application is a third role that owns nothing.
 */
const log = silentLogger();
const tag = `${process.pid}_${randomBytes(3).toString('hex')}`;
const OWNER = `tdowner_${tag}`;
const APP = `tdapp_${tag}`;
const PASSWORD = randomBytes(9).toString('hex');
const SETTING = 'myapp.tenant';

function roleUrl(dbUrl: string, role: string): string {
  const u = new URL(dbUrl);
  u.username = role;
  u.password = PASSWORD;
  return u.toString();
}

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];

async function ownedDb(prefix: string): Promise<{ db: Db; url: string }> {
  const db = await createTestDatabase(prefix);
  dbs.push(db);
  await query(db.url, `ALTER DATABASE ${ident(db.name)} OWNER TO ${ident(OWNER)}`);
  await query(db.url, `ALTER SCHEMA public OWNER TO ${ident(OWNER)}`);
  return { db, url: roleUrl(db.url, OWNER) };
}

async function grantApp(ownerUrl: string) {
  await query(ownerUrl, `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${ident(APP)}`);
  await query(ownerUrl, `GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${ident(APP)}`);
}

/** The tenant column's default as the catalog prints it (null: none). */
async function tenantDefault(url: string, table: string): Promise<string | null> {
  const [r] = await query<{ d: string | null }>(
    url,
    `SELECT pg_get_expr(d.adbin, d.adrelid) AS d FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::regclass AND a.attname = 'tenant_id'`,
    [table],
  );
  return r.d;
}

/** As the application: insert an account without naming tenant_id; tenant = null sets nothing. */
async function appInsert(appUrl: string, tenant: string | null): Promise<{ tenantId: string } | { code: string; message: string }> {
  return withClient(appUrl, async (c) => {
    await c.query('BEGIN');
    try {
      if (tenant !== null) await c.query('SELECT set_config($1, $2, true)', [SETTING, tenant]);
      const r = await c.query<{ tenant_id: string }>(
        `INSERT INTO public.accounts_account (number, name, active) VALUES ($1, 'app insert', true) RETURNING tenant_id::text`,
        [`APP-${randomBytes(3).toString('hex')}`],
      );
      await c.query('COMMIT');
      return { tenantId: r.rows[0].tenant_id };
    } catch (err) {
      await c.query('ROLLBACK');
      const e = err as { code: string; message: string };
      return { code: e.code, message: e.message };
    }
  });
}

beforeAll(async () => {
  await query(adminUrl(), `CREATE ROLE ${ident(OWNER)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB PASSWORD '${PASSWORD}'`);
  await query(adminUrl(), `CREATE ROLE ${ident(APP)} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '${PASSWORD}'`);
});

afterAll(async () => {
  for (const d of dbs) await d.drop();
  await query(adminUrl(), `DROP ROLE IF EXISTS ${ident(APP)}`).catch(() => undefined);
  await query(adminUrl(), `DROP ROLE IF EXISTS ${ident(OWNER)}`).catch(() => undefined);
});

const EXPECTED = `(NULLIF(current_setting('${SETTING}'::text, true), ''::text))::bigint`;

describe('tenant column default, in place', () => {
  it('created and filled tables default to the current tenant; no tenant → NOT NULL error; revert restores the old default', async () => {
    const { db, url } = await ownedDb('tdin');
    const info = await generateFixture(url, { tenants: 3, rowsPerTable: 10, preexistingUnified: true });
    // The pre-existing unified table had a default of its own: revert must bring exactly it back.
    await query(url, `ALTER TABLE public.accounts_membership ALTER COLUMN tenant_id SET DEFAULT 999`);
    const tenants = info.tenants.map((t) => t.schema);
    const before = await withClient(db.url, (c) => fingerprint(c, tenants));
    const cfg = { ...loadConfig({ source: url }, {}, '/'), rls: { setting: SETTING, force: true } };
    const run = await runCommand(cfg, log);
    expect(run.verify.ok).toBe(true);
    for (const t of ['public.accounts_account', 'public.accounts_transaction', 'public.audit_log', 'public."LedgerEntry"', 'public.accounts_membership']) {
      expect(await tenantDefault(db.url, t), t).toBe(EXPECTED);
    }
    await grantApp(url);
    const appUrl = roleUrl(db.url, APP);
    const t = info.tenants[1];
    expect(await appInsert(appUrl, String(t.id))).toEqual({ tenantId: String(t.id) });
    // No tenant: the policy's WITH CHECK rejects the row (42501) before NOT NULL would …
    expect(await appInsert(appUrl, null)).toMatchObject({ code: '42501' });
    expect(await appInsert(appUrl, '')).toMatchObject({ code: '42501' });
    // … and a role RLS does not apply to (a superuser's admin job) gets NOT NULL, never a NULL or wrong tenant.
    const su = await appInsert(db.url, null);
    expect(su).toMatchObject({ code: '23502' });
    expect((su as { message: string }).message).toContain('tenant_id');
    // The row is that tenant's, seen through RLS as that tenant.
    const seen = await withClient(appUrl, async (c) => {
      await c.query('BEGIN');
      await c.query('SELECT set_config($1, $2, true)', [SETTING, String(t.id)]);
      const r = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM public.accounts_account WHERE name = 'app insert'`);
      await c.query('COMMIT');
      return r.rows[0].n;
    });
    expect(seen).toBe(1);
    const r = await revertCommand({ ...cfg, discardWrites: true }, log, async () => true);
    expect(r.reverted).toBe(true);
    expect(await tenantDefault(db.url, 'public.accounts_membership')).toBe('999');
    const after = await withClient(db.url, (c) => fingerprint(c, tenants));
    expect(fingerprintDiff(before, after)).toEqual([]);
  });
});

describe('tenant column default, separate target (COPY path)', () => {
  it('the COPY is stamped through the same default, which stays for the application; revert drops it with the tables', async () => {
    const src = await ownedDb('tdsrc');
    const tgt = await ownedDb('tdtgt');
    const info = await generateFixture(src.url, { tenants: 3, rowsPerTable: 10 });
    const before = await withClient(tgt.db.url, (c) => fingerprint(c, []));
    const cfg = { ...loadConfig({ source: src.url, target: tgt.url }, {}, '/'), rls: { setting: SETTING, force: true } };
    const run = await runCommand(cfg, log);
    expect(run.verify.ok).toBe(true);
    // Every copied row carries its tenant (the default stamped them), and the default is the tenant default.
    const counts = await query<{ tenant_id: string; n: number }>(
      tgt.db.url,
      `SELECT tenant_id::text, count(*)::int AS n FROM public.accounts_account GROUP BY 1 ORDER BY 1`,
    );
    expect(counts).toEqual(info.tenants.map((t) => ({ tenant_id: String(t.id), n: 10 })).sort((a, b) => a.tenant_id.localeCompare(b.tenant_id)));
    expect(await tenantDefault(tgt.db.url, 'public.accounts_account')).toBe(EXPECTED);
    expect(run.plan.steps.some((s) => s.sql.some((q) => q.includes('oasys_migrate.copy_tenant')))).toBe(false);
    await grantApp(tgt.url);
    const appUrl = roleUrl(tgt.db.url, APP);
    expect(await appInsert(appUrl, String(info.tenants[2].id))).toEqual({ tenantId: String(info.tenants[2].id) });
    expect(await appInsert(appUrl, null)).toMatchObject({ code: '42501' });
    expect(await appInsert(tgt.db.url, null)).toMatchObject({ code: '23502' });
    const r = await revertCommand({ ...cfg, discardWrites: true }, log, async () => true);
    expect(r.reverted).toBe(true);
    const after = await withClient(tgt.db.url, (c) => fingerprint(c, []));
    expect(fingerprintDiff(before, after)).toEqual([]);
  });
});
