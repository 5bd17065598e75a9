/**
 * CI gating, from the outside (the real built CLI against real databases):
 * plan --fail-on, plan --out + run --plan (the approved-plan fingerprint),
 * verify --junit and check-rls --junit.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixture } from '../../fixtures/generate.js';
import { adminUrl, createTestDatabase } from '../support/db.js';
import { parseJson, qi, runCli, show, sql, tempDir, writeJson } from '../support/cli.js';
import { junitXml, xmlEscape } from '../../src/ci/junit.js';
import { randomBytes } from 'node:crypto';

const APP = `gate_app_${randomBytes(3).toString('hex')}`;

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];
async function fixtureDb(prefix: string, opts: Parameters<typeof generateFixture>[1]) {
  const db = await createTestDatabase(prefix);
  dbs.push(db);
  const info = await generateFixture(db.url, opts);
  return { ...db, info };
}
afterAll(async () => {
  for (const d of dbs) await d.drop();
  await sql(adminUrl(), `DROP ROLE IF EXISTS ${APP}`).catch(() => undefined);
});

interface PlanDoc {
  ok: boolean;
  failOn: string;
  problems: { severity: string; code: string }[];
}

describe('plan --fail-on', () => {
  let clean: Db;
  let warned: Db;
  let blocked: Db;
  beforeAll(async () => {
    clean = await fixtureDb('gate_clean', { tenants: 2, rowsPerTable: 3 });
    warned = await fixtureDb('gate_warn', { tenants: 2, rowsPerTable: 3, extras: true });
    blocked = await fixtureDb('gate_block', { tenants: 2, rowsPerTable: 3, drift: 'missing-column' });
  });

  it('warnings pass the default gate (error) and fail --fail-on warning', async () => {
    const dflt = await runCli(['plan', '--source', warned.url, '--json']);
    expect(dflt.code, show(dflt)).toBe(0);
    const doc = parseJson<PlanDoc>(dflt);
    expect(doc.failOn).toBe('error');
    expect(doc.problems.some((p) => p.severity === 'warning')).toBe(true);
    expect(doc.problems.some((p) => p.severity === 'error')).toBe(false);

    const strict = await runCli(['plan', '--source', warned.url, '--fail-on', 'warning']);
    expect(strict.code, show(strict)).toBe(1);
    expect(strict.stdout).toMatch(/--fail-on warning: \d+ problems? at warning or worse \(.*NOT_MIGRATED_OBJECT/);
    const strictJson = await runCli(['plan', '--source', warned.url, '--fail-on', 'warning', '--json']);
    expect(strictJson.code).toBe(1);
    expect(parseJson<PlanDoc>(strictJson).ok).toBe(false);
  });

  it('a plan without warnings passes --fail-on warning', async () => {
    const r = await runCli(['plan', '--source', clean.url, '--fail-on', 'warning', '--json']);
    const doc = parseJson<PlanDoc>(r);
    // The harness connects as a superuser: the RLS-bypass warning names it. Anything at warning level fails the gate.
    const warnings = doc.problems.filter((p) => p.severity !== 'info');
    expect(r.code, show(r)).toBe(warnings.length > 0 ? 1 : 0);
    expect(doc.ok).toBe(warnings.length === 0);
  });

  it('a blocking problem fails both gates', async () => {
    for (const level of ['error', 'warning']) {
      const r = await runCli(['plan', '--source', blocked.url, '--fail-on', level]);
      expect(r.code, show(r)).toBe(1);
      expect(r.stdout).toContain('DRIFT_MISSING_COLUMN');
    }
  });

  it('an unknown severity is a usage error naming the flag', async () => {
    const r = await runCli(['plan', '--source', clean.url, '--fail-on', 'info', '--json']);
    expect(r.code, show(r)).toBe(2);
    expect(parseJson(r).error.message).toContain('--fail-on');
  });
});

describe('plan --out, run --plan', () => {
  it('runs the approved plan; refuses (exit 1, nothing written) naming a changed config key, a new tenant and a changed table', async () => {
    const db = await fixtureDb('gate_plan', { tenants: 3, rowsPerTable: 4 });
    const dir = tempDir();
    const planFile = path.join(dir, 'plan.json');
    const p = await runCli(['plan', '--source', db.url, '--out', planFile]);
    expect(p.code, show(p)).toBe(0);
    const approved = JSON.parse(readFileSync(planFile, 'utf8'));
    expect(approved.format).toBe('oasys-migrate-plan');
    expect(approved.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(approved.basis.tenants).sort()).toEqual(db.info.tenants.map((t) => t.schema).sort());
    expect(approved.plan.steps.length).toBeGreaterThan(0);

    // A different configuration: refused, naming the key.
    const cfg = writeJson({ rls: { setting: 'app.tenant' } });
    const c = await runCli(['run', '--source', db.url, '-c', cfg, '--plan', planFile, '--json']);
    expect(c.code, show(c)).toBe(1);
    expect(parseJson(c).error.message).toContain('configuration rls.setting: approved "app.current_tenant", now "app.tenant"');

    // A restricted selection is a different plan too.
    const sel = await runCli(['run', '--source', db.url, '--tenants', 'acme', '--plan', planFile]);
    expect(sel.code, show(sel)).toBe(1);
    expect(sel.stderr).toContain('tenants of the approved plan that are gone or no longer selected: "globex"');

    // The tenants' table changed since approval (a migration ran in every tenant): refused, naming the table.
    const schemas = db.info.tenants.map((t) => t.schema);
    for (const s of schemas) await sql(db.url, `ALTER TABLE ${qi(s, 'audit_log')} ADD COLUMN extra int`);
    const ch = await runCli(['run', '--source', db.url, '--plan', planFile]);
    expect(ch.code, show(ch)).toBe(1);
    expect(ch.stderr).toContain('no longer matches the approved plan');
    expect(ch.stderr).toContain('tables whose definition or target changed (columns, keys, indexes, types, tenants, or create vs fill): "audit_log"');
    for (const s of schemas) await sql(db.url, `ALTER TABLE ${qi(s, 'audit_log')} DROP COLUMN extra`);

    // A new warning since approval (an index in one tenant only): refused, naming the problem.
    await sql(db.url, `CREATE INDEX gate_extra_idx ON ${qi('acme', 'audit_log')} (actor)`);
    const w = await runCli(['run', '--source', db.url, '--plan', planFile]);
    expect(w.code, show(w)).toBe(1);
    expect(w.stderr).toMatch(/problems not in the approved plan: warning DRIFT_INDEX table audit_log/);
    await sql(db.url, `DROP INDEX ${qi('acme', 'gate_extra_idx')}`);

    // A new tenant registered since approval: refused, naming it.
    await sql(db.url, `CREATE SCHEMA newco`);
    await sql(
      db.url,
      `INSERT INTO public.customers_client (schema_name, name, paid_until, on_trial, created_on) VALUES ('newco', 'New Co', '2030-01-01', false, '2024-01-01')`,
    );
    const nt = await runCli(['run', '--source', db.url, '--plan', planFile]);
    expect(nt.code, show(nt)).toBe(1);
    expect(nt.stderr).toContain('tenants not in the approved plan: "newco"');
    await sql(db.url, `DELETE FROM public.customers_client WHERE schema_name = 'newco'`);
    await sql(db.url, `DROP SCHEMA newco`);

    // Nothing was written by the refusals.
    const [st] = await sql<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'oasys_migrate'`);
    expect(st.n).toBe(0);

    // Back as approved: it runs.
    const ok = await runCli(['run', '--source', db.url, '--plan', planFile, '--json']);
    expect(ok.code, show(ok)).toBe(0);
    expect(parseJson(ok).ok).toBe(true);
  });

  it('a file that is not a plan is a usage error', async () => {
    const db = await fixtureDb('gate_badplan', { tenants: 1, rowsPerTable: 1 });
    const bad = writeJson({ hello: 1 });
    const r = await runCli(['run', '--source', db.url, '--plan', bad]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain('not a plan written by `oasys-migrate plan --out`');
  });
});

describe('--junit', () => {
  it('verify and check-rls write JUnit XML: one case per (tenant, table) / per check, failures with messages', async () => {
    const db = await fixtureDb('gate_junit', { tenants: 3, rowsPerTable: 4 });
    const run = await runCli(['run', '--source', db.url]);
    expect(run.code, show(run)).toBe(0);
    const dir = tempDir();
    const ok = path.join(dir, 'verify-ok.xml');
    const v = await runCli(['verify', '--source', db.url, '--junit', ok]);
    expect(v.code, show(v)).toBe(0);
    const xml = readFileSync(ok, 'utf8');
    const pairs = (await sql<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM oasys_migrate.step WHERE phase = 'copy'`))[0].n;
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect((xml.match(/<testcase classname="verify\.[^"]+" name="[^"]*\(tenant_id/g) ?? []).length).toBe(pairs);
    expect(xml).not.toContain('<failure');
    // The tenant named  weird "name"; with.dot  is escaped in the attribute.
    expect(xml).toContain('name="weird &quot;name&quot;; with.dot (tenant_id');

    // Tamper with one unified row: that (tenant, table) fails, with a message.
    await sql(
      db.url,
      `UPDATE public.audit_log SET actor = 'tampered' WHERE ctid = (SELECT ctid FROM public.audit_log WHERE tenant_id = (SELECT id FROM public.customers_client WHERE schema_name = 'acme') LIMIT 1)`,
    );
    const bad = path.join(dir, 'verify-bad.xml');
    const vb = await runCli(['verify', '--source', db.url, '--junit', bad]);
    expect(vb.code, show(vb)).toBe(1);
    const badXml = readFileSync(bad, 'utf8');
    expect(badXml).toMatch(/<testsuite name="oasys-migrate verify \(run #1\)" tests="\d+" failures="1"/);
    expect(badXml).toMatch(
      /<testcase classname="verify\.audit_log" name="acme \(tenant_id \d+\)"[^>]*>\s*<failure message="tenant &quot;acme&quot; table audit_log: same row count \(\d+\) but the checksums differ/,
    );

    // check-rls as an application role.
    await sql(db.url, `CREATE ROLE ${APP} NOLOGIN`);
    await sql(db.url, `GRANT USAGE ON SCHEMA public TO ${APP}`);
    await sql(db.url, `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${APP}`);
    const rlsFile = path.join(dir, 'rls.xml');
    const rc = await runCli(['check-rls', '--source', db.url, '--role', APP, '--junit', rlsFile, '--json']);
    expect(rc.code, show(rc)).toBe(0);
    const checks = parseJson<{ checks: unknown[] }>(rc).checks;
    const rlsXml = readFileSync(rlsFile, 'utf8');
    expect((rlsXml.match(/<testcase /g) ?? []).length).toBe(checks.length);
    expect(rlsXml).toMatch(new RegExp(`<testsuite name="oasys-migrate check-rls \\(role ${APP}\\)" tests="\\d+" failures="0"`));

    // A role that bypasses RLS fails its check, and the XML says why.
    await sql(db.url, `ALTER ROLE ${APP} BYPASSRLS`);
    const rlsBad = path.join(dir, 'rls-bad.xml');
    const rb = await runCli(['check-rls', '--source', db.url, '--role', APP, '--junit', rlsBad]);
    expect(rb.code, show(rb)).toBe(1);
    expect(readFileSync(rlsBad, 'utf8')).toMatch(/<failure message="[^"]*BYPASSRLS[^"]*" type="isolation">/i);
    await sql(db.url, `DROP OWNED BY ${APP}`);
    await sql(db.url, `DROP ROLE ${APP}`);
  });

  it('escapes markup and drops characters XML cannot carry', () => {
    expect(xmlEscape(`a<b>&"c"'d'\u0001\u0008e`)).toBe('a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;\uFFFD\uFFFDe');
    const xml = junitXml([{ name: 's', cases: [{ classname: 'x', name: 'y', failure: { message: 'line1\nline2 <&>' } }] }]);
    expect(xml).toContain('<failure message="line1&#10;line2 &lt;&amp;&gt;" type="failure">line1\nline2 &lt;&amp;&gt;</failure>');
  });
});
