import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ident } from '../src/db/ident.js';
import { adminUrl, createTestDatabase, query, withClient } from './support/db.js';
import { fingerprint, fingerprintDiff } from '../src/verify/fingerprint.js';
import { parseJson, runCli, show, writeJson } from './support/cli.js';

/**
 * A real Django project (test/django, Debian's python3-django and python3-psycopg2) laid out the
 * django-tenants way: Django's own `migrate` for public (SHARED_APPS: customers, contenttypes,
 * auth) and once per tenant schema (TENANT_APPS: contenttypes, auth, admin, shop) with
 * search_path = that schema, so django_content_type, auth_permission, auth_user and auth_group
 * are in both places with different ids (acme got an extra content type first). Data through the
 * ORM: a GenericForeignKey, admin log entries, groups and permissions.
 * After `oasys-migrate run` the same models, without django-tenants, with the middleware that
 * `oasys-migrate guide` generates, connected as a non-owner application role, must read exactly
 * each tenant's data, resolve every generic foreign key to the object it pointed at, create rows
 * without naming the tenant, and see nothing without one. The guide for this project is
 * committed as docs/examples/django-guide.md and kept current here.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = path.join(ROOT, 'docs', 'examples', 'django-guide.md');
const tag = `${process.pid}_${randomBytes(3).toString('hex')}`;
const OWNER = `djowner_${tag}`;
const APP = `djapp_${tag}`;
const PASSWORD = randomBytes(9).toString('hex');
const TENANTS = { acme: 2, globex: 3 };
/**
 * auth is in SHARED_APPS too, so its tables are in public: users, groups and their links become
 * shared (merged by natural key, their references translated); content types and permissions
 * are merged without being named.
 */
const CONFIG = {
  tables: {
    merge: {
      auth_user: ['username'],
      auth_group: ['name'],
      auth_group_permissions: ['group_id', 'permission_id'],
      auth_user_groups: ['user_id', 'group_id'],
      auth_user_user_permissions: ['user_id', 'permission_id'],
    },
  },
};

/** Debian's interpreter (where apt puts python3-django), unless OASYS_PYTHON names another. */
function python(): string {
  const candidates = [process.env.OASYS_PYTHON, '/usr/bin/python3', 'python3'].filter((x): x is string => !!x);
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import django, psycopg2; print(django.get_version())'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  throw new Error(
    'the Django end-to-end test needs Django and psycopg2 for Python 3: apt-get install -y python3-django python3-psycopg2 (.ci/run does it), or set OASYS_PYTHON',
  );
}

let py: string;
let project: string;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let ownerUrl: string;

function roleUrl(url: string, role: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = PASSWORD;
  return u.toString();
}

/** Runs a Python script of the project with the Django environment; returns stdout, throws with stderr. */
function django(args: string[], env: Record<string, string>): string {
  const u = new URL(adminUrl());
  const r = spawnSync(py, args, {
    cwd: project,
    encoding: 'utf8',
    timeout: 120_000,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      OASYS_DJANGO_DB: db.name,
      OASYS_DJANGO_HOST: u.hostname,
      OASYS_DJANGO_PORT: u.port || '5432',
      OASYS_DJANGO_USER: OWNER,
      OASYS_DJANGO_PASSWORD: PASSWORD,
      PYTHONDONTWRITEBYTECODE: '1',
      ...env,
    },
  });
  if (r.status !== 0) throw new Error(`python3 ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

beforeAll(async () => {
  py = python();
  // A copy of the project: the generated middleware is written into it, never into the repository.
  project = path.join(mkdtempSync(path.join(os.tmpdir(), 'oasys-django-')), 'django');
  cpSync(path.join(ROOT, 'test', 'django'), project, { recursive: true });
  await query(adminUrl(), `CREATE ROLE ${ident(OWNER)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB PASSWORD '${PASSWORD}'`);
  await query(adminUrl(), `CREATE ROLE ${ident(APP)} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '${PASSWORD}'`);
  db = await createTestDatabase('django');
  await query(db.url, `ALTER DATABASE ${ident(db.name)} OWNER TO ${ident(OWNER)}`);
  await query(db.url, `ALTER SCHEMA public OWNER TO ${ident(OWNER)}`);
  ownerUrl = roleUrl(db.url, OWNER);
}, 60_000);

afterAll(async () => {
  await db?.drop();
  await query(adminUrl(), `DROP ROLE IF EXISTS ${ident(APP)}`).catch(() => undefined);
  await query(adminUrl(), `DROP ROLE IF EXISTS ${ident(OWNER)}`).catch(() => undefined);
});

describe('a Django project on the unified tables', () => {
  const before: Record<string, unknown> = {};
  let source: Awaited<ReturnType<typeof fingerprint>>;

  it("is laid out the django-tenants way by Django's own migrate, content-type ids differing", async () => {
    django(['manage.py', 'migrate', '--no-input', '-v', '0'], { OASYS_APPSET: 'shared', OASYS_DJANGO_SCHEMA: 'public' });
    await query(ownerUrl, `INSERT INTO public.customers_client (schema_name, name) VALUES ('public', 'Public'), ('acme', 'Acme'), ('globex', 'Globex')`);
    for (const [schema] of Object.entries(TENANTS)) {
      await query(ownerUrl, `CREATE SCHEMA ${ident(schema)}`);
      const env = { OASYS_APPSET: 'tenant', OASYS_DJANGO_SCHEMA: schema };
      if (schema === 'acme') {
        // acme had a model (since removed) whose content type came first: every later id differs.
        django(['manage.py', 'migrate', 'contenttypes', '--no-input', '-v', '0'], env);
        django(
          [
            'manage.py',
            'shell',
            '-c',
            "from django.contrib.contenttypes.models import ContentType; ContentType.objects.create(app_label='legacy', model='gadget')",
          ],
          env,
        );
      }
      django(['manage.py', 'migrate', '--no-input', '-v', '0'], env);
      django(['seed.py', schema, schema === 'acme' ? '5' : '4'], env);
      before[schema] = JSON.parse(django(['facts.py', 'before'], env));
    }
    // The same (app_label, model) has another id in each schema (compared on the types all three have).
    const ids = await query<{ k: string; p: number; a: number; g: number }>(
      db.url,
      `
      SELECT p.app_label || '.' || p.model AS k, p.id AS p, a.id AS a, g.id AS g FROM public.django_content_type p
        JOIN acme.django_content_type a USING (app_label, model) JOIN globex.django_content_type g USING (app_label, model) ORDER BY 1`,
    );
    expect(ids.length).toBeGreaterThanOrEqual(4);
    expect(
      ids.some((x) => x.a !== x.g),
      JSON.stringify(ids),
    ).toBe(true);
    expect(ids.some((x) => x.p !== x.a) && ids.some((x) => x.p !== x.g), JSON.stringify(ids)).toBe(true);
    expect((before.acme as { tags: unknown[] }).tags.length).toBe(6);
    source = await withClient(db.url, (c) => fingerprint(c, []));
  }, 240_000);

  it('plan exits 0 and shows the merges; run migrates and verifies', async () => {
    const cfg = writeJson(CONFIG);
    const plan = await runCli(['plan', '--json', '-c', cfg, '--source', ownerUrl], { timeoutMs: 120_000 });
    expect(plan.code, show(plan)).toBe(0);
    const merges = parseJson<{ problems: { code: string; table?: string; message: string }[] }>(plan)
      .problems.filter((p) => p.code === 'MERGE')
      .map((p) => p.table)
      .sort();
    expect(merges).toEqual([
      'auth_group',
      'auth_group_permissions',
      'auth_permission',
      'auth_user',
      'auth_user_groups',
      'auth_user_user_permissions',
      'django_content_type',
    ]);
    // Before any run the guide describes the plan.
    const early = await runCli(['guide', '--json', '-c', cfg, '--source', ownerUrl], { timeoutMs: 60_000 });
    expect(early.code, show(early)).toBe(0);
    const doc = parseJson<{
      ok: boolean;
      from: { kind: string };
      merges: unknown[];
      translatedColumns: { table: string; column: string }[];
      middleware: string;
      markdown: string;
    }>(early);
    expect(doc.from).toEqual({ kind: 'plan' });
    expect(doc.merges).toHaveLength(7);
    expect(doc.translatedColumns.map((t) => `${t.table}.${t.column}`).sort()).toEqual([
      'django_admin_log.content_type_id',
      'django_admin_log.object_id',
      'django_admin_log.user_id',
      'shop_tag.content_type_id',
      'shop_tag.object_id',
    ]);
    expect(doc.middleware).toContain('SELECT set_config(%s, %s, true)');
    expect(doc.markdown).toContain('from a dry run');
    const run = await runCli(['run', '--json', '-c', cfg, '--source', ownerUrl], { timeoutMs: 180_000 });
    expect(run.code, show(run)).toBe(0);
    expect(parseJson<{ ok: boolean }>(run).ok).toBe(true);
  }, 300_000);

  it('the guide is generated from the run; the committed example is current', async () => {
    const cfg = writeJson(CONFIG);
    const out = path.join(path.dirname(project), 'guide.md');
    const mw = path.join(project, 'rowtenant', 'middleware.py');
    const r = await runCli(['guide', '-c', cfg, '--source', ownerUrl, '--out', out, '--middleware', mw], { timeoutMs: 60_000 });
    expect(r.code, show(r)).toBe(0);
    const guide = readFileSync(out, 'utf8');
    expect(readFileSync(mw, 'utf8')).toContain('class RowTenantMiddleware');
    expect(guide).toContain('python manage.py migrate --fake admin');
    expect(guide).toContain('python manage.py migrate --fake shop 0001_initial');
    expect(guide).toContain('`shop_tag.content_type_id` → `django_content_type` (the content type of a GenericForeignKey');
    expect(guide).toContain('`shop_tag.object_id`: the object id of that GenericForeignKey');
    expect(guide).toContain('e.g. for `shop_item` (app `shop`, model `item`)');
    if (process.env.OASYS_UPDATE_EXAMPLES === '1' || !existsSync(EXAMPLE)) writeFileSync(EXAMPLE, guide);
    expect(guide, 'docs/examples/django-guide.md is stale: rerun this test with OASYS_UPDATE_EXAMPLES=1 and commit it').toBe(readFileSync(EXAMPLE, 'utf8'));
  }, 120_000);

  it('as a non-owner application role with the generated middleware: each tenant exactly, generic FKs resolved, inserts stamped, nothing without a tenant', async () => {
    await query(ownerUrl, `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${ident(APP)}`);
    await query(ownerUrl, `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${ident(APP)}`);
    const after = JSON.parse(
      django(['facts.py', 'after', JSON.stringify(TENANTS)], {
        OASYS_APPSET: 'unified',
        OASYS_DJANGO_SCHEMA: 'public',
        OASYS_DJANGO_USER: APP,
      }),
    ) as { tenants: Record<string, unknown>; none: Record<string, number>; created: Record<string, unknown>; middleware: Record<string, unknown> };
    for (const schema of Object.keys(TENANTS)) expect(after.tenants[schema], schema).toEqual(before[schema]);
    expect(after.none).toEqual({ items: 0, tags: 0, logs: 0, notes: 0 });
    expect(after.created.acme).toEqual({ tenant: '2', tag: 'Item:Item object (6)' });
    expect(after.created.globex).toEqual({ tenant: '3', tag: 'Item:Item object (7)' }); // one sequence per unified table, past every tenant's ids
    expect(String(after.created.none)).toMatch(/row-level security|null value/);
    const acmeItems = (before.acme as { items: string[] }).items;
    expect(after.middleware.acme).toEqual([...acmeItems, 'new in acme'].sort());
    expect(after.middleware['acme:added']).toBe(200);
    expect(after.middleware['(none)']).toEqual([]);
    const [n] = await query<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM public.shop_item WHERE tenant_id = 2 AND name = 'via request acme'`);
    expect(n.n).toBe(1);
  }, 120_000);

  it('revert restores the database exactly as Django left it (merged rows removed, sequences back)', async () => {
    const r = await runCli(['revert', '--yes', '--discard-writes', '--json', '--source', ownerUrl], { timeoutMs: 60_000 });
    expect(r.code, show(r)).toBe(0);
    await query(ownerUrl, `REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${ident(APP)}`);
    await query(ownerUrl, `REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ${ident(APP)}`);
    const now = await withClient(db.url, (c) => fingerprint(c, []));
    expect(fingerprintDiff(source, now)).toEqual([]);
  }, 120_000);
});
