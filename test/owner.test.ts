import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { generateFixture, type FixtureInfo } from '../fixtures/generate.js';
import { checkRlsCommand } from '../src/commands/checkRls.js';
import { revertCommand } from '../src/commands/revert.js';
import { runCommand } from '../src/commands/run.js';
import { verifyCommand } from '../src/commands/verify.js';
import { loadConfig, type ResolvedConfig } from '../src/config/load.js';
import { ident } from '../src/db/ident.js';
import { silentLogger } from '../src/log.js';
import { fingerprint, fingerprintDiff } from '../src/verify/fingerprint.js';
import { adminUrl, createTestDatabase, query, withClient } from './support/db.js';

/**
 * The tool as managed services run it: the migrating role owns the objects
 * and is NOSUPERUSER NOBYPASSRLS, so every FORCEd policy applies to it too.
 * The application connects as a third role that owns nothing.
 */
const log = silentLogger();
const tag = `${process.pid}_${randomBytes(3).toString('hex')}`;
const OWNER = `owner_${tag}`;
const APP = `app_${tag}`;
const PASSWORD = randomBytes(9).toString('hex');

function roleUrl(dbUrl: string, role: string): string {
  const u = new URL(dbUrl);
  u.username = role;
  u.password = PASSWORD;
  return u.toString();
}

type Db = Awaited<ReturnType<typeof createTestDatabase>>;

/** A database owned by OWNER, with the fixture built by OWNER (so OWNER owns every table). */
async function ownedDatabase(opts: Parameters<typeof generateFixture>[1] = {}): Promise<{ db: Db; url: string; info: FixtureInfo }> {
  const db = await createTestDatabase('own');
  await query(db.url, `ALTER DATABASE ${ident(db.name)} OWNER TO ${ident(OWNER)}`);
  await query(db.url, `ALTER SCHEMA public OWNER TO ${ident(OWNER)}`);
  const url = roleUrl(db.url, OWNER);
  const info = await generateFixture(url, opts);
  return { db, url, info };
}

async function grantApp(url: string, tables: string[]) {
  for (const t of tables) await query(url, `GRANT SELECT, INSERT, UPDATE, DELETE ON ${ident('public', t)} TO ${ident(APP)}`);
  await query(url, `GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${ident(APP)}`);
}

const dbs: Db[] = [];

beforeAll(async () => {
  await query(adminUrl(), `CREATE ROLE ${ident(OWNER)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB PASSWORD '${PASSWORD}'`);
  await query(adminUrl(), `CREATE ROLE ${ident(APP)} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '${PASSWORD}'`);
  // check-rls switches to the application role: the owner must be a member of it (as on RDS).
  await query(adminUrl(), `GRANT ${ident(APP)} TO ${ident(OWNER)}`);
});

afterAll(async () => {
  for (const d of dbs) await d.drop();
  await query(adminUrl(), `DROP ROLE IF EXISTS ${ident(APP)}`).catch(() => undefined);
  await query(adminUrl(), `DROP ROLE IF EXISTS ${ident(OWNER)}`).catch(() => undefined);
});

describe('as a NOSUPERUSER NOBYPASSRLS owner', () => {
  let url: string;
  let admin: string;
  let info: FixtureInfo;
  let cfg: ResolvedConfig;
  let before: Awaited<ReturnType<typeof fingerprint>>;

  beforeAll(async () => {
    const o = await ownedDatabase({ tenants: 3, rowsPerTable: 25, preexistingUnified: true });
    dbs.push(o.db);
    url = o.url;
    admin = o.db.url;
    info = o.info;
    // The pre-existing unified table already forces its own tenant policy: the owner sees none of its rows.
    await query(url, `ALTER TABLE public.accounts_membership ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY`);
    await query(
      url,
      `CREATE POLICY tenant_isolation ON public.accounts_membership USING (tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::int) WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::int)`,
    );
    before = await withClient(admin, (c) =>
      fingerprint(
        c,
        info.tenants.map((t) => t.schema),
      ),
    );
    cfg = loadConfig({ source: url }, {}, '/');
  });

  it('the role really is neither superuser nor BYPASSRLS, and is hidden from the forced table', async () => {
    const [r] = await query<{ s: boolean; b: boolean; n: number }>(
      url,
      `SELECT rolsuper AS s, rolbypassrls AS b, (SELECT count(*)::int FROM public.accounts_membership) AS n FROM pg_roles WHERE rolname = current_user`,
    );
    expect(r).toEqual({ s: false, b: false, n: 0 });
  });

  it('run: plan names the role; sequences end past the highest id; verify passes', async () => {
    const run = await runCommand(cfg, log);
    expect(run.verify.ok).toBe(true);
    expect(run.plan.role).toEqual({ name: OWNER, superuser: false, bypassRls: false });
    expect(run.plan.problems.find((p) => p.code === 'MIGRATING_ROLE')?.message).toContain(`"${OWNER}" (NOSUPERUSER NOBYPASSRLS)`);
    // Seen by a superuser: every serial/identity sequence is at or past its table's max.
    const seqs = await query<{ t: string; c: string; max: string; last: string }>(
      admin,
      `
      SELECT c.relname AS t, a.attname AS c, m.max, pg_sequence_last_value(pg_get_serial_sequence(format('public.%I', c.relname), a.attname)::regclass)::text AS last
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
        CROSS JOIN LATERAL (SELECT (xpath('/row/m/text()', query_to_xml(format('SELECT max(%I) AS m FROM public.%I', a.attname, c.relname), false, true, '')))[1]::text AS max) m
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
         AND pg_get_serial_sequence(format('public.%I', c.relname), a.attname) IS NOT NULL`,
    );
    expect(seqs.length).toBeGreaterThan(2);
    for (const s of seqs) expect(BigInt(s.last ?? '0'), `${s.t}.${s.c}`).toBeGreaterThanOrEqual(BigInt(s.max ?? '0'));
    // FORCE is back on every unified table, the pre-existing one included.
    const flags = await query<{ relname: string; f: boolean }>(
      admin,
      `SELECT relname, relforcerowsecurity AS f FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r','p') AND relrowsecurity ORDER BY 1`,
    );
    expect(flags.map((f) => f.relname)).toEqual(expect.arrayContaining(['accounts_account', 'accounts_membership', 'accounts_transaction']));
    expect(flags.every((f) => f.f)).toBe(true);
    // The pre-existing rows of tenant 999 are still there.
    const [pre] = await query<{ n: number }>(admin, `SELECT count(*)::int AS n FROM public.accounts_membership WHERE tenant_id = 999`);
    expect(pre.n).toBe(3);
  });

  it('the application role inserts with a default id, without a duplicate key', async () => {
    await grantApp(url, info.tenantTables);
    const appUrl = roleUrl(admin, APP);
    const t = info.tenants[1];
    const id = await withClient(appUrl, async (c) => {
      await c.query('BEGIN');
      await c.query(`SELECT set_config('app.current_tenant', $1, true)`, [String(t.id)]);
      const r = await c.query<{ id: number }>(
        `INSERT INTO public.accounts_transaction (tenant_id, account_id, amount, memo, created_at)
         SELECT tenant_id, id, 1, 'owner-test', now() FROM public.accounts_account LIMIT 1 RETURNING id`,
      );
      await c.query('ROLLBACK');
      return r.rows[0].id;
    });
    const [m] = await query<{ m: number }>(admin, `SELECT max(id)::int AS m FROM public.accounts_transaction`);
    expect(Number(id)).toBeGreaterThan(m.m);
  });

  it('verify as the owner passes, and finds each of the four tamperings', async () => {
    const ok = await verifyCommand(cfg, log);
    expect(ok.ok).toBe(true);
    expect(ok.results.length).toBe(15);
    const [a, b, c] = info.tenants;
    // Four tamperings, each in its own (tenant, table), committed by a superuser.
    await query(admin, `UPDATE public.accounts_account SET active = NOT active WHERE tenant_id = $1 AND id = 3`, [a.id]);
    await query(admin, `DELETE FROM public."LedgerEntry" WHERE tenant_id = $1 AND id = 3`, [b.id]);
    await query(
      admin,
      `INSERT INTO public.audit_log SELECT * FROM public.audit_log WHERE ctid = (SELECT min(ctid) FROM public.audit_log WHERE tenant_id = $1)`,
      [c.id],
    );
    await query(admin, `UPDATE public.audit_log SET tenant_id = $2 WHERE ctid = (SELECT min(ctid) FROM public.audit_log WHERE tenant_id = $1)`, [a.id, b.id]);
    const bad = await verifyCommand(cfg, log);
    expect(bad.ok).toBe(false);
    const wrong = bad.results
      .filter((r) => !r.ok)
      .map((r) => `${r.tenant}/${r.table}`)
      .sort();
    expect(wrong).toEqual(
      [`${a.schema}/accounts_account`, `${a.schema}/audit_log`, `${b.schema}/LedgerEntry`, `${b.schema}/audit_log`, `${c.schema}/audit_log`].sort(),
    );
  });

  it('check-rls passes as the application role, run as the owner', async () => {
    const r = await checkRlsCommand(cfg, log, APP);
    expect(r.checks.filter((x) => !x.ok)).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it("revert as the owner is exact: tenant 999's rows, FORCE and the policy of the pre-existing table come back", async () => {
    const r = await revertCommand({ ...cfg, discardWrites: true }, log, async () => true);
    expect(r.reverted).toBe(true);
    const after = await withClient(admin, (c) =>
      fingerprint(
        c,
        info.tenants.map((t) => t.schema),
      ),
    );
    expect(fingerprintDiff(before, after)).toEqual([]);
  });
});

describe('as a NOSUPERUSER NOBYPASSRLS owner, in two batches of tenants', () => {
  it('the second batch fills the forced tables of the first; sequences, verify and revert stay right', async () => {
    const o = await ownedDatabase({ tenants: 3, rowsPerTable: 20 });
    dbs.push(o.db);
    const tenants = o.info.tenants.map((t) => t.schema);
    const before = await withClient(o.db.url, (c) => fingerprint(c, tenants));
    const first = await runCommand(loadConfig({ source: o.url, tenants: tenants.slice(0, 2).join(',') }, {}, '/'), log);
    expect(first.verify.ok).toBe(true);
    const second = await runCommand(loadConfig({ source: o.url, tenants: tenants[2] }, {}, '/'), log);
    expect(second.verify.ok).toBe(true);
    expect(second.plan.tables.every((t) => t.action === 'fill' && t.liftForce === true)).toBe(true);
    const [n] = await query<{ n: number; t: number }>(
      o.db.url,
      `SELECT count(*)::int AS n, count(DISTINCT tenant_id)::int AS t FROM public.accounts_transaction`,
    );
    expect(n).toEqual({ n: 60, t: 3 });
    const [seq] = await query<{ ok: boolean }>(
      o.db.url,
      `SELECT pg_sequence_last_value(pg_get_serial_sequence('public.accounts_transaction', 'id')::regclass) >= (SELECT max(id) FROM public.accounts_transaction) AS ok`,
    );
    expect(seq.ok).toBe(true);
    const forced = await query<{ f: boolean }>(o.db.url, `SELECT relforcerowsecurity AS f FROM pg_class WHERE oid = 'public.accounts_transaction'::regclass`);
    expect(forced[0].f).toBe(true);
    const v = await verifyCommand(loadConfig({ source: o.url }, {}, '/'), log);
    expect(v.ok).toBe(true);
    expect(v.results.length).toBe(15); // verify checks every completed run: both batches, 3 tenants × 5 tables
    const cfg = loadConfig({ source: o.url }, {}, '/');
    expect((await revertCommand(cfg, log, async () => true)).reverted).toBe(true);
    expect((await revertCommand(cfg, log, async () => true)).reverted).toBe(true);
    const after = await withClient(o.db.url, (c) => fingerprint(c, tenants));
    expect(fingerprintDiff(before, after)).toEqual([]);
  });
});
