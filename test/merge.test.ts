import { afterAll, describe, expect, it } from 'vitest';
import { planCommand } from '../src/commands/plan.js';
import { revertCommand } from '../src/commands/revert.js';
import { runCommand } from '../src/commands/run.js';
import { verifyCommand } from '../src/commands/verify.js';
import { cutoverCommand } from '../src/commands/cutover.js';
import { loadConfig, type ResolvedConfig } from '../src/config/load.js';
import { silentLogger } from '../src/log.js';
import { fingerprint, fingerprintDiff } from '../src/verify/fingerprint.js';
import { createTestDatabase, query, withClient } from './support/db.js';

/**
 * Merge by natural key (SPEC §4 "Django's lookup tables"): django_content_type and auth_permission
 * in public and in every tenant (contenttypes and auth in SHARED_APPS and TENANT_APPS), with ids
 * that differ between public and each tenant; a model whose content type exists only in the
 * tenants (and one only in one tenant: acme's extra model "note"); a GenericForeignKey
 * (tagged.content_type_id + object_id) and admin log entries. Checked in both data paths.
 */
const log = silentLogger();
const TENANTS = ['acme', 'globex'];
type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop();
});

const CT = `CREATE TABLE %s.django_content_type (id serial PRIMARY KEY, app_label varchar(100) NOT NULL, model varchar(100) NOT NULL, CONSTRAINT django_content_type_app_label_model_76bd3d3b_uniq UNIQUE (app_label, model))`;
const PERM = (s: string) => `CREATE TABLE ${s}.auth_permission (id serial PRIMARY KEY, name varchar(255) NOT NULL,
  content_type_id integer NOT NULL CONSTRAINT auth_permission_content_type_id_2f476e4b_fk REFERENCES ${s}.django_content_type (id) DEFERRABLE INITIALLY DEFERRED,
  codename varchar(100) NOT NULL, CONSTRAINT auth_permission_content_type_id_codename_01ab375a_uniq UNIQUE (content_type_id, codename))`;

/** Content types by (app_label, model) in the order their ids are given: the ids differ per schema. */
const PUBLIC_CTS = [
  ['admin', 'logentry'],
  ['auth', 'permission'],
  ['contenttypes', 'contenttype'],
  ['customers', 'client'],
  ['auth', 'user'],
];
const TENANT_CTS: Record<string, string[][]> = {
  // acme's content types start with its own models: every id differs from public's.
  acme: [
    ['shop', 'note'],
    ['shop', 'item'],
    ['admin', 'logentry'],
    ['contenttypes', 'contenttype'],
    ['auth', 'permission'],
  ],
  globex: [
    ['contenttypes', 'contenttype'],
    ['shop', 'item'],
    ['auth', 'permission'],
    ['admin', 'logentry'],
  ],
};

async function build(url: string): Promise<void> {
  const sql: string[] = [
    `CREATE TABLE public.customers_client (id serial PRIMARY KEY, schema_name varchar(63) NOT NULL UNIQUE, name text)`,
    `INSERT INTO public.customers_client (schema_name, name) VALUES ('public', 'public'), ('acme', 'Acme'), ('globex', 'Globex')`,
    `CREATE TABLE public.auth_user (id serial PRIMARY KEY, username varchar(150) NOT NULL UNIQUE)`,
    `INSERT INTO public.auth_user (username) VALUES ('admin'), ('alice')`,
    CT.replace('%s', 'public'),
    PERM('public'),
  ];
  for (const [a, m] of PUBLIC_CTS) sql.push(`INSERT INTO public.django_content_type (app_label, model) VALUES ('${a}', '${m}')`);
  sql.push(
    `INSERT INTO public.auth_permission (name, content_type_id, codename) SELECT 'Can add ' || model, id, 'add_' || model FROM public.django_content_type`,
  );
  for (const s of TENANTS) {
    sql.push(
      `CREATE SCHEMA ${s}`,
      CT.replace('%s', s),
      PERM(s),
      `CREATE TABLE ${s}.shop_item (id serial PRIMARY KEY, name text NOT NULL)`,
      `CREATE TABLE ${s}.shop_note (id serial PRIMARY KEY, body text NOT NULL)`,
      // A GenericForeignKey: Django's content_type = ForeignKey(ContentType) has a real foreign key.
      `CREATE TABLE ${s}.shop_tagged (id serial PRIMARY KEY, label text NOT NULL,
         content_type_id integer NOT NULL CONSTRAINT shop_tagged_content_type_id_fk REFERENCES ${s}.django_content_type (id) DEFERRABLE INITIALLY DEFERRED,
         object_id integer NOT NULL CHECK (object_id >= 0))`,
      `CREATE TABLE ${s}.django_admin_log (id serial PRIMARY KEY, action_time timestamptz NOT NULL, object_id text, object_repr varchar(200) NOT NULL,
         action_flag smallint NOT NULL CHECK (action_flag >= 0), change_message text NOT NULL,
         content_type_id integer CONSTRAINT django_admin_log_content_type_id_fk REFERENCES ${s}.django_content_type (id) DEFERRABLE INITIALLY DEFERRED,
         user_id integer NOT NULL CONSTRAINT django_admin_log_user_id_fk REFERENCES public.auth_user (id) DEFERRABLE INITIALLY DEFERRED)`,
    );
    for (const [a, m] of TENANT_CTS[s]) sql.push(`INSERT INTO ${s}.django_content_type (app_label, model) VALUES ('${a}', '${m}')`);
    sql.push(
      `INSERT INTO ${s}.auth_permission (name, content_type_id, codename) SELECT 'Can add ' || model, id, 'add_' || model FROM ${s}.django_content_type`,
      `INSERT INTO ${s}.auth_permission (name, content_type_id, codename) SELECT 'Can view ' || model, id, 'view_' || model FROM ${s}.django_content_type WHERE app_label = 'shop'`,
      `INSERT INTO ${s}.shop_item (name) SELECT '${s} item ' || g FROM generate_series(1, 4) g`,
      `INSERT INTO ${s}.shop_note (body) SELECT '${s} note ' || g FROM generate_series(1, 3) g`,
      `INSERT INTO ${s}.shop_tagged (label, content_type_id, object_id)
         SELECT 'item ' || i.id, ct.id, i.id FROM ${s}.shop_item i, ${s}.django_content_type ct WHERE ct.app_label = 'shop' AND ct.model = 'item'`,
      `INSERT INTO ${s}.shop_tagged (label, content_type_id, object_id)
         SELECT 'note ' || n.id, ct.id, n.id FROM ${s}.shop_note n, ${s}.django_content_type ct WHERE ct.app_label = 'shop' AND ct.model = 'note'`,
      // A generic reference to a row of a merged table (a permission): its object id must follow the merge.
      `INSERT INTO ${s}.shop_tagged (label, content_type_id, object_id)
         SELECT 'perm ' || p.codename, ct.id, p.id FROM ${s}.auth_permission p, ${s}.django_content_type ct
          WHERE ct.app_label = 'auth' AND ct.model = 'permission' AND p.codename IN ('add_item', 'view_item')`,
      `INSERT INTO ${s}.django_admin_log (action_time, object_id, object_repr, action_flag, change_message, content_type_id, user_id)
         SELECT now(), i.id::text, i.name, 1, '[]', ct.id, 1 FROM ${s}.shop_item i, ${s}.django_content_type ct WHERE ct.app_label = 'shop' AND ct.model = 'item'`,
      `INSERT INTO ${s}.django_admin_log (action_time, object_id, object_repr, action_flag, change_message, content_type_id, user_id)
         VALUES (now(), NULL, 'no content type', 3, '[]', NULL, 2)`,
    );
  }
  await withClient(url, async (c) => {
    for (const q of sql) await c.query(q);
  });
}

/** What every generic reference, admin log entry and permission means: (tenant, row, app_label, model[, codename]). */
async function meanings(url: string, where: 'source' | 'target'): Promise<string[]> {
  const out: string[] = [];
  if (where === 'source') {
    for (const s of TENANTS) {
      const id = (await query<{ id: number }>(url, `SELECT id FROM public.customers_client WHERE schema_name = $1`, [s]))[0].id;
      for (const r of await query<{ x: string }>(
        url,
        `
        SELECT format('tagged %s %s %s.%s', $1::text, t.id, ct.app_label, ct.model) AS x FROM ${s}.shop_tagged t JOIN ${s}.django_content_type ct ON ct.id = t.content_type_id
        UNION ALL SELECT format('log %s %s %s.%s', $1::text, l.id, ct.app_label, ct.model) FROM ${s}.django_admin_log l LEFT JOIN ${s}.django_content_type ct ON ct.id = l.content_type_id
        UNION ALL SELECT format('perm %s %s.%s.%s', $1::text, ct.app_label, ct.model, p.codename) FROM ${s}.auth_permission p JOIN ${s}.django_content_type ct ON ct.id = p.content_type_id
        UNION ALL SELECT format('gfk %s %s %s', $1::text, t.label, p.codename) FROM ${s}.shop_tagged t JOIN ${s}.django_content_type ct ON ct.id = t.content_type_id AND ct.model = 'permission'
          JOIN ${s}.auth_permission p ON p.id = t.object_id`,
        [String(id)],
      ))
        out.push(r.x);
    }
    // The public permissions stay as they are.
    for (const r of await query<{ x: string }>(
      url,
      `SELECT format('pub %s.%s.%s', ct.app_label, ct.model, p.codename) AS x FROM public.auth_permission p JOIN public.django_content_type ct ON ct.id = p.content_type_id`,
    ))
      out.push(r.x);
  } else {
    for (const r of await query<{ x: string }>(
      url,
      `
      SELECT format('tagged %s %s %s.%s', t.tenant_id, t.id, ct.app_label, ct.model) AS x FROM public.shop_tagged t JOIN public.django_content_type ct ON ct.id = t.content_type_id
      UNION ALL SELECT format('log %s %s %s.%s', l.tenant_id, l.id, ct.app_label, ct.model) FROM public.django_admin_log l LEFT JOIN public.django_content_type ct ON ct.id = l.content_type_id
      UNION ALL SELECT format('gfk %s %s %s', t.tenant_id, t.label, p.codename) FROM public.shop_tagged t JOIN public.django_content_type ct ON ct.id = t.content_type_id AND ct.model = 'permission'
        JOIN public.auth_permission p ON p.id = t.object_id`,
    ))
      out.push(r.x);
    // Each tenant's permissions, through the mapping, are public rows with the same meaning.
    for (const s of TENANTS) {
      const id = (await query<{ id: number }>(url, `SELECT id FROM public.customers_client WHERE schema_name = $1`, [s]))[0].id;
      for (const r of await query<{ x: string }>(
        url,
        `
        SELECT format('perm %s %s.%s.%s', $1::text, ct.app_label, ct.model, p.codename) AS x FROM oasys_migrate.merge_auth_permission m
          JOIN public.auth_permission p ON p.id = m.new_id::int JOIN public.django_content_type ct ON ct.id = p.content_type_id WHERE m.tenant = $1`,
        [String(id)],
      ))
        out.push(r.x);
    }
  }
  return out.sort();
}

function cfgFor(source: string, target?: string): ResolvedConfig {
  return loadConfig(target ? { source, target } : { source }, {}, '/');
}

describe('merge by natural key, in place (INSERT … SELECT joins the mapping)', () => {
  it('plan shows the merge with counts; run translates every reference; verify catches a wrong translation; revert is exact', async () => {
    const db = await createTestDatabase('mrg');
    dbs.push(db);
    await build(db.url);
    const truth = await meanings(db.url, 'source');
    const before = await withClient(db.url, (c) => fingerprint(c, TENANTS));
    const cfg = cfgFor(db.url);

    const plan = await planCommand(cfg, log);
    expect(plan.plan.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(plan.plan.problems.filter((p) => p.code === 'TARGET_CONFLICT')).toEqual([]);
    expect(plan.plan.merges?.map((m) => m.table)).toEqual(['django_content_type', 'auth_permission']);
    // public: 5 types; tenants: 5 + 4 rows; (shop, item) and (shop, note) are new: 2 rows added.
    expect(plan.plan.merges?.[0].counts).toEqual({ sharedRows: 5, tenantRows: 9, matched: 6, added: 2 });
    // acme: 5 add_ + 2 view_ (shop) = 7; globex: 4 + 1 = 5; matched: add_ of logentry, contenttype, permission in each (6);
    // added: add_/view_ of shop.item and shop.note, once each (globex's shop.item ones are acme's too).
    expect(plan.plan.merges?.[1].counts).toEqual({ sharedRows: 5, tenantRows: 12, matched: 6, added: 4 });
    const line = plan.plan.problems.find((p) => p.code === 'MERGE' && p.table === 'django_content_type')!.message;
    expect(line).toContain('by (app_label, model)');
    expect(line).toContain('6 match, 3 do not and add 2 new rows');
    expect(plan.plan.tables.map((t) => t.target).sort()).toEqual(['django_admin_log', 'shop_item', 'shop_note', 'shop_tagged']);
    // The content type, and its GenericForeignKey's object id (translated when it names a merged model: auth.permission here).
    expect(plan.plan.tables.find((t) => t.target === 'shop_tagged')?.translations).toEqual([
      { column: 'content_type_id', merged: 'django_content_type' },
      { column: 'object_id', merged: 'django_content_type', genericOf: 'content_type_id' },
    ]);

    const run = await runCommand(cfg, log);
    expect(run.verify.ok).toBe(true);
    expect(run.verify.results.filter((r) => r.table.startsWith('django_content_type (merged')).map((r) => [r.tenant, r.sourceRows, r.targetRows])).toEqual([
      ['acme', 5, 5],
      ['globex', 4, 4],
    ]);
    // Two content types added once each, whatever the number of tenants that have them.
    const cts = await query<{ a: string; m: string }>(db.url, `SELECT app_label AS a, model AS m FROM public.django_content_type WHERE id > 5 ORDER BY id`);
    expect(cts).toEqual([
      { a: 'shop', m: 'item' },
      { a: 'shop', m: 'note' },
    ]);
    expect(await meanings(db.url, 'target')).toEqual(truth.filter((x) => !x.startsWith('pub ')));
    // public's own rows are untouched (ids 1–5 keep their meaning).
    const pub = await query<{ x: string }>(
      db.url,
      `SELECT format('pub %s.%s.%s', ct.app_label, ct.model, p.codename) AS x FROM public.auth_permission p JOIN public.django_content_type ct ON ct.id = p.content_type_id WHERE p.id <= 5 ORDER BY 1`,
    );
    expect(pub.map((r) => r.x)).toEqual(truth.filter((x) => x.startsWith('pub ')));
    // The generic foreign key resolves to the very object it pointed at: (content type, object_id) → a row of that tenant.
    const [gfk] = await query<{ n: number; bad: number }>(
      db.url,
      `
      SELECT count(*)::int AS n, count(*) FILTER (WHERE i.id IS NULL AND o.id IS NULL)::int AS bad
        FROM public.shop_tagged t JOIN public.django_content_type ct ON ct.id = t.content_type_id
        LEFT JOIN public.shop_item i ON ct.model = 'item' AND i.tenant_id = t.tenant_id AND i.id = t.object_id AND t.label = 'item ' || i.id
        LEFT JOIN public.shop_note o ON ct.model = 'note' AND o.tenant_id = t.tenant_id AND o.id = t.object_id AND t.label = 'note ' || o.id`,
    );
    expect(gfk).toEqual({ n: 15, bad: 4 }); // acme: 4 items + 3 notes; globex: 4 items (it has no "note" content type); 2 × 2 permissions (checked by meanings())
    // The translated columns keep a foreign key, to the shared table.
    const fks = await query<{ d: string }>(
      db.url,
      `SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE conrelid = 'public.shop_tagged'::regclass AND contype = 'f'`,
    );
    expect(fks.map((f) => f.d)).toEqual([expect.stringContaining('REFERENCES django_content_type(id)')]);

    // A wrong translation (acme's tagged item now says "note") is found, for that tenant and table only.
    await query(
      db.url,
      `UPDATE public.shop_tagged SET content_type_id = (SELECT id FROM public.django_content_type WHERE model = 'note') WHERE tenant_id = 2 AND label = 'item 1'`,
    );
    const bad = await verifyCommand(cfg, log);
    expect(bad.ok).toBe(false);
    expect(bad.results.filter((r) => !r.ok).map((r) => `${r.tenant}/${r.table}`)).toEqual(['acme/shop_tagged']);
    await query(
      db.url,
      `UPDATE public.shop_tagged SET content_type_id = (SELECT id FROM public.django_content_type WHERE model = 'item') WHERE tenant_id = 2 AND label = 'item 1'`,
    );
    // A generic object id pointing at the wrong permission is found too.
    await query(db.url, `UPDATE public.shop_tagged SET object_id = object_id + 1 WHERE tenant_id = 3 AND label = 'perm add_item'`);
    expect((await verifyCommand(cfg, log)).results.filter((r) => !r.ok).map((r) => `${r.tenant}/${r.table}`)).toEqual(['globex/shop_tagged']);
    await query(db.url, `UPDATE public.shop_tagged SET object_id = object_id - 1 WHERE tenant_id = 3 AND label = 'perm add_item'`);
    // A wrong match in the mapping itself is found too.
    await query(
      db.url,
      `UPDATE oasys_migrate.merge_django_content_type SET new_id = '1' WHERE tenant = '3' AND new_id = (SELECT id::text FROM public.django_content_type WHERE app_label = 'contenttypes')`,
    );
    const bad2 = await verifyCommand(cfg, log);
    expect(bad2.results.filter((r) => !r.ok).map((r) => `${r.tenant}/${r.table}`)).toEqual([
      'globex/django_content_type (merged into public.django_content_type)',
    ]);
    await query(
      db.url,
      `UPDATE oasys_migrate.merge_django_content_type SET new_id = (SELECT id::text FROM public.django_content_type WHERE app_label = 'contenttypes') WHERE tenant = '3' AND new_id = '1' AND old_id = '1'`,
    );
    expect((await verifyCommand(cfg, log)).ok).toBe(true);

    const r = await revertCommand({ ...cfg, discardWrites: true }, log, async () => true);
    expect(r.reverted).toBe(true);
    expect(r.actions).toEqual(
      expect.arrayContaining(['deleted 4 rows the run added to "public"."auth_permission"', 'deleted 2 rows the run added to "public"."django_content_type"']),
    );
    const after = await withClient(db.url, (c) => fingerprint(c, TENANTS));
    expect(fingerprintDiff(before, after)).toEqual([]);
    const [left] = await query<{ n: number }>(
      db.url,
      `SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'merge\\_%' AND relnamespace = 'oasys_migrate'::regnamespace`,
    );
    expect(left.n).toBe(0);
  });
});

describe('merge by natural key, separate target (COPY into a staging table, INSERT … SELECT through the mapping)', () => {
  it('the shared tables are copied, merged and translated the same way; verify ok; revert leaves the target as it was', async () => {
    const src = await createTestDatabase('mrgs');
    const tgt = await createTestDatabase('mrgt');
    dbs.push(src, tgt);
    await build(src.url);
    const truth = await meanings(src.url, 'source');
    const before = await withClient(tgt.url, (c) => fingerprint(c, []));
    const srcBefore = await withClient(src.url, (c) => fingerprint(c, []));
    const cfg = cfgFor(src.url, tgt.url);
    const plan = await planCommand(cfg, log);
    expect(plan.plan.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(plan.plan.merges?.[0].counts).toEqual({ sharedRows: 5, tenantRows: 9, matched: 6, added: 2 });
    const run = await runCommand(cfg, log);
    expect(run.verify.ok).toBe(true);
    // The shared copies verify against the source, less the rows the tenants added.
    expect(run.verify.results.find((r) => r.table === 'public.django_content_type')).toMatchObject({ sourceRows: 5, targetRows: 5, ok: true });
    const [n] = await query<{ n: number }>(tgt.url, `SELECT count(*)::int AS n FROM public.django_content_type`);
    expect(n.n).toBe(7);
    expect(await meanings(tgt.url, 'target')).toEqual(truth.filter((x) => !x.startsWith('pub ')));
    // The source was never written.
    expect(fingerprintDiff(srcBefore, await withClient(src.url, (c) => fingerprint(c, [])))).toEqual([]);
    // run --recopy through the staging path replaces acme's rows with the same translated ones.
    const again = await runCommand({ ...cfg, recopy: ['acme'] }, log);
    expect(again.verify.ok).toBe(true);
    expect(await meanings(tgt.url, 'target')).toEqual(truth.filter((x) => !x.startsWith('pub ')));
    expect((await revertCommand({ ...cfg, discardWrites: true }, log, async () => true)).reverted).toBe(true);
    expect(fingerprintDiff(before, await withClient(tgt.url, (c) => fingerprint(c, [])))).toEqual([]);
  });
});

describe('revert after the application added shared rows', () => {
  it("deletes only the rows the run added; the application's row stays and its id is never handed out again", async () => {
    const db = await createTestDatabase('mrgr');
    dbs.push(db);
    await build(db.url);
    const cfg = cfgFor(db.url);
    expect((await runCommand(cfg, log)).verify.ok).toBe(true);
    // After cut-over Django's migrate creates the content type of a new model in public.
    const [mine] = await query<{ id: number }>(db.url, `INSERT INTO public.django_content_type (app_label, model) VALUES ('later', 'model') RETURNING id`);
    const r = await revertCommand({ ...cfg, discardWrites: true }, log, async () => true);
    expect(r.reverted).toBe(true);
    const rows = await query<{ id: number; k: string }>(db.url, `SELECT id, app_label || '.' || model AS k FROM public.django_content_type ORDER BY id`);
    expect(rows.map((x) => x.k)).toEqual([...PUBLIC_CTS.map(([a, m]) => `${a}.${m}`), 'later.model']);
    expect(rows[rows.length - 1].id).toBe(mine.id);
    const [next] = await query<{ id: number }>(db.url, `SELECT nextval(pg_get_serial_sequence('public.django_content_type', 'id'))::int AS id`);
    expect(next.id).toBeGreaterThan(mine.id);
  });
});

describe('merge by natural key, online (run --online, changes applied through the mapping, cutover)', () => {
  it('rows inserted, updated and deleted during the follow refer to the same content types and permissions on both sides; a migration stops it', async () => {
    const db = await createTestDatabase('mrgo');
    dbs.push(db);
    await build(db.url);
    const cfg: ResolvedConfig = { ...cfgFor(db.url), online: true };
    const plan = await planCommand(cfg, log);
    expect(plan.plan.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(plan.plan.problems.find((p) => p.code === 'ONLINE_MERGED')?.message).toContain('django_content_type, auth_permission');

    const run = await runCommand(cfg, log);
    expect(run.plan.merges?.length).toBe(2);
    // The application writes while the run follows: references by content type, generic references to a permission.
    const ct = (s: string, a: string, m: string) => `(SELECT id FROM ${s}.django_content_type WHERE app_label = '${a}' AND model = '${m}')`;
    await withClient(db.url, async (c) => {
      for (const s of TENANTS) {
        await c.query(`INSERT INTO ${s}.shop_tagged (label, content_type_id, object_id) VALUES ('late item', ${ct(s, 'shop', 'item')}, 2)`);
        await c.query(
          `INSERT INTO ${s}.shop_tagged (label, content_type_id, object_id)
             SELECT 'late perm ' || p.codename, p.content_type_id * 0 + ${ct(s, 'auth', 'permission')}, p.id FROM ${s}.auth_permission p WHERE p.codename = 'view_item'`,
        );
        await c.query(
          `INSERT INTO ${s}.django_admin_log (action_time, object_id, object_repr, action_flag, change_message, content_type_id, user_id)
             VALUES (now(), '3', 'late', 2, '[]', ${ct(s, 'shop', 'item')}, 1)`,
        );
        // A row moved to another content type (object id unchanged), one to a permission (both columns), one deleted.
        await c.query(`UPDATE ${s}.shop_tagged SET content_type_id = ${ct(s, 'admin', 'logentry')} WHERE label = 'item 1'`);
        await c.query(
          `UPDATE ${s}.shop_tagged SET content_type_id = ${ct(s, 'auth', 'permission')}, object_id = (SELECT id FROM ${s}.auth_permission WHERE codename = 'add_item') WHERE label = 'item 2'`,
        );
        await c.query(`DELETE FROM ${s}.shop_tagged WHERE label = 'item 3'`);
      }
    });
    const truth = await meanings(db.url, 'source');
    const cut = await cutoverCommand(cfg, log, { confirmWritesStopped: async () => true, writesStopped: true });
    expect(cut.verify.ok).toBe(true);
    expect(cut.tenantsVerified.sort()).toEqual([...TENANTS].sort());
    expect(await meanings(db.url, 'target')).toEqual(truth.filter((x) => !x.startsWith('pub ')));
    expect((await verifyCommand(cfg, log)).ok).toBe(true);
    expect(await query(db.url, `SELECT slot_name FROM pg_replication_slots WHERE database = current_database()`)).toEqual([]);

    // A migration during the follow (a new content type in a tenant) has no mapping: it stops the run.
    expect((await revertCommand({ ...cfg, discardWrites: true }, log, async () => true)).reverted).toBe(true);
    await runCommand(cfg, log);
    await query(db.url, `INSERT INTO acme.django_content_type (app_label, model) VALUES ('shop', 'coupon')`);
    await expect(cutoverCommand(cfg, log, { confirmWritesStopped: async () => true, writesStopped: true })).rejects.toThrow(
      /tenant "acme" table django_content_type, merged by natural key/,
    );
    expect(await query(db.url, `SELECT slot_name FROM pg_replication_slots WHERE database = current_database()`)).toEqual([]);
  });
});
