import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, query } from './support/db.js';
import { AWKWARD_TEXTS, generateFixture, tenantSchemaName, type FixtureInfo, type FixtureOptions } from '../fixtures/generate.js';
import { generateManyTenants, generateWideTenants } from '../fixtures/bulk.js';
import { ident } from '../src/db/ident.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];

async function build(opts?: FixtureOptions): Promise<{ url: string; info: FixtureInfo; ms: number }> {
  const db = await createTestDatabase('fixture');
  dbs.push(db);
  const t0 = performance.now();
  const info = await generateFixture(db.url, opts);
  return { url: db.url, info, ms: performance.now() - t0 };
}

afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop().catch(() => undefined)));
});

/** Schemas that are not system schemas nor public. */
async function userSchemas(url: string): Promise<string[]> {
  const rows = await query<{ nspname: string }>(
    url,
    `SELECT nspname FROM pg_namespace WHERE nspname <> 'public' AND nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY nspname COLLATE "C"`,
  );
  return rows.map((r) => r.nspname);
}

async function count(url: string, schema: string, table: string): Promise<number> {
  const [r] = await query<{ n: string }>(url, `SELECT count(*) AS n FROM ${ident(schema, table)}`);
  return Number(r.n);
}

async function digest(url: string, schema: string, table: string): Promise<string> {
  const [r] = await query<{ d: string }>(url, `SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS d FROM ${ident(schema, table)} t`);
  return r.d;
}

/** The digests of many tables in one round trip: { 'schema.table': md5 }. */
async function digests(url: string, tables: [string, string][]): Promise<Record<string, string>> {
  const sql = tables
    .map(
      ([schema, table], i) =>
        `SELECT $${i + 1}::text AS k, (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM ${ident(schema, table)} t) AS d`,
    )
    .join('\nUNION ALL\n');
  const rows = await query<{ k: string; d: string }>(
    url,
    sql,
    tables.map(([s, t]) => `${s}.${t}`),
  );
  return Object.fromEntries(rows.map((r) => [r.k, r.d]));
}

async function columnsOf(url: string, schema: string, table: string): Promise<Record<string, string>> {
  const rows = await query<{ attname: string; type: string }>(
    url,
    `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [schema, table],
  );
  return Object.fromEntries(rows.map((r) => [r.attname, r.type]));
}

async function relkind(url: string, schema: string, name: string): Promise<string | null> {
  const rows = await query<{ relkind: string }>(
    url,
    `SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, name],
  );
  return rows[0]?.relkind ?? null;
}

const BASE_TABLES = ['accounts_account', 'accounts_transaction', 'accounts_membership', 'audit_log', 'LedgerEntry'];

describe('generateFixture — default', () => {
  let url: string;
  let info: FixtureInfo;
  let ms: number;
  beforeAll(async () => {
    ({ url, info, ms } = await build());
  });

  it('builds fast', () => {
    console.log(`default fixture (3 tenants × 20 rows): ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(2000);
  });

  it('has exactly the three tenant schemas, with registry ids not in schema-name order', async () => {
    expect(info.tenants.map((t) => t.schema)).toEqual(['acme', 'globex', 'weird "name"; with.dot']);
    expect(await userSchemas(url)).toEqual(['acme', 'globex', 'weird "name"; with.dot']);
    expect(info.tenantTables).toEqual(BASE_TABLES);
    expect(info.driftTenant).toBeUndefined();

    const reg = await query<{ id: string; schema_name: string }>(url, `SELECT id, schema_name FROM public.customers_client ORDER BY id`);
    expect(reg[0]).toEqual({ id: '1', schema_name: 'public' });
    expect(
      reg
        .slice(1)
        .map((r) => ({ schema: r.schema_name, id: Number(r.id) }))
        .sort((a, b) => a.id - b.id),
    ).toEqual([...info.tenants].sort((a, b) => a.id - b.id));
    for (const collation of ['C', 'default']) {
      const ids = await query<{ id: string }>(
        url,
        `SELECT id FROM public.customers_client WHERE schema_name <> 'public' ORDER BY schema_name COLLATE ${ident(collation === 'C' ? 'C' : 'default')}`,
      );
      const asNumbers = ids.map((r) => Number(r.id));
      expect(asNumbers).not.toEqual([...asNumbers].sort((a, b) => a - b));
    }
    // the registry sequence is past the highest id
    const [seq] = await query<{ last_value: string }>(url, `SELECT last_value FROM public.customers_client_id_seq`);
    expect(Number(seq.last_value)).toBe(4);
  });

  it('has the shared apps in public', async () => {
    expect(await count(url, 'public', 'auth_user')).toBe(10);
    expect(await count(url, 'public', 'customers_domain')).toBe(4);
    expect(await count(url, 'public', 'django_migrations')).toBeGreaterThan(0);
    const fn = await query(
      url,
      `SELECT p.oid::regprocedure::text AS sig FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace AND p.proname = 'clone_schema'`,
    );
    expect(fn).toEqual([{ sig: 'clone_schema(text,text,boolean)' }]);
    const fk = await query(
      url,
      `SELECT condeferrable, condeferred, confrelid::regclass::text AS target FROM pg_constraint WHERE conrelid = 'public.customers_domain'::regclass AND contype = 'f'`,
    );
    expect(fk).toEqual([{ condeferrable: true, condeferred: true, target: 'customers_client' }]);
  });

  it('fills every tenant table in every schema', async () => {
    for (const { schema } of info.tenants) {
      for (const table of BASE_TABLES) expect(await count(url, schema, table), `${schema}.${table}`).toBe(20);
      expect(await count(url, schema, 'django_migrations')).toBe(4);
    }
  });

  it('defines identical structure in every schema: per-schema enum, keys, Django-named indexes, deferred FKs', async () => {
    const shape = async (schema: string) => {
      const cols: Record<string, Record<string, string>> = {};
      for (const t of [...BASE_TABLES, 'django_migrations']) cols[t] = await columnsOf(url, schema, t);
      const indexes = await query(
        url,
        `SELECT indexrelid::regclass IS NOT NULL AS ok, c.relname AS index, t.relname AS table
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
          WHERE t.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) ORDER BY 2`,
        [schema],
      );
      const fks = await query(
        url,
        `SELECT conname, condeferrable, condeferred, cr.relname AS from_table, tn.nspname = 'public' AS to_public, tr.relname AS to_table
           FROM pg_constraint k JOIN pg_class cr ON cr.oid = k.conrelid JOIN pg_class tr ON tr.oid = k.confrelid JOIN pg_namespace tn ON tn.oid = tr.relnamespace
          WHERE k.contype = 'f' AND cr.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) ORDER BY conname`,
        [schema],
      );
      const labels = await query(
        url,
        `SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typname = 'mood' AND t.typnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) ORDER BY e.enumsortorder`,
        [schema],
      );
      return { cols, indexes, fks, labels };
    };
    const acme = await shape('acme');
    expect(acme.labels.map((l) => l.enumlabel)).toEqual(['happy', 'sad', 'meh']);
    expect(acme.cols.accounts_account.mood).toBe('acme.mood');
    expect(acme.cols.accounts_account.balance).toBe('numeric(14,2)');
    expect(acme.cols.LedgerEntry).toEqual({ id: 'integer', Amount: 'numeric', Note: 'text', order: 'integer' });
    expect(acme.fks.every((f) => f.condeferrable && f.condeferred)).toBe(true);
    expect(
      acme.fks
        .filter((f) => f.to_public)
        .map((f) => `${f.from_table}->${f.to_table}`)
        .sort(),
    ).toEqual(['accounts_account->auth_user', 'accounts_membership->auth_user']);
    expect(acme.fks.some((f) => f.from_table === 'accounts_transaction' && f.to_table === 'accounts_transaction')).toBe(true);
    const indexNames = acme.indexes.map((i) => i.index as string);
    expect(indexNames).toContain('accounts_account_pkey');
    expect(indexNames).toContain('accounts_membership_pkey');
    expect(indexNames.some((n) => /^accounts_transaction_account_id_[0-9a-f]{8}$/.test(n))).toBe(true);
    expect(indexNames.some((n) => /^accounts_tr_created_[0-9a-f]{6}_idx$/.test(n))).toBe(true);
    expect(indexNames.some((n) => /^accounts_ac_meta_[0-9a-f]{6}_gin$/.test(n))).toBe(true);
    expect(acme.indexes.some((i) => i.table === 'audit_log')).toBe(false); // no key at all
    for (const schema of ['globex', 'weird "name"; with.dot']) {
      const other = await shape(schema);
      expect(other.indexes).toEqual(acme.indexes);
      expect(other.fks).toEqual(acme.fks);
      expect(other.labels).toEqual(acme.labels);
      const [moodNs] = await query(
        url,
        `SELECT tn.nspname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = t.typnamespace
          WHERE a.attrelid = $1::regclass AND a.attname = 'mood'`,
        [ident(schema, 'accounts_account')],
      );
      expect(moodNs.nspname).toBe(schema); // the enum is the schema's own
      expect({ ...other.cols, accounts_account: { ...other.cols.accounts_account, mood: 'x' } }).toEqual({
        ...acme.cols,
        accounts_account: { ...acme.cols.accounts_account, mood: 'x' },
      });
    }
    const identity = await query(url, `SELECT attidentity FROM pg_attribute WHERE attrelid = 'acme.accounts_transaction'::regclass AND attname = 'id'`);
    expect(identity).toEqual([{ attidentity: 'a' }]);
  });

  it('keeps microseconds and covers the awkward values', async () => {
    const [ts] = await query<{ t: string; us: string }>(
      url,
      `SELECT to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS t, extract(microseconds FROM opened_at)::text AS us
         FROM acme.accounts_account WHERE number = 'ACC-000001'`,
    );
    expect(ts).toEqual({ t: '2024-03-01 12:34:56.123456', us: '56123456' });
    const [tx] = await query<{ t: string }>(
      url,
      `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS t FROM acme.accounts_transaction WHERE id = 1`,
    );
    expect(tx.t).toBe('2024-07-01 06:59:59.999999');
    const [micro] = await query<{ n: string }>(
      url,
      `SELECT count(*) AS n FROM acme.accounts_transaction WHERE extract(microseconds FROM created_at)::bigint % 1000 <> 0`,
    );
    expect(Number(micro.n)).toBeGreaterThan(10);

    for (const { schema } of info.tenants) {
      const a = ident(schema, 'accounts_account');
      const [c] = await query(
        url,
        `SELECT count(*) FILTER (WHERE name IS NULL)::int AS null_names,
                count(*) FILTER (WHERE balance IS NULL)::int AS null_balances,
                count(*) FILTER (WHERE owner_id IS NULL)::int AS null_owners,
                count(*) FILTER (WHERE photo IS NULL)::int AS null_photos,
                count(*) FILTER (WHERE position('\\x00'::bytea IN photo) > 0)::int AS zero_bytes,
                count(*) FILTER (WHERE photo = ''::bytea)::int AS empty_photos,
                count(*) FILTER (WHERE cardinality(tags) = 0)::int AS empty_arrays,
                count(*) FILTER (WHERE array_position(tags, NULL) IS NOT NULL)::int AS null_elements,
                count(*) FILTER (WHERE tags IS NULL)::int AS null_arrays,
                count(DISTINCT mood)::int AS moods,
                count(*) FILTER (WHERE mood IS NULL)::int AS null_moods,
                count(*) FILTER (WHERE jsonb_typeof(meta) = 'object' AND meta ? 'nested')::int AS nested_json,
                count(*) FILTER (WHERE jsonb_typeof(meta) = 'array')::int AS json_arrays,
                count(*) FILTER (WHERE meta IS NULL)::int AS null_meta,
                count(*) FILTER (WHERE NOT active)::int AS inactive,
                max(balance) AS max_balance,
                bool_and(owner_id BETWEEN 1 AND 10 OR owner_id IS NULL) AS owners_ok
           FROM ${a}`,
      );
      for (const [k, v] of Object.entries(c)) {
        if (k === 'moods') expect(v, `${schema} ${k}`).toBe(3);
        else if (k === 'max_balance') expect(v).toBe('999999999999.99');
        else if (k === 'owners_ok') expect(v).toBe(true);
        else expect(v, `${schema} ${k}`).toBeGreaterThan(0);
      }
      const names = (await query<{ name: string }>(url, `SELECT name FROM ${a} WHERE name IS NOT NULL`)).map((r) => r.name);
      for (const text of AWKWARD_TEXTS) expect(names, JSON.stringify(text)).toContain(text);

      const [t] = await query(
        url,
        `SELECT count(*) FILTER (WHERE parent_id IS NOT NULL)::int AS with_parent,
                bool_and(parent_id IS NULL OR parent_id < id) AS parents_earlier,
                (SELECT last_value FROM pg_sequences WHERE schemaname = $1 AND sequencename = 'accounts_transaction_id_seq')::int AS seq,
                max(id)::int AS max_id
           FROM ${ident(schema, 'accounts_transaction')}`,
        [schema],
      );
      expect(t).toEqual({ with_parent: expect.any(Number), parents_earlier: true, seq: 22, max_id: 20 });
      expect(t.with_parent).toBeGreaterThan(0);

      const [d] = await query(url, `SELECT count(*)::int AS all, count(DISTINCT l)::int AS distinct FROM ${ident(schema, 'audit_log')} l`);
      expect(d.distinct).toBeLessThan(d.all);

      const [ledger] = await query(url, `SELECT max(length("Amount"::text))::int AS longest FROM ${ident(schema, 'LedgerEntry')}`);
      expect(ledger.longest).toBeGreaterThan(40);

      // every serial/identity sequence stands at or past the highest id
      const seqs = await query<{ sequencename: string; last_value: string | null }>(
        url,
        `SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = $1 ORDER BY 1`,
        [schema],
      );
      expect(seqs.map((s) => s.sequencename)).toEqual([
        'LedgerEntry_id_seq',
        'accounts_account_id_seq',
        'accounts_transaction_id_seq',
        'django_migrations_id_seq',
      ]);
      expect(seqs.map((s) => Number(s.last_value))).toEqual([20, 20, 22, 4]);
    }
  });

  it('is deterministic: the same seed gives identical data, another seed different data', async () => {
    const [same, other] = await Promise.all([build({ seed: 1 }), build({ seed: 2 })]);
    const tables: [string, string][] = [
      ['public', 'customers_client'],
      ['public', 'customers_domain'],
      ['public', 'auth_user'],
      ['public', 'django_migrations'],
    ];
    for (const { schema } of info.tenants) for (const t of [...BASE_TABLES, 'django_migrations']) tables.push([schema, t]);
    const [a, b, c] = await Promise.all([url, same.url, other.url].map((u) => digests(u, tables)));
    expect(Object.keys(a)).toHaveLength(tables.length);
    expect(b).toEqual(a);
    const differing = Object.keys(a).filter((k) => c[k] !== a[k]);
    expect(differing.length).toBeGreaterThan(info.tenants.length * 4);
    expect(same.info).toEqual(info);
  });
});

describe.concurrent('generateFixture — drift', () => {
  it('missing-column: globex.accounts_account has no name column', async () => {
    const { url, info } = await build({ tenants: 2, rowsPerTable: 5, drift: 'missing-column' });
    expect(info.driftTenant).toBe('globex');
    const cols = await query<{ table_schema: string; n: string }>(
      url,
      `SELECT table_schema, count(*) AS n FROM information_schema.columns WHERE table_name = 'accounts_account' AND column_name = 'name' GROUP BY 1 ORDER BY 1`,
    );
    expect(cols).toEqual([{ table_schema: 'acme', n: '1' }]);
    expect(await count(url, 'globex', 'accounts_account')).toBe(5);
  });

  it('changed-type: globex.accounts_account.balance is text', async () => {
    const { url, info } = await build({ tenants: 2, rowsPerTable: 5, drift: 'changed-type' });
    expect(info.driftTenant).toBe('globex');
    expect((await columnsOf(url, 'globex', 'accounts_account')).balance).toBe('text');
    expect((await columnsOf(url, 'acme', 'accounts_account')).balance).toBe('numeric(14,2)');
    expect(await count(url, 'globex', 'accounts_account')).toBe(5);
  });

  it('missing-table: globex has no "LedgerEntry"', async () => {
    const { url, info } = await build({ tenants: 3, rowsPerTable: 5, drift: 'missing-table' });
    expect(info.driftTenant).toBe('globex');
    expect(info.tenantTables).toContain('LedgerEntry');
    expect(await relkind(url, 'globex', 'LedgerEntry')).toBeNull();
    expect(await relkind(url, 'acme', 'LedgerEntry')).toBe('r');
    expect(await relkind(url, 'weird "name"; with.dot', 'LedgerEntry')).toBe('r');
  });

  it('refuses drift without a second tenant', async () => {
    const db = await createTestDatabase('fixture');
    dbs.push(db);
    await expect(generateFixture(db.url, { tenants: 1, drift: 'missing-table' })).rejects.toThrow(/tenants/);
  });
});

describe('generateFixture — every switch at once, 6 tenants', () => {
  let url: string;
  let info: FixtureInfo;
  const rows = 6;
  beforeAll(async () => {
    ({ url, info } = await build({
      tenants: 6,
      rowsPerTable: rows,
      preexistingUnified: true,
      sharedNameClash: true,
      orphans: true,
      partitioned: true,
      extras: true,
    }));
  });

  it('names the tenants, C2 and c2 included, and reports orphans', async () => {
    const names = ['acme', 'globex', 'weird "name"; with.dot', 'C2', 'c2', 'tenant_0005'];
    expect(info.tenants.map((t) => t.schema)).toEqual(names);
    expect(names.map((_, i) => tenantSchemaName(i))).toEqual(names);
    expect(new Set(info.tenants.map((t) => t.id)).size).toBe(6);
    expect(await userSchemas(url)).toEqual(['C2', 'acme', 'c2', 'globex', 'orphan_schema', 'tenant_0005', 'weird "name"; with.dot']);
    expect(info.tenantTables).toEqual([...BASE_TABLES, 'django_content_type', 'events']);
    expect(info.orphanSchema).toBe('orphan_schema');
    expect(info.ghostTenant).toEqual({ schema: 'ghost', id: 8 });
    const reg = await query<{ schema_name: string; has_schema: boolean }>(
      url,
      `SELECT schema_name, EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = schema_name) AS has_schema FROM public.customers_client ORDER BY schema_name COLLATE "C"`,
    );
    expect(reg.filter((r) => !r.has_schema).map((r) => r.schema_name)).toEqual(['ghost']);
    expect(reg.map((r) => r.schema_name)).not.toContain('orphan_schema');
    for (const s of ['C2', 'c2', 'orphan_schema']) expect(await count(url, s, 'accounts_account')).toBe(rows);
    expect(await digest(url, 'C2', 'accounts_account')).not.toBe(await digest(url, 'c2', 'accounts_account'));
  });

  it('preexistingUnified: public.accounts_membership with tenant_id and 3 rows of tenant 999', async () => {
    expect(await columnsOf(url, 'public', 'accounts_membership')).toEqual({ tenant_id: 'bigint', account_id: 'integer', user_id: 'integer', role: 'text' });
    const r = await query(url, `SELECT tenant_id::int AS t, count(*)::int AS n FROM public.accounts_membership GROUP BY 1`);
    expect(r).toEqual([{ t: 999, n: 3 }]);
    expect(await query(url, `SELECT 1 FROM public.customers_client WHERE id = 999`)).toEqual([]);
    const [pk] = await query(
      url,
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'public.accounts_membership'::regclass AND contype = 'p'`,
    );
    expect(pk.def).toBe('PRIMARY KEY (tenant_id, account_id, user_id)');
  });

  it('sharedNameClash: django_content_type in public and in every tenant schema', async () => {
    expect(await count(url, 'public', 'django_content_type')).toBe(7);
    for (const s of [...info.tenants.map((t) => t.schema), 'orphan_schema']) {
      expect(await count(url, s, 'django_content_type')).toBe(4);
      const [u] = await query(url, `SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'u'`, [
        ident(s, 'django_content_type'),
      ]);
      expect(u.n).toBe(1);
    }
  });

  it('partitioned: events is range-partitioned with rows in both partitions', async () => {
    for (const { schema } of info.tenants) {
      expect(await relkind(url, schema, 'events')).toBe('p');
      const parts = await query(
        url,
        `SELECT c.relname AS part, count(*)::int AS n FROM ${ident(schema, 'events')} e JOIN pg_class c ON c.oid = e.tableoid GROUP BY 1 ORDER BY 1`,
      );
      expect(parts.map((p) => p.part)).toEqual(['events_2023', 'events_2024']);
      expect(parts.reduce((s, p) => s + p.n, 0)).toBe(rows);
      expect(parts.every((p) => p.n > 0)).toBe(true);
    }
  });

  it('extras: a view, a trigger function and a trigger in every tenant', async () => {
    for (const { schema } of info.tenants) {
      expect(await relkind(url, schema, 'account_summary')).toBe('v');
      const [v] = await query(url, `SELECT count(*)::int AS n FROM ${ident(schema, 'account_summary')}`);
      expect(v.n).toBe(rows);
      const fn = await query(
        url,
        `SELECT prorettype::regtype::text AS r FROM pg_proc WHERE proname = 'touch' AND pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)`,
        [schema],
      );
      expect(fn).toEqual([{ r: 'trigger' }]);
      const tg = await query(url, `SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal`, [ident(schema, 'accounts_account')]);
      expect(tg).toEqual([{ tgname: 'accounts_account_touch' }]);
    }
  });
});

describe.concurrent('bulk generators', () => {
  it('generateWideTenants: registry + 12-column orders tables', async () => {
    const db = await createTestDatabase('fixture');
    dbs.push(db);
    const { schemas } = await generateWideTenants(db.url, { tenants: 3, rows: 1000, schemaPrefix: 'wide_' });
    expect(schemas).toEqual(['wide_0001', 'wide_0002', 'wide_0003']);
    expect(await count(db.url, 'public', 'customers_client')).toBe(4);
    for (const s of schemas) {
      expect(await count(db.url, s, 'orders')).toBe(1000);
      expect(Object.keys(await columnsOf(db.url, s, 'orders'))).toHaveLength(12);
    }
    const [nulls] = await query(db.url, `SELECT count(*) FILTER (WHERE notes IS NULL)::int AS n, count(DISTINCT region)::int AS r FROM wide_0002.orders`);
    expect(nulls).toEqual({ n: 100, r: 4 });
    expect(await digest(db.url, 'wide_0001', 'orders')).not.toBe(await digest(db.url, 'wide_0002', 'orders'));
  });

  it('generateManyTenants: many small schemas with t2 → t1', async () => {
    const db = await createTestDatabase('fixture');
    dbs.push(db);
    const t0 = performance.now();
    const { schemas } = await generateManyTenants(db.url, { tenants: 12, tables: 3, rows: 4, chunkSize: 5, concurrency: 2 });
    console.log(`many tenants (12 × 3 × 4): ${(performance.now() - t0).toFixed(0)} ms`);
    expect(schemas).toHaveLength(12);
    expect(schemas[0]).toBe('tenant_0001');
    expect(await count(db.url, 'public', 'customers_client')).toBe(13);
    const [r] = await query(
      db.url,
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'tenant\\_%' AND c.relkind = 'r'`,
    );
    expect(r.n).toBe(36);
    for (const s of [schemas[0], schemas[11]]) {
      for (const t of ['t1', 't2', 't3']) expect(await count(db.url, s, t)).toBe(4);
    }
    const fk = await query(
      db.url,
      `SELECT confrelid::regclass::text AS target FROM pg_constraint WHERE conrelid = 'tenant_0007.t2'::regclass AND contype = 'f'`,
    );
    expect(fk).toEqual([{ target: 'tenant_0007.t1' }]);
  });
});
