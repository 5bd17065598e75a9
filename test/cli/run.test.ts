/**
 * `run` from the outside (issue 3 "Done means"; SPEC §4): data equality per
 * tenant and table by an independent query, keys, sequences, indexes, RLS as
 * a non-owner application role, source safety, and a second run.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl, createTestDatabase } from '../support/db.js';
import { generateFixture, PREEXISTING_TENANT_ID, type FixtureInfo, type FixtureOptions } from '../../fixtures/generate.js';
import {
  FIXTURE_TABLES,
  compareAll,
  fingerprint,
  parseJson,
  qi,
  rowsHash,
  runCli,
  schemaExists,
  show,
  sql,
  tableColumns,
  tempDir,
  tenantSchemas,
  urlAs,
  withClient,
  type CliResult,
} from '../support/cli.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];
const roles: string[] = [];

afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop().catch(() => undefined)));
  for (const r of roles) await sql(adminUrl(), `DROP ROLE IF EXISTS ${qi(r)}`).catch(() => undefined);
});

interface RunDoc {
  runId: unknown;
  rowsCopied: number;
  seconds: number;
  ok: boolean;
  results: { tenant: string; table: string; sourceRows: number; targetRows: number; sourceChecksum: unknown; targetChecksum: unknown; ok: boolean }[];
}

const ROWS = 12;
const PK_TABLES: Record<string, string[]> = {
  accounts_account: ['tenant_id', 'id'],
  accounts_transaction: ['tenant_id', 'id'],
  accounts_membership: ['tenant_id', 'account_id', 'user_id'],
  LedgerEntry: ['tenant_id', 'id'],
};

async function primaryKey(url: string, table: string): Promise<string[]> {
  const rows = await sql<{ attname: string }>(
    url,
    `SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
      WHERE n.nspname = 'public' AND c.relname = $1 AND i.indisprimary ORDER BY k.ord`,
    [table],
  );
  return rows.map((r) => r.attname);
}

/** Indexes of a unified table: name, access method, key columns in order. */
async function indexesOf(url: string, table: string): Promise<{ name: string; method: string; columns: string[]; def: string }[]> {
  const rows = await sql<{ name: string; method: string; columns: string[]; def: string }>(
    url,
    `SELECT ic.relname AS name, am.amname AS method, pg_get_indexdef(i.indexrelid) AS def,
            array(SELECT coalesce(a.attname, '(expr)') FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY k(attnum, ord)
                   LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[] AS columns
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = ic.relam
      WHERE n.nspname = 'public' AND c.relname = $1`,
    [table],
  );
  return rows;
}

async function pgError(p: Promise<unknown>): Promise<{ code?: string; message: string } | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { code: e.code, message: e.message };
  }
}

interface Variant {
  name: string;
  fixture: FixtureOptions;
  crossDatabase?: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'plain fixture, in place', fixture: {} },
  { name: 'fixture with a pre-existing unified accounts_membership (tenant 999 rows)', fixture: { preexistingUnified: true } },
  { name: 'separate target database (--target)', fixture: {}, crossDatabase: true },
];

for (const variant of VARIANTS) {
  describe(`run: ${variant.name}`, () => {
    let src: string;
    let tgt: string;
    let info: FixtureInfo;
    let tenantFpBefore: string[];
    let sourceFpBefore: string[];
    let preexistingBefore: { count: number; hash: string } | undefined;
    let first: CliResult;
    let logFile: string;
    const role = `app_${randomBytes(4).toString('hex')}`;
    const rolePw = 'app-pw-' + randomBytes(4).toString('hex');
    let roleUrl: string;
    const targetArgs = () => (variant.crossDatabase ? ['--source', src, '--target', tgt] : ['--source', src]);
    const extraRows = (table: string) => (variant.fixture.preexistingUnified && table === 'accounts_membership' ? 3 : 0);

    beforeAll(async () => {
      const s = await createTestDatabase('clirun');
      dbs.push(s);
      src = s.url;
      info = await generateFixture(src, { rowsPerTable: ROWS, ...variant.fixture });
      if (variant.crossDatabase) {
        const t = await createTestDatabase('clirun_tgt');
        dbs.push(t);
        tgt = t.url;
      } else {
        tgt = src;
      }
      tenantFpBefore = await fingerprint(src, { only: tenantSchemas(info) });
      sourceFpBefore = await fingerprint(src);
      if (variant.fixture.preexistingUnified) {
        preexistingBefore = await rowsHash(src, 'public', 'accounts_membership', ['tenant_id', 'account_id', 'user_id', 'role'], { id: PREEXISTING_TENANT_ID });
      }
      logFile = path.join(tempDir(), 'run.log');
      first = await runCli(['run', '--json', '--log-file', logFile, ...targetArgs()], { timeoutMs: 55_000 });
    });

    it('run --json exits 0 with runId, rowsCopied, seconds, ok and per-(tenant, table) results', async () => {
      expect(first.code, show(first)).toBe(0);
      const doc = parseJson<RunDoc>(first);
      expect(doc.runId, 'runId').toBeDefined();
      expect(doc.runId).not.toBeNull();
      expect(typeof doc.seconds).toBe('number');
      expect(doc.ok).toBe(true);
      const tenantRows = info.tenants.length * FIXTURE_TABLES.length * ROWS;
      if (variant.crossDatabase) {
        // the shared tables copied to the target (auth_user, the registry, …) may be counted too
        const shared = await sql<{ relname: string }>(tgt, `SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'`);
        let sharedRows = 0;
        for (const t of shared.filter((x) => !FIXTURE_TABLES.includes(x.relname))) {
          sharedRows += Number((await sql<{ n: string }>(tgt, `SELECT count(*)::text AS n FROM ${qi('public', t.relname)}`))[0].n);
        }
        expect([tenantRows, tenantRows + sharedRows], `rowsCopied ${doc.rowsCopied}`).toContain(doc.rowsCopied);
      } else {
        expect(doc.rowsCopied).toBe(tenantRows);
      }
      expect(Array.isArray(doc.results)).toBe(true);
      expect(doc.results.length).toBeGreaterThanOrEqual(info.tenants.length * FIXTURE_TABLES.length);
      for (const r of doc.results) expect(r.ok, JSON.stringify(r)).toBe(true);
      for (const t of info.tenants) {
        for (const table of FIXTURE_TABLES) {
          const r = doc.results.find((x) => x.tenant === t.schema && x.table === table);
          expect(r, `result for ${t.schema}/${table}`).toBeDefined();
          expect(r!.sourceRows).toBe(ROWS);
          expect(r!.targetRows).toBe(ROWS);
          expect(r!.sourceChecksum).toBeDefined();
          expect(r!.sourceChecksum).toEqual(r!.targetChecksum);
          expect(r!.ok).toBe(true);
        }
      }
    });

    it('no password in stdout, stderr, the --log-file (JSON lines) or the oasys_migrate state', async () => {
      const pws = [src, tgt].map((u) => decodeURIComponent(new URL(u).password)).filter((p) => p.length > 0);
      expect(pws.length).toBeGreaterThan(0);
      expect(existsSync(logFile), '--log-file written').toBe(true);
      const log = readFileSync(logFile, 'utf8');
      expect(log.trim().length).toBeGreaterThan(0);
      for (const line of log.trim().split('\n')) expect(() => JSON.parse(line), `JSON line: ${line}`).not.toThrow();
      const tables = await sql<{ relname: string }>(tgt, `SELECT relname FROM pg_class WHERE relnamespace = 'oasys_migrate'::regnamespace AND relkind = 'r'`);
      expect(tables.length, 'the state lives in oasys_migrate of the target').toBeGreaterThan(0);
      let state = '';
      for (const t of tables)
        state += (await sql<{ x: string }>(tgt, `SELECT coalesce(string_agg(t::text, E'\\n'), '') AS x FROM ${qi('oasys_migrate', t.relname)} t`))[0].x;
      for (const pw of pws) {
        expect(first.stdout.includes(pw), 'password in stdout').toBe(false);
        expect(first.stderr.includes(pw), 'password in stderr').toBe(false);
        expect(log.includes(pw), 'password in the log file').toBe(false);
        expect(state.includes(pw), 'password in the oasys_migrate state').toBe(false);
      }
    });

    it('for every tenant and table, the unified rows of that tenant equal the source rows (count + content hash)', async () => {
      const { mismatches, totals } = await compareAll(src, tgt, info.tenants);
      expect(mismatches).toEqual([]);
      for (const table of FIXTURE_TABLES) {
        const [r] = await sql<{ n: string; nulls: string }>(
          tgt,
          `SELECT count(*)::text AS n, count(*) FILTER (WHERE tenant_id IS NULL)::text AS nulls FROM ${qi('public', table)}`,
        );
        expect(Number(r.n), `public.${table}: total rows = sum over tenants (+ pre-existing)`).toBe(totals[table] + extraRows(table));
        expect(Number(r.nulls), `public.${table}: rows with NULL tenant_id`).toBe(0);
      }
    });

    it('microsecond timestamps survive', async () => {
      const acme = info.tenants[0];
      const [a] = await sql<{ t: string }>(
        tgt,
        `SELECT to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS t FROM public.accounts_account WHERE tenant_id::text = $1 AND id = 1`,
        [String(acme.id)],
      );
      expect(a?.t).toBe('2024-03-01 12:34:56.123456');
      const [t] = await sql<{ t: string }>(
        tgt,
        `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS t FROM public.accounts_transaction WHERE tenant_id::text = $1 AND id = 1`,
        [String(acme.id)],
      );
      expect(t?.t).toBe('2024-07-01 06:59:59.999999');
      // and in bulk: the microsecond parts of every tenant's timestamps are the same on both sides
      for (const tenant of info.tenants) {
        const [s] = await sql<{ h: string }>(
          src,
          `SELECT md5(string_agg(extract(microseconds FROM opened_at)::text, ',' ORDER BY id)) AS h FROM ${qi(tenant.schema, 'accounts_account')}`,
        );
        const [u] = await sql<{ h: string }>(
          tgt,
          `SELECT md5(string_agg(extract(microseconds FROM opened_at)::text, ',' ORDER BY id)) AS h FROM public.accounts_account WHERE tenant_id::text = $1`,
          [String(tenant.id)],
        );
        expect(u.h, tenant.schema).toBe(s.h);
      }
    });

    it('unified tables have every source column plus tenant_id NOT NULL of the registry id type (bigint)', async () => {
      for (const table of FIXTURE_TABLES) {
        const sourceCols = await tableColumns(src, info.tenants[0].schema, table);
        const unifiedCols = await tableColumns(tgt, 'public', table);
        expect([...unifiedCols].sort(), table).toEqual([...sourceCols, 'tenant_id'].sort());
        const [c] = await sql<{ type: string; notnull: boolean }>(
          tgt,
          `SELECT format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull FROM pg_attribute a
             WHERE a.attrelid = $1::regclass AND a.attname = 'tenant_id'`,
          [qi('public', table)],
        );
        expect(c, `${table}.tenant_id`).toEqual({ type: 'bigint', notnull: true });
      }
    });

    it('primary keys lead with tenant_id: accounts_account (tenant_id, id), …', async () => {
      for (const [table, cols] of Object.entries(PK_TABLES)) {
        expect(await primaryKey(tgt, table), table).toEqual(cols);
      }
      // unique (number) became unique (tenant_id, number)
      const uniques = await sql<{ def: string }>(
        tgt,
        `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'public.accounts_account'::regclass AND contype = 'u'`,
      );
      const idx = await indexesOf(tgt, 'accounts_account');
      const uniqueNumber =
        uniques.some((u) => /\(tenant_id, number\)/.test(u.def)) || idx.some((i) => /UNIQUE/.test(i.def) && i.columns.join(',') === 'tenant_id,number');
      expect(uniqueNumber, JSON.stringify({ uniques, idx }, null, 2)).toBe(true);
      expect(
        uniques.some((u) => /^UNIQUE \(number\)$/.test(u.def)),
        'no tenant-less UNIQUE (number) left',
      ).toBe(false);
    });

    it('every unified table has a tenant-leading index; every btree index leads with tenant_id; no redundant (tenant_id) index', async () => {
      for (const table of FIXTURE_TABLES) {
        const idx = await indexesOf(tgt, table);
        expect(
          idx.some((i) => i.columns[0] === 'tenant_id'),
          `${table}: an index leading with tenant_id: ${JSON.stringify(idx)}`,
        ).toBe(true);
        for (const i of idx.filter((x) => x.method === 'btree')) expect(i.columns[0], `${table}: ${i.def}`).toBe('tenant_id');
        const pk = await primaryKey(tgt, table);
        if (pk[0] === 'tenant_id') {
          const redundant = idx.filter((i) => i.columns.length === 1 && i.columns[0] === 'tenant_id');
          expect(redundant, `${table}: redundant single-column tenant_id index beside the PK`).toEqual([]);
        }
      }
      // the source's secondary indexes were recreated tenant-leading
      const tx = await indexesOf(tgt, 'accounts_transaction');
      expect(
        tx.some((i) => i.columns.join(',') === 'tenant_id,account_id'),
        JSON.stringify(tx),
      ).toBe(true);
      expect(
        tx.some((i) => i.columns.join(',') === 'tenant_id,created_at' && /created_at DESC/.test(i.def)),
        JSON.stringify(tx),
      ).toBe(true);
    });

    it('foreign keys between tenant tables are composite on tenant_id; foreign keys to shared tables stay', async () => {
      const fks = await sql<{ tbl: string; def: string }>(
        tgt,
        `SELECT c.relname AS tbl, pg_get_constraintdef(con.oid) AS def FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND con.contype = 'f'`,
      );
      const has = (tbl: string, re: RegExp) => fks.some((f) => f.tbl === tbl && re.test(f.def));
      const dump = JSON.stringify(fks, null, 2);
      expect(has('accounts_transaction', /^FOREIGN KEY \(tenant_id, account_id\) REFERENCES (public\.)?accounts_account\(tenant_id, id\)/), dump).toBe(true);
      expect(has('accounts_transaction', /^FOREIGN KEY \(tenant_id, parent_id\) REFERENCES (public\.)?accounts_transaction\(tenant_id, id\)/), dump).toBe(true);
      if (!variant.fixture.preexistingUnified) {
        // (a pre-existing accounts_membership keeps the application's own definition: its tenant-999 rows reference no account)
        expect(has('accounts_membership', /^FOREIGN KEY \(tenant_id, account_id\) REFERENCES (public\.)?accounts_account\(tenant_id, id\)/), dump).toBe(true);
        expect(has('accounts_membership', /^FOREIGN KEY \(user_id\) REFERENCES (public\.)?auth_user\(id\)/), dump).toBe(true);
      }
      expect(has('accounts_account', /^FOREIGN KEY \(owner_id\) REFERENCES (public\.)?auth_user\(id\)/), dump).toBe(true);
      // no FK still references a tenant schema or uses a tenant-less key into a tenant table
      expect(
        fks.filter((f) => /REFERENCES (public\.)?accounts_\w+\((?!tenant_id)/.test(f.def)),
        dump,
      ).toEqual([]);
    });

    it('a composite FK rejects a transaction pointing at another tenant’s account', async () => {
      const [acme, globex] = info.tenants;
      await withClient(tgt, async (c) => {
        await c.query('BEGIN');
        try {
          await c.query('SET CONSTRAINTS ALL IMMEDIATE');
          const { rows } = await c.query<{ id: number }>(
            `INSERT INTO public.accounts_account (tenant_id, number, active) VALUES ($1, 'FK-TEST-1', true) RETURNING id`,
            [globex.id],
          );
          const globexOnly = rows[0].id; // exists for globex only
          await c.query('SAVEPOINT s');
          const bad = await pgError(
            c.query(`INSERT INTO public.accounts_transaction (tenant_id, account_id, amount, memo) VALUES ($1, $2, 1.00, 'cross-tenant')`, [
              acme.id,
              globexOnly,
            ]),
          );
          expect(bad?.code, `insert pointing at globex's account ${globexOnly} as acme: ${JSON.stringify(bad)}`).toBe('23503');
          await c.query('ROLLBACK TO SAVEPOINT s');
          // the same row within its own tenant is fine
          let globexTx: string | undefined;
          const good = await pgError(
            c
              .query<{ id: string }>(
                `INSERT INTO public.accounts_transaction (tenant_id, account_id, amount, memo) VALUES ($1, $2, 1.00, 'same tenant') RETURNING id`,
                [globex.id, globexOnly],
              )
              .then((r) => (globexTx = String(r.rows[0].id))),
          );
          expect(good).toBeUndefined();
          // the self-reference too: an acme transaction cannot have globex's new transaction as parent
          await c.query('SAVEPOINT s2');
          const badParent = await pgError(
            c.query(`INSERT INTO public.accounts_transaction (tenant_id, account_id, amount, parent_id) VALUES ($1, 1, 1.00, $2)`, [acme.id, globexTx]),
          );
          expect(badParent?.code, `parent_id pointing at globex's transaction ${globexTx} as acme: ${JSON.stringify(badParent)}`).toBe('23503');
        } finally {
          await c.query('ROLLBACK');
        }
      });
    });

    it('inserting a new row with the default id succeeds for each tenant (sequences past the max)', async () => {
      await withClient(tgt, async (c) => {
        await c.query('BEGIN');
        try {
          for (const t of info.tenants) {
            for (const [table, insert] of [
              ['accounts_account', `INSERT INTO public.accounts_account (tenant_id, number, active) VALUES ($1, 'NEW-ACCOUNT', true) RETURNING id`],
              ['accounts_transaction', `INSERT INTO public.accounts_transaction (tenant_id, account_id, amount) VALUES ($1, 1, 2.50) RETURNING id`],
              ['LedgerEntry', `INSERT INTO public."LedgerEntry" (tenant_id, "Amount") VALUES ($1, 1) RETURNING id`],
            ] as const) {
              const [{ max }] = (await c.query<{ max: string }>(`SELECT max(id)::text AS max FROM ${qi('public', table)} WHERE tenant_id = $1`, [t.id])).rows;
              await c.query('SAVEPOINT s');
              let newId: string | undefined;
              const err = await pgError(c.query<{ id: string }>(insert, [t.id]).then((r) => (newId = String(r.rows[0].id))));
              expect(err, `${t.schema}/${table}: default-id insert: ${JSON.stringify(err)}`).toBeUndefined();
              expect(Number(newId), `${t.schema}/${table}: new id ${newId} > max ${max}`).toBeGreaterThan(Number(max));
              await c.query('RELEASE SAVEPOINT s');
            }
          }
        } finally {
          await c.query('ROLLBACK');
        }
      });
    });

    it('RLS is enabled and forced on every unified table with one policy tenant_isolation (USING and WITH CHECK on app.current_tenant)', async () => {
      for (const table of FIXTURE_TABLES) {
        const [c] = await sql<{ rls: boolean; force: boolean }>(
          tgt,
          `SELECT relrowsecurity AS rls, relforcerowsecurity AS force FROM pg_class WHERE oid = $1::regclass`,
          [qi('public', table)],
        );
        expect(c, table).toEqual({ rls: true, force: true });
        const pols = await sql<{ polname: string; qual: string | null; check: string | null }>(
          tgt,
          `SELECT polname, pg_get_expr(polqual, polrelid) AS qual, pg_get_expr(polwithcheck, polrelid) AS check FROM pg_policy WHERE polrelid = $1::regclass`,
          [qi('public', table)],
        );
        expect(
          pols.map((p) => p.polname),
          table,
        ).toEqual(['tenant_isolation']);
        expect(pols[0].qual ?? '', `${table} USING`).toContain('app.current_tenant');
        expect(pols[0].check ?? '', `${table} WITH CHECK`).toContain('app.current_tenant');
      }
    });

    describe('RLS as an application role (NOSUPERUSER NOBYPASSRLS, not the owner)', () => {
      beforeAll(async () => {
        roles.push(role);
        await sql(adminUrl(), `CREATE ROLE ${qi(role)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '${rolePw}'`);
        await sql(
          tgt,
          `GRANT USAGE ON SCHEMA public TO ${qi(role)};
           GRANT SELECT, INSERT, UPDATE ON ${FIXTURE_TABLES.map((t) => qi('public', t)).join(', ')} TO ${qi(role)};
           GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${qi(role)};`,
        );
        roleUrl = urlAs(tgt, role, rolePw);
      });

      const asRole = <T>(fn: (c: pg.Client) => Promise<T>) => withClient(roleUrl, fn);
      const setTenant = (c: pg.Client, v: string) => c.query(`SELECT set_config('app.current_tenant', $1, false)`, [v]);

      it('the role is not superuser, cannot bypass RLS and owns none of the tables', async () => {
        const [r] = await sql<{ rolsuper: boolean; rolbypassrls: boolean }>(tgt, 'SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1', [role]);
        expect(r).toEqual({ rolsuper: false, rolbypassrls: false });
        const owned = await sql(
          tgt,
          `SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relowner = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
          [role],
        );
        expect(owned).toEqual([]);
      });

      it('setting unset → 0 rows and no error, on every table', async () => {
        await asRole(async (c) => {
          for (const table of FIXTURE_TABLES) {
            const r = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${qi('public', table)}`);
            expect(Number(r.rows[0].n), table).toBe(0);
          }
        });
      });

      it("setting '' → 0 rows and no error, on every table (also after RESET)", async () => {
        await asRole(async (c) => {
          await c.query(`SET app.current_tenant = ''`);
          for (const table of FIXTURE_TABLES) {
            const r = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${qi('public', table)}`);
            expect(Number(r.rows[0].n), table).toBe(0);
          }
          await setTenant(c, String(info.tenants[0].id));
          await c.query('RESET app.current_tenant');
          const r = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM public.accounts_account`);
          expect(Number(r.rows[0].n), 'after RESET').toBe(0);
        });
      });

      it('tenant A set → exactly A’s rows (content equal to the source), for every tenant and table', async () => {
        await asRole(async (c) => {
          for (const t of info.tenants) {
            await setTenant(c, String(t.id));
            for (const table of FIXTURE_TABLES) {
              const cols = await tableColumns(src, t.schema, table);
              const rowText = `ROW(${cols.map((x) => `${qi(x)}::text`).join(', ')})::text`;
              const r = await c.query<{ n: string; others: string; h: string }>(
                `SELECT count(*)::text AS n, count(*) FILTER (WHERE tenant_id::text <> $1)::text AS others,
                        md5(coalesce(string_agg(${rowText}, E'\\n' ORDER BY ${rowText} COLLATE "C"), '')) AS h
                   FROM ${qi('public', table)}`,
                [String(t.id)],
              );
              const want = await rowsHash(src, t.schema, table, cols);
              expect({ n: Number(r.rows[0].n), others: Number(r.rows[0].others), h: r.rows[0].h }, `${t.schema}/${table}`).toEqual({
                n: want.count,
                others: 0,
                h: want.hash,
              });
            }
          }
          if (variant.fixture.preexistingUnified) {
            await setTenant(c, String(PREEXISTING_TENANT_ID));
            const r = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM public.accounts_membership`);
            expect(Number(r.rows[0].n), 'tenant 999 sees its 3 pre-existing rows').toBe(3);
          }
        });
      });

      it('inserting a row with B’s tenant_id while A is set is rejected; with A’s it is accepted', async () => {
        const [a, b] = info.tenants;
        await asRole(async (c) => {
          await setTenant(c, String(a.id));
          await c.query('BEGIN');
          try {
            await c.query('SAVEPOINT s');
            const e1 = await pgError(c.query(`INSERT INTO public.audit_log (tenant_id, actor) VALUES ($1, 'intruder')`, [b.id]));
            expect(e1?.code, `audit_log insert as B: ${JSON.stringify(e1)}`).toBe('42501');
            await c.query('ROLLBACK TO SAVEPOINT s');
            const e2 = await pgError(c.query(`INSERT INTO public.accounts_account (tenant_id, number, active) VALUES ($1, 'RLS-B', true)`, [b.id]));
            expect(e2?.code, `accounts_account insert as B: ${JSON.stringify(e2)}`).toBe('42501');
            await c.query('ROLLBACK TO SAVEPOINT s');
            const ok = await pgError(c.query(`INSERT INTO public.audit_log (tenant_id, actor) VALUES ($1, 'legit')`, [a.id]));
            expect(ok, 'insert with A’s own tenant_id').toBeUndefined();
          } finally {
            await c.query('ROLLBACK');
          }
        });
      });

      it('updating a row to B’s tenant_id while A is set is rejected; B’s rows cannot be updated at all', async () => {
        const [a, b] = info.tenants;
        await asRole(async (c) => {
          await setTenant(c, String(a.id));
          await c.query('BEGIN');
          try {
            await c.query('SAVEPOINT s');
            const e1 = await pgError(c.query(`UPDATE public.audit_log SET tenant_id = $1 WHERE tenant_id = $2`, [b.id, a.id]));
            expect(e1?.code, `audit_log update to B: ${JSON.stringify(e1)}`).toBe('42501');
            await c.query('ROLLBACK TO SAVEPOINT s');
            const e2 = await pgError(c.query(`UPDATE public."LedgerEntry" SET tenant_id = $1 WHERE id = 1`, [b.id]));
            expect(e2?.code, `LedgerEntry update to B: ${JSON.stringify(e2)}`).toBe('42501');
            await c.query('ROLLBACK TO SAVEPOINT s');
            const upd = await c.query(`UPDATE public.audit_log SET actor = 'tampered' WHERE tenant_id = $1`, [b.id]);
            expect(upd.rowCount, 'rows of B updated while A is set').toBe(0);
          } finally {
            await c.query('ROLLBACK');
          }
        });
        // nothing changed for B
        const { mismatches } = await compareAll(src, tgt, [b], ['audit_log', 'LedgerEntry']);
        expect(mismatches).toEqual([]);
      });
    });

    if (variant.fixture.preexistingUnified) {
      it('the pre-existing rows of tenant 999 are kept exactly, migrated rows added', async () => {
        const after = await rowsHash(tgt, 'public', 'accounts_membership', ['tenant_id', 'account_id', 'user_id', 'role'], { id: PREEXISTING_TENANT_ID });
        expect(after).toEqual(preexistingBefore);
        expect(preexistingBefore!.count).toBe(3);
        const [r] = await sql<{ n: string }>(tgt, 'SELECT count(*)::text AS n FROM public.accounts_membership');
        expect(Number(r.n)).toBe(3 + info.tenants.length * ROWS);
      });
    }

    it('tenant schemas are unchanged (catalog + content fingerprint)', async () => {
      expect(await fingerprint(src, { only: tenantSchemas(info) })).toEqual(tenantFpBefore);
    });

    if (variant.crossDatabase) {
      it('the source database is not written at all (full fingerprint, no oasys_migrate there); state lives in the target', async () => {
        expect(await fingerprint(src)).toEqual(sourceFpBefore);
        expect(await schemaExists(src, 'oasys_migrate')).toBe(false);
        expect(await schemaExists(tgt, 'oasys_migrate')).toBe(true);
        // the shared tables referenced by tenant tables, and the registry, were copied to the target
        for (const shared of ['auth_user', 'customers_client']) {
          const cols = await tableColumns(src, 'public', shared);
          expect(await rowsHash(tgt, 'public', shared, cols), shared).toEqual(await rowsHash(src, 'public', shared, cols));
        }
      });
    }

    it('a second run after a completed one duplicates nothing (exit 0, or a clear "already completed" message) and verify still passes', async () => {
      const second = await runCli(['run', ...targetArgs()], { timeoutMs: 55_000 });
      expect(second.stdout + second.stderr, 'no colour codes or progress-bar carriage returns off a terminal').not.toMatch(/\u001b\[|\r/);
      if (second.code !== 0) {
        expect(second.stdout + second.stderr, `second run exit ${second.code} without saying the migration is already done:\n${show(second)}`).toMatch(
          /already (been )?(completed|migrated|done)|nothing to (do|migrate)/i,
        );
      }
      const { mismatches, totals } = await compareAll(src, tgt, info.tenants);
      expect(mismatches).toEqual([]);
      for (const table of FIXTURE_TABLES) {
        const [r] = await sql<{ n: string }>(tgt, `SELECT count(*)::text AS n FROM ${qi('public', table)}`);
        expect(Number(r.n), `public.${table} after a second run`).toBe(totals[table] + extraRows(table));
      }
      const v = await runCli(['verify', ...targetArgs()]);
      expect(v.code, show(v)).toBe(0);
      expect(await fingerprint(src, { only: tenantSchemas(info) })).toEqual(tenantFpBefore);
      // the second attempt must not leave a run behind that looks unfinished (a later `run`/`revert` would act on it)
      const status = await runCli(['status', '--json', ...targetArgs()]);
      expect(status.code, show(status)).toBe(0);
      const doc = parseJson<{ runs: { runId: unknown; state: string }[] }>(status);
      const unfinished = doc.runs.filter((r) => !['completed', 'reverted'].includes(r.state));
      expect(unfinished, `runs left unfinished by the second run: ${JSON.stringify(doc.runs)}`).toEqual([]);
    });
  });
}
