/**
 * `plan` from the outside: the real CLI against fixture databases (issue 2,
 * "Done means"; SPEC §2, §3, §5, §6).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/db.js';
import { generateFixture, type FixtureInfo, type FixtureOptions } from '../../fixtures/generate.js';
import { FIXTURE_TABLES, fingerprint, parseJson, runCli, schemaExists, show, tempDir, unusedPort, withClient, writeJson } from '../support/cli.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];

async function fixtureDb(opts: FixtureOptions = {}): Promise<{ url: string; info: FixtureInfo }> {
  const db = await createTestDatabase('cliplan');
  dbs.push(db);
  const info = await generateFixture(db.url, { rowsPerTable: 6, ...opts });
  return { url: db.url, info };
}

afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop().catch(() => undefined)));
});

interface PlanDoc {
  tenants: { schema: string; tenantId: unknown }[];
  tables: { name: string; action: string; rows: unknown }[];
  problems: { severity: string; code: string; tenant: string | null; table: string | null; message: string; column?: string | null }[];
}

function expectPlanShape(doc: PlanDoc): void {
  expect(Array.isArray(doc.tenants), 'tenants is an array').toBe(true);
  expect(Array.isArray(doc.tables), 'tables is an array').toBe(true);
  expect(Array.isArray(doc.problems), 'problems is an array').toBe(true);
  for (const t of doc.tenants) {
    expect(typeof t.schema).toBe('string');
    expect(['string', 'number']).toContain(typeof t.tenantId);
  }
  for (const t of doc.tables) {
    expect(typeof t.name).toBe('string');
    expect(['create', 'fill']).toContain(t.action);
    expect(typeof t.rows, `rows of ${t.name}`).toBe('number');
  }
  for (const p of doc.problems) {
    expect(Object.keys(p)).toEqual(expect.arrayContaining(['severity', 'code', 'tenant', 'table', 'message']));
    expect(typeof p.severity).toBe('string');
    expect(typeof p.code).toBe('string');
    expect(typeof p.message).toBe('string');
    expect(p.message.length).toBeGreaterThan(0);
  }
}

const BLOCKING = (p: { severity: string }) => !['info', 'warning', 'notice'].includes(p.severity);

describe('plan on the 3-tenant fixture', () => {
  let url: string;
  let info: FixtureInfo;
  let before: string[];

  beforeAll(async () => {
    ({ url, info } = await fixtureDb());
    before = await fingerprint(url);
  });

  it('plan --json lists exactly the 3 tenant schemas with their registry ids, every table, and exits 0', async () => {
    const r = await runCli(['plan', '--json', '--source', url]);
    expect(r.code, show(r)).toBe(0);
    // stdout is one JSON document and nothing else
    expect(r.stdout.trim().startsWith('{'), show(r)).toBe(true);
    expect(r.stdout.trim().endsWith('}'), show(r)).toBe(true);
    const doc = parseJson<PlanDoc>(r);
    expectPlanShape(doc);
    const got = doc.tenants.map((t) => ({ schema: t.schema, tenantId: String(t.tenantId) })).sort((a, b) => a.schema.localeCompare(b.schema));
    const want = info.tenants.map((t) => ({ schema: t.schema, tenantId: String(t.id) })).sort((a, b) => a.schema.localeCompare(b.schema));
    expect(got).toEqual(want);
    expect(doc.tables.map((t) => t.name).sort()).toEqual([...FIXTURE_TABLES].sort());
    for (const t of doc.tables) expect(t.action, t.name).toBe('create');
    expect(doc.problems.filter(BLOCKING)).toEqual([]);
    // django_migrations is not a tenant table to migrate (default tables.exclude)
    expect(doc.tables.map((t) => t.name)).not.toContain('django_migrations');
  });

  it('plan (human, not a terminal) exits 0, names the tenants and prints no colour codes', async () => {
    const r = await runCli(['plan', '--source', url]);
    expect(r.code, show(r)).toBe(0);
    const out = r.stdout + r.stderr;
    // the name may be shown raw or quoted/escaped (e.g. JSON-style), but it must be there
    for (const t of info.tenants) expect(out.includes(t.schema) || out.includes(JSON.stringify(t.schema)), `tenant ${t.schema} named in:\n${out}`).toBe(true);
    expect(out.includes('\u001b['), 'no ANSI escape codes off a terminal').toBe(false);
  });

  it('plan --sql prints the DDL: CREATE TABLE, tenant-leading PRIMARY KEY and FOREIGN KEY, CREATE POLICY tenant_isolation, RLS', async () => {
    const r = await runCli(['plan', '--sql', '--source', url]);
    expect(r.code, show(r)).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/CREATE TABLE/i);
    expect(out).toMatch(/PRIMARY KEY \("?tenant_id"?, /i);
    expect(out).toMatch(/FOREIGN KEY \("?tenant_id"?, /i);
    expect(out).toMatch(/CREATE POLICY "?tenant_isolation"?/i);
    expect(out).toMatch(/ENABLE ROW LEVEL SECURITY/i);
    expect(out).toMatch(/FORCE ROW LEVEL SECURITY/i);
    // every unified table gets a CREATE TABLE
    for (const t of FIXTURE_TABLES) expect(out, `CREATE TABLE for ${t}`).toMatch(new RegExp(`CREATE TABLE[^\\n]*"?${t}"?`, 'i'));
  });

  it('run --dry-run --json is the same plan', async () => {
    const r = await runCli(['run', '--dry-run', '--json', '--source', url]);
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson<PlanDoc>(r);
    expectPlanShape(doc);
    expect(doc.tenants.map((t) => t.schema).sort()).toEqual(info.tenants.map((t) => t.schema).sort());
  });

  it('plan (and plan --sql, run --dry-run) changed nothing: catalog + data fingerprint identical, no oasys_migrate schema', async () => {
    // runs after the tests above, which executed plan, plan --json, plan --sql and run --dry-run
    const r = await runCli(['plan', '--json', '--source', url]);
    expect(r.code, show(r)).toBe(0);
    const after = await fingerprint(url);
    expect(after).toEqual(before);
    expect(await schemaExists(url, 'oasys_migrate')).toBe(false);
  });

  it('connection precedence: flag > environment (OASYS_SOURCE_URL) > config file', async () => {
    const closed = `postgres://u:pw@127.0.0.1:${await unusedPort()}/x`;
    const [env, flag, envOverFile, dbUrl, fileOnly] = await Promise.all([
      // environment alone
      runCli(['plan', '--json'], { env: { OASYS_SOURCE_URL: url } }),
      // flag beats environment
      runCli(['plan', '--json', '--source', url], { env: { OASYS_SOURCE_URL: closed } }),
      // environment beats config file
      runCli(['plan', '--json', '-c', writeJson({ source: closed })], { env: { OASYS_SOURCE_URL: url } }),
      // DATABASE_URL is used when OASYS_SOURCE_URL is not set
      runCli(['plan', '--json'], { env: { DATABASE_URL: url } }),
      // and the config file is used when nothing else is given
      runCli(['plan', '--json', '-c', writeJson({ source: url })]),
    ]);
    expect(env.code, `OASYS_SOURCE_URL alone: ${show(env)}`).toBe(0);
    expect(flag.code, `--source over OASYS_SOURCE_URL: ${show(flag)}`).toBe(0);
    expect(envOverFile.code, `OASYS_SOURCE_URL over the config file: ${show(envOverFile)}`).toBe(0);
    expect(dbUrl.code, `DATABASE_URL alone: ${show(dbUrl)}`).toBe(0);
    expect(fileOnly.code, `config file alone: ${show(fileOnly)}`).toBe(0);
  });

  it('the password of the source URL appears in no plan output', async () => {
    const pw = decodeURIComponent(new URL(url).password);
    expect(pw.length).toBeGreaterThan(0);
    const argsList = [['plan', '--json'], ['plan'], ['plan', '--sql']];
    const results = await Promise.all(argsList.map((args) => runCli([...args, '--source', url])));
    for (const [i, args] of argsList.entries()) {
      const r = results[i];
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout.includes(pw) || r.stderr.includes(pw), `password in output of ${args.join(' ')}`).toBe(false);
    }
  });

  it('--tenants nosuch exits 2 naming the unknown tenant', async () => {
    const r = await runCli(['plan', '--json', '--source', url, '--tenants', 'nosuch']);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain('nosuch');
  });

  it('--tenants acme restricts the plan to that tenant', async () => {
    const r = await runCli(['plan', '--json', '--source', url, '--tenants', 'acme']);
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson<PlanDoc>(r);
    expect(doc.tenants.map((t) => t.schema)).toEqual(['acme']);
  });

  it('an unknown top-level config key exits 2 naming the key', async () => {
    const cfg = writeJson({ source: url, nosuchkey: true });
    const r = await runCli(['plan', '--json', '-c', cfg]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain('nosuchkey');
    expect(r.stdout.includes('"tenants"'), 'no plan document on a usage error').toBe(false);
  });

  it('an unknown nested config key exits 2 naming the key path', async () => {
    const cfg = writeJson({ tenants: { registry: { table: 'public.customers_client', tabel: 'x' } } });
    const r = await runCli(['plan', '--json', '-c', cfg, '--source', url]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain('tabel');
    expect(r.stderr).toMatch(/tenants\.registry\.tabel|tenants\.registry/);
  });

  it('a config value of the wrong type exits 2 naming the key path', async () => {
    const cfg = writeJson({ concurrency: 'four' });
    const r = await runCli(['plan', '--json', '-c', cfg, '--source', url]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain('concurrency');
  });

  it('a config file with only tables.map for a table that does not clash still plans (exit 0) under the mapped name', async () => {
    const cfg = writeJson({ tables: { map: { audit_log: 'tenant_audit_log' } } });
    const r = await runCli(['plan', '--json', '-c', cfg, '--source', url]);
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson<PlanDoc>(r);
    expect(doc.tables.map((t) => t.name)).toContain('tenant_audit_log');
    expect(doc.tables.map((t) => t.name)).not.toContain('audit_log');
  });
});

describe('plan reports drift in one tenant (globex): exit 1, a blocking problem naming tenant and table', () => {
  const cases: { drift: 'missing-column' | 'changed-type' | 'missing-table'; code: string; table: string; column?: string }[] = [
    { drift: 'missing-column', code: 'DRIFT_MISSING_COLUMN', table: 'accounts_account', column: 'name' },
    { drift: 'changed-type', code: 'DRIFT_COLUMN_TYPE', table: 'accounts_account', column: 'balance' },
    { drift: 'missing-table', code: 'DRIFT_MISSING_TABLE', table: 'LedgerEntry' },
  ];
  const urls = new Map<string, string>();
  beforeAll(async () => {
    for (const c of cases) urls.set(c.drift, (await fixtureDb({ drift: c.drift })).url);
  });

  for (const c of cases) {
    it(`${c.drift} → ${c.code} for globex/${c.table}, exit 1`, async () => {
      const url = urls.get(c.drift)!;
      const r = await runCli(['plan', '--json', '--source', url]);
      expect(r.code, show(r)).toBe(1);
      const doc = parseJson<PlanDoc>(r);
      expectPlanShape(doc);
      const hits = doc.problems.filter((p) => p.code === c.code);
      expect(hits.length, JSON.stringify(doc.problems, null, 2)).toBeGreaterThan(0);
      const hit = hits.find((p) => p.tenant === 'globex' && p.table === c.table);
      expect(hit, `a ${c.code} problem with tenant globex and table ${c.table}: ${JSON.stringify(hits, null, 2)}`).toBeDefined();
      expect(BLOCKING(hit!), `severity ${hit!.severity} is blocking`).toBe(true);
      if (c.column) expect(`${hit!.column ?? ''} ${hit!.message}`).toContain(c.column);
      // no other tenant is blamed for this drift
      expect(hits.filter((p) => p.tenant !== 'globex' && p.tenant !== null)).toEqual([]);
    });
  }

  it('human plan output on drift names the tenant, the table and the code, exit 1', async () => {
    const r = await runCli(['plan', '--source', urls.get('missing-column')!]);
    expect(r.code, show(r)).toBe(1);
    const out = r.stdout + r.stderr;
    expect(out).toContain('globex');
    expect(out).toContain('accounts_account');
    expect(out).toContain('DRIFT_MISSING_COLUMN');
  });

  it('run refuses to start on a blocking problem: exit 1 and nothing written', async () => {
    const url = urls.get('changed-type')!;
    const before = await fingerprint(url);
    const r = await runCli(['run', '--source', url]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stdout + r.stderr).toContain('globex');
    // nothing outside the state schema changed …
    expect(await fingerprint(url, { exclude: ['oasys_migrate'] })).toEqual(before);
    // … and not even the state schema was created ("refuses to start, nothing written")
    expect(await schemaExists(url, 'oasys_migrate'), 'run on a blocking plan created the oasys_migrate schema').toBe(false);
  });
});

describe('plan: shared-name clash, orphans', () => {
  it('sharedNameClash: django_content_type in public and the tenants is merged by natural key (exit 0, MERGE with counts), not a conflict', async () => {
    const { url } = await fixtureDb({ sharedNameClash: true });
    const r = await runCli(['plan', '--json', '--source', url]);
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson<PlanDoc>(r);
    expectPlanShape(doc);
    expect(doc.problems.filter((p) => p.code === 'TARGET_CONFLICT')).toEqual([]);
    const merge = doc.problems.find((p) => p.code === 'MERGE');
    expect(merge, JSON.stringify(doc.problems, null, 2)).toBeDefined();
    // public has 7 content types; each of the 3 tenants has 4: contenttypes.contenttype (in public too) and
    // accounts.account/transaction/membership (tenant models: added to public once, not once per tenant).
    expect(merge!.message).toContain('merged into public.django_content_type by (app_label, model)');
    expect(merge!.message).toContain('has 7 rows, the tenants 12: 3 match, 9 do not and add 3 new rows');
    expect(doc.tables.map((t) => t.name)).not.toContain('django_content_type');
  });

  it('another same-name table is TARGET_CONFLICT offering tables.map, tables.merge and targetSchema; each way out plans with exit 0', async () => {
    const { url } = await fixtureDb();
    await withClient(url, (c) => c.query(`CREATE TABLE public."LedgerEntry" (id serial PRIMARY KEY, "Amount" numeric, "Note" text UNIQUE, "order" integer)`));
    const r = await runCli(['plan', '--json', '--source', url]);
    expect(r.code, show(r)).toBe(1);
    const conflict = parseJson<PlanDoc>(r).problems.find((p) => p.code === 'TARGET_CONFLICT');
    expect(conflict, show(r)).toBeDefined();
    expect(conflict!.table).toBe('LedgerEntry');
    expect(BLOCKING(conflict!)).toBe(true);
    const hint = (conflict as { hint?: string }).hint ?? '';
    for (const way of ['tables.map', 'tables.merge', 'targetSchema', 'tables.exclude']) expect(hint).toContain(way);

    const mapped = await runCli(['plan', '--json', '-c', writeJson({ tables: { map: { LedgerEntry: 'tenant_ledger_entry' } } }), '--source', url]);
    expect(mapped.code, show(mapped)).toBe(0);
    expect(parseJson<PlanDoc>(mapped).tables.find((t) => t.name === 'tenant_ledger_entry')?.action).toBe('create');

    const merged = await runCli(['plan', '--json', '-c', writeJson({ tables: { merge: { LedgerEntry: ['Note'] } } }), '--source', url]);
    expect(merged.code, show(merged)).toBe(0);
    expect(parseJson<PlanDoc>(merged).problems.find((p) => p.code === 'MERGE')?.message).toContain(
      '"LedgerEntry" of 3 tenants is merged into public.LedgerEntry by (Note) (tables.merge)',
    );

    const badKey = await runCli(['plan', '--json', '-c', writeJson({ tables: { merge: { LedgerEntry: ['nope'] } } }), '--source', url]);
    expect(badKey.code, show(badKey)).toBe(1);
    expect(parseJson<PlanDoc>(badKey).problems.find((p) => p.code === 'MERGE_INVALID')?.message).toContain('"nope"');
  });

  it('orphans → warnings ORPHAN_SCHEMA (orphan_schema) and MISSING_SCHEMA (ghost), exit 0, neither planned as a tenant', async () => {
    const { url, info } = await fixtureDb({ orphans: true });
    const r = await runCli(['plan', '--json', '--source', url]);
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson<PlanDoc>(r);
    expectPlanShape(doc);
    const orphan = doc.problems.find((p) => p.code === 'ORPHAN_SCHEMA');
    const missing = doc.problems.find((p) => p.code === 'MISSING_SCHEMA');
    expect(orphan, JSON.stringify(doc.problems, null, 2)).toBeDefined();
    expect(missing, JSON.stringify(doc.problems, null, 2)).toBeDefined();
    expect(orphan!.severity).toBe('warning');
    expect(missing!.severity).toBe('warning');
    expect(`${orphan!.tenant} ${orphan!.message}`).toContain(info.orphanSchema!);
    expect(`${missing!.tenant} ${missing!.message}`).toContain(info.ghostTenant!.schema);
    expect(doc.tenants.map((t) => t.schema).sort()).toEqual(info.tenants.map((t) => t.schema).sort());
  });
});

describe('plan: connection failures', () => {
  it('a closed port exits 3 within 15 s; the password appears in no output and no log file', async () => {
    const port = await unusedPort();
    const dir = tempDir();
    const logFile = path.join(dir, 'plan.log');
    const src = `postgres://u:SECRETPW@127.0.0.1:${port}/x`;
    const r = await runCli(['plan', '--source', src, '--log-file', logFile, '--log-level', 'debug'], { timeoutMs: 20_000 });
    expect(r.code, show(r)).toBe(3);
    expect(r.ms).toBeLessThan(15_000);
    expect(r.stderr.length, 'an error message on stderr').toBeGreaterThan(0);
    expect(r.stdout).not.toContain('SECRETPW');
    expect(r.stderr).not.toContain('SECRETPW');
    expect(existsSync(logFile), '--log-file was written').toBe(true);
    const log = readFileSync(logFile, 'utf8');
    expect(log.trim().length, 'the log file records the failure').toBeGreaterThan(0);
    for (const line of log.trim().split('\n')) expect(() => JSON.parse(line), `JSON line: ${line}`).not.toThrow();
    expect(log).not.toContain('SECRETPW');
  });

  it('the same with --json and the URL given through the config file: exit 3, no password anywhere', async () => {
    const port = await unusedPort();
    const dir = tempDir();
    const logFile = path.join(dir, 'plan-json.log');
    const cfg = writeJson({ source: `postgres://u:SECRETPW@127.0.0.1:${port}/x` });
    const r = await runCli(['plan', '--json', '-c', cfg, '--log-file', logFile], { timeoutMs: 20_000 });
    expect(r.code, show(r)).toBe(3);
    expect(r.ms).toBeLessThan(15_000);
    expect(r.stdout + r.stderr).not.toContain('SECRETPW');
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    expect(log).not.toContain('SECRETPW');
  });
});
