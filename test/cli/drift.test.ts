/**
 * Drift beyond columns and `tables.partial` from the outside (issue 9 point 4;
 * SPEC §3 `tables.partial`, §4 "Drift beyond columns"): the real CLI against
 * the 3-tenant fixture (acme, globex, `weird "name"; with.dot`) with one tenant
 * altered by hand. A key or constraint missing (or different) in some tenants
 * blocks `plan` and `run` before anything is written; a plain index missing in
 * some tenants is a warning and the migration goes through; a table only some
 * tenants have blocks unless tables.partial names it, and is then migrated,
 * verified and reverted for exactly the tenants that have it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/db.js';
import { generateFixture, type FixtureInfo, type FixtureOptions } from '../../fixtures/generate.js';
import { generateManyTenants } from '../../fixtures/bulk.js';
import { compareAll, fingerprint, parseJson, qi, runCli, schemaExists, show, sql, tenantSchemas, writeJson } from '../support/cli.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];
afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop().catch(() => undefined)));
});

const ROWS = 6;

async function fixtureDb(opts: FixtureOptions = {}): Promise<{ url: string; info: FixtureInfo }> {
  const db = await createTestDatabase('clidrift');
  dbs.push(db);
  const info = await generateFixture(db.url, { rowsPerTable: ROWS, ...opts });
  return { url: db.url, info };
}

interface Problem {
  severity: string;
  code: string;
  tenant: string | null;
  table: string | null;
  message: string;
  hint: string | null;
}
interface PlanDoc {
  tenants: { schema: string }[];
  tables: { name: string; action: string; rows: number }[];
  problems: Problem[];
}
interface VerifyDoc {
  ok: boolean;
  results: { tenant: string; table: string; sourceRows: number; targetRows: number; ok: boolean }[];
}

const WEIRD = 'weird "name"; with.dot';

async function plan(url: string, ...extra: string[]): Promise<{ code: number | null; doc: PlanDoc; all: string }> {
  const r = await runCli(['plan', '--json', '--source', url, ...extra]);
  return { code: r.code, doc: parseJson<PlanDoc>(r), all: show(r) };
}

/** The name of the constraint of `schema.table` whose definition contains `like`. */
async function constraintName(url: string, schema: string, table: string, kind: string, like: string): Promise<string> {
  const rows = await sql<{ conname: string }>(
    url,
    `SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = $2 AND pg_get_constraintdef(oid) LIKE $3`,
    [qi(schema, table), kind, `%${like}%`],
  );
  expect(rows, `one ${kind} constraint of ${schema}.${table} like ${like}`).toHaveLength(1);
  return rows[0].conname;
}

async function unifiedTableExists(url: string, table: string): Promise<boolean> {
  const [r] = await sql<{ t: string | null }>(url, 'SELECT to_regclass($1)::text AS t', [qi('public', table)]);
  return r.t !== null;
}

describe('a tenant lacking a UNIQUE constraint and holding duplicates', () => {
  it('plan exits 1 with DRIFT_CONSTRAINT naming that tenant; run refuses before writing anything', async () => {
    const { url, info } = await fixtureDb();
    await sql(url, `ALTER TABLE ${qi('globex', 'accounts_account')} DROP CONSTRAINT ${qi('accounts_account_number_key')}`);
    // two rows with the same number: the unified UNIQUE (tenant_id, number) would fail on them after the copy
    await sql(
      url,
      `UPDATE ${qi('globex', 'accounts_account')} SET ${qi('number')} = 'DUP' WHERE ${qi('id')} IN (SELECT ${qi('id')} FROM ${qi('globex', 'accounts_account')} ORDER BY 1 LIMIT 2)`,
    );

    const p = await plan(url);
    expect(p.code, p.all).toBe(1);
    const hits = p.doc.problems.filter((x) => x.code === 'DRIFT_CONSTRAINT');
    expect(hits, JSON.stringify(p.doc.problems, null, 2)).toHaveLength(1);
    const [hit] = hits;
    expect(hit.severity).toBe('error');
    expect(hit.tenant).toBe('globex');
    expect(hit.table).toBe('accounts_account');
    // names the constraint, its definition, both sides, what run would do and what to do
    expect(hit.message).toContain('accounts_account_number_key');
    expect(hit.message).toContain('UNIQUE ("number")');
    expect(hit.message).toContain('missing in tenant "globex"');
    expect(hit.message).toContain('"acme"');
    expect(hit.message).toContain(WEIRD.replace(/"/g, '\\"'));
    expect(hit.message).toMatch(/run would create it on the unified table and fail after the whole copy on any duplicate values in tenant "globex"/);
    expect(hit.hint).toMatch(/add the unique constraint to tenant "globex" \(after removing duplicate rows\) or drop it from the others/);
    // the tenant's plain indexes and everything else agree: nothing else is reported as drift
    expect(p.doc.problems.filter((x) => x.code.startsWith('DRIFT_') && x !== hit)).toEqual([]);

    const human = await runCli(['plan', '--source', url]);
    expect(human.code, show(human)).toBe(1);
    expect(human.stdout + human.stderr).toContain('DRIFT_CONSTRAINT');

    const before = await fingerprint(url);
    const r = await runCli(['run', '--source', url]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stdout + r.stderr).toContain('DRIFT_CONSTRAINT');
    expect(await schemaExists(url, 'oasys_migrate'), 'run on a blocking plan created oasys_migrate').toBe(false);
    for (const table of ['accounts_account', 'accounts_transaction', 'LedgerEntry']) expect(await unifiedTableExists(url, table), table).toBe(false);
    expect(await fingerprint(url)).toEqual(before);
    expect(info.tenants.map((t) => t.schema)).toContain('globex');
  });
});

describe('a missing FOREIGN KEY, CHECK and PRIMARY KEY, and a CHECK with another expression', () => {
  it('each is a blocking DRIFT_CONSTRAINT naming the tenant that differs; run refuses', async () => {
    const { url } = await fixtureDb();
    const fk = await constraintName(url, 'globex', 'accounts_transaction', 'f', '(parent_id)');
    await sql(url, `ALTER TABLE ${qi('globex', 'accounts_transaction')} DROP CONSTRAINT ${qi(fk)}`);
    await sql(url, `ALTER TABLE ${qi('globex', 'LedgerEntry')} DROP CONSTRAINT ${qi('LedgerEntry_pkey')}`);
    for (const s of ['acme', WEIRD]) {
      // a check only acme and the weird tenant have (globex's migration never ran)
      await sql(url, `ALTER TABLE ${qi(s, 'accounts_transaction')} ADD CONSTRAINT ${qi('amount_bounded')} CHECK (${qi('amount')} <> 'NaN'::numeric)`);
    }
    // the same check name with another expression in globex
    for (const [s, n] of [
      ['acme', 100],
      [WEIRD, 100],
      ['globex', 1000],
    ] as const) {
      await sql(url, `ALTER TABLE ${qi(s, 'accounts_membership')} ADD CONSTRAINT ${qi('role_short')} CHECK (char_length(${qi('role')}) < ${n})`);
    }

    const p = await plan(url);
    expect(p.code, p.all).toBe(1);
    const hits = p.doc.problems.filter((x) => x.code === 'DRIFT_CONSTRAINT');
    const by = (table: string) => hits.filter((h) => h.table === table);
    expect(
      hits.every((h) => h.severity === 'error' && h.tenant === 'globex'),
      JSON.stringify(hits, null, 2),
    ).toBe(true);

    const [fkHit] = by('accounts_transaction').filter((h) => h.message.includes('foreign key'));
    expect(fkHit?.message).toContain(fk);
    expect(fkHit.message).toMatch(/FOREIGN KEY \("parent_id"\) REFERENCES "accounts_transaction" \("id"\)/);
    expect(fkHit.message).toContain('missing in tenant "globex"');
    expect(fkHit.message).toContain('rows pointing at rows that do not exist');

    const [checkHit] = by('accounts_transaction').filter((h) => h.message.includes('check constraint'));
    expect(checkHit?.message).toContain('"amount_bounded"');
    expect(checkHit.message).toContain('missing in tenant "globex"');
    expect(checkHit.message).toContain('fail while copying');

    const [pkHit] = by('LedgerEntry');
    expect(pkHit?.message).toContain('primary key "LedgerEntry_pkey" PRIMARY KEY ("id")');
    expect(pkHit.message).toContain('missing in tenant "globex"');

    const [differs] = by('accounts_membership');
    expect(differs?.message).toContain('check constraint "role_short" differs between tenants');
    expect(differs.message).toMatch(/< 1000\)\) in tenant "globex"/);
    expect(differs.message).toMatch(/< 100\)\) in tenants "acme" and /);
    expect(differs.message).toContain('run would create the reference tenant "acme"');
    expect(hits).toHaveLength(4);

    const r = await runCli(['run', '--source', url]);
    expect(r.code, show(r)).toBe(1);
    expect(await schemaExists(url, 'oasys_migrate')).toBe(false);
    expect(await unifiedTableExists(url, 'accounts_transaction')).toBe(false);
  });
});

describe('a key missing in one tenant of a table whose unified table already exists (filled, not created)', () => {
  it("is a DRIFT_CONSTRAINT warning, not blocking: run adds none of the tenants' keys to an existing table", async () => {
    const { url } = await fixtureDb({ preexistingUnified: true });
    const pk = await constraintName(url, 'globex', 'accounts_membership', 'p', '(account_id, user_id)');
    await sql(url, `ALTER TABLE ${qi('globex', 'accounts_membership')} DROP CONSTRAINT ${qi(pk)}`);
    const p = await plan(url);
    expect(p.code, p.all).toBe(0);
    const hits = p.doc.problems.filter((x) => x.code === 'DRIFT_CONSTRAINT');
    expect(hits, JSON.stringify(p.doc.problems, null, 2)).toHaveLength(1);
    expect(hits[0]).toMatchObject({ severity: 'warning', tenant: 'globex', table: 'accounts_membership' });
    expect(hits[0].message).toContain('the unified table already exists and run only fills it');
    expect(p.doc.tables.find((t) => t.name === 'accounts_membership')?.action).toBe('fill');
  });
});

describe('a plain (non-unique) index missing in one tenant', () => {
  it('is the warning DRIFT_INDEX: plan exits 0, run succeeds and the unified table has the index', async () => {
    const { url, info } = await fixtureDb();
    const [idx] = await sql<{ indexname: string }>(
      url,
      `SELECT indexname FROM pg_indexes WHERE schemaname = 'globex' AND tablename = 'accounts_transaction' AND indexdef NOT LIKE '%UNIQUE%' AND indexdef LIKE '%(account_id)'`,
    );
    expect(idx, 'the fixture has an index on accounts_transaction(account_id)').toBeDefined();
    await sql(url, `DROP INDEX ${qi('globex', idx.indexname)}`);

    const p = await plan(url);
    expect(p.code, p.all).toBe(0);
    const hits = p.doc.problems.filter((x) => x.code === 'DRIFT_INDEX');
    expect(hits, JSON.stringify(p.doc.problems, null, 2)).toHaveLength(1);
    expect(hits[0]).toMatchObject({ severity: 'warning', tenant: 'globex', table: 'accounts_transaction' });
    expect(hits[0].message).toContain(idx.indexname);
    expect(hits[0].message).toContain('missing in tenant "globex"');
    expect(hits[0].message).toContain('run creates it on the unified table');
    expect(p.doc.problems.filter((x) => x.code === 'DRIFT_CONSTRAINT')).toEqual([]);

    const r = await runCli(['run', '--json', '--source', url], { timeoutMs: 60_000 });
    expect(r.code, show(r)).toBe(0);
    expect(parseJson<VerifyDoc>(r).ok).toBe(true);
    const { mismatches } = await compareAll(url, url, info.tenants);
    expect(mismatches).toEqual([]);
    const [unified] = await sql<{ indexdef: string }>(url, `SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname = $1`, [idx.indexname]);
    expect(unified?.indexdef).toMatch(/\(tenant_id, account_id\)/);
  });
});

describe('a table present in 2 of 3 tenants (LedgerEntry missing in globex)', () => {
  let url: string;
  let info: FixtureInfo;

  it('blocks without configuration: one DRIFT_MISSING_TABLE naming globex, with tables.partial in the hint', async () => {
    ({ url, info } = await fixtureDb({ drift: 'missing-table' }));
    const p = await plan(url);
    expect(p.code, p.all).toBe(1);
    const hits = p.doc.problems.filter((x) => x.code === 'DRIFT_MISSING_TABLE');
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ severity: 'error', tenant: 'globex', table: 'LedgerEntry' });
    expect(hits[0].hint).toContain('tables.partial');
  });

  it('a wrong type for tables.partial is a usage error naming the key path (exit 2)', async () => {
    const r = await runCli(['plan', '-c', writeJson({ tables: { partial: 'LedgerEntry' } }), '--source', url]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr + r.stdout).toContain('tables.partial');
  });

  it('with tables.partial: plan exits 0 (an info naming 2 of 3 tenants, UNKNOWN_TABLE for a name no tenant has); run migrates it for the two; verify ok; revert exact', async () => {
    const cfg = writeJson({ tables: { partial: ['LedgerEntry', 'no_such_table'] } });
    const p = await plan(url, '-c', cfg);
    expect(p.code, p.all).toBe(0);
    const info1 = p.doc.problems.filter((x) => x.code === 'DRIFT_MISSING_TABLE');
    expect(info1).toHaveLength(1);
    expect(info1[0]).toMatchObject({ severity: 'info', table: 'LedgerEntry' });
    expect(info1[0].message).toContain('exists in 2 of 3 tenants');
    expect(info1[0].message).toContain('tenant "globex" without it');
    const unknown = p.doc.problems.filter((x) => x.code === 'UNKNOWN_TABLE');
    expect(unknown.map((x) => [x.severity, x.table])).toEqual([['warning', 'no_such_table']]);
    expect(p.doc.tables.map((t) => t.name)).toContain('LedgerEntry');

    const outsideBefore = await fingerprint(url, { exclude: [...tenantSchemas(info), 'oasys_migrate'] });
    const tenantsBefore = await fingerprint(url, { only: tenantSchemas(info) });

    const r = await runCli(['run', '--json', '-c', cfg, '--source', url], { timeoutMs: 60_000 });
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson<VerifyDoc>(r);
    expect(doc.ok).toBe(true);
    const ledger = doc.results.filter((x) => x.table === 'LedgerEntry').map((x) => [x.tenant, x.sourceRows, x.targetRows, x.ok]);
    expect(ledger.sort()).toEqual(
      [
        ['acme', ROWS, ROWS, true],
        [WEIRD, ROWS, ROWS, true],
      ].sort(),
    );

    // the data itself: per tenant, the unified rows are the tenant's rows; globex has none
    const withLedger = info.tenants.filter((t) => t.schema !== 'globex');
    expect((await compareAll(url, url, withLedger)).mismatches).toEqual([]);
    expect(
      (
        await compareAll(
          url,
          url,
          info.tenants.filter((t) => t.schema === 'globex'),
          ['accounts_account', 'accounts_transaction', 'accounts_membership', 'audit_log'],
        )
      ).mismatches,
    ).toEqual([]);
    const counts = await sql<{ tenant_id: string; n: string }>(
      url,
      `SELECT tenant_id::text, count(*)::text AS n FROM ${qi('public', 'LedgerEntry')} GROUP BY 1 ORDER BY 1`,
    );
    expect(counts).toEqual(withLedger.map((t) => ({ tenant_id: String(t.id), n: String(ROWS) })).sort((a, b) => a.tenant_id.localeCompare(b.tenant_id)));

    const v = await runCli(['verify', '--json', '-c', cfg, '--source', url]);
    expect(v.code, show(v)).toBe(0);
    expect(
      parseJson<VerifyDoc>(v)
        .results.filter((x) => x.table === 'LedgerEntry')
        .map((x) => x.tenant)
        .sort(),
    ).toEqual(['acme', WEIRD].sort());

    const rv = await runCli(['revert', '--yes', '-c', cfg, '--source', url]);
    expect(rv.code, show(rv)).toBe(0);
    expect(await fingerprint(url, { exclude: [...tenantSchemas(info), 'oasys_migrate'] })).toEqual(outsideBefore);
    expect(await fingerprint(url, { only: tenantSchemas(info) })).toEqual(tenantsBefore);
  });
});

describe('tables.partial into a separate target database', () => {
  it('copies the partial table for the tenants that have it (COPY between databases); verify ok; globex has no rows', async () => {
    const { url, info } = await fixtureDb({ drift: 'missing-table' });
    const target = await createTestDatabase('clidrifttarget');
    dbs.push(target);
    const cfg = writeJson({ tables: { partial: ['LedgerEntry'] } });
    const r = await runCli(['run', '--json', '-c', cfg, '--source', url, '--target', target.url], { timeoutMs: 60_000 });
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson<VerifyDoc>(r);
    expect(doc.ok).toBe(true);
    expect(
      doc.results
        .filter((x) => x.table === 'LedgerEntry')
        .map((x) => x.tenant)
        .sort(),
    ).toEqual(['acme', WEIRD].sort());
    const withLedger = info.tenants.filter((t) => t.schema !== 'globex');
    expect((await compareAll(url, target.url, withLedger)).mismatches).toEqual([]);
    const [g] = await sql<{ n: string }>(target.url, `SELECT count(*)::text AS n FROM ${qi('public', 'LedgerEntry')} WHERE tenant_id::text = $1`, [
      String(info.tenants[1].id),
    ]);
    expect(g.n).toBe('0');
  });
});

describe('many tenants: one finding per differing rule, with counts and a few examples', () => {
  it('a foreign key missing in 5 of 200 tenants is one DRIFT_CONSTRAINT naming both sides by count and examples (column drift likewise)', async () => {
    const db = await createTestDatabase('clidriftmany');
    dbs.push(db);
    const { schemas } = await generateManyTenants(db.url, { tenants: 200, tables: 2, rows: 2, concurrency: 1 });
    const lacking = schemas.slice(10, 15);
    for (const s of lacking) await sql(db.url, `ALTER TABLE ${qi(s, 't2')} DROP CONSTRAINT ${qi('t2_parent_id_fkey')}`);
    // and column drift, aggregated the same way: NOT NULL in 5 tenants only (a warning), a column missing in 8
    for (const s of lacking) await sql(db.url, `ALTER TABLE ${qi(s, 't1')} ALTER COLUMN ${qi('name')} SET NOT NULL`);
    const noAmount = schemas.slice(20, 28);
    for (const s of noAmount) await sql(db.url, `ALTER TABLE ${qi(s, 't1')} DROP COLUMN ${qi('amount')}`);
    const p = await plan(db.url);
    expect(p.code, p.all).toBe(1);
    const drift = p.doc.problems
      .filter((x) => x.code.startsWith('DRIFT_'))
      .map((x) => x.code)
      .sort();
    expect(drift).toEqual(['DRIFT_CONSTRAINT', 'DRIFT_MISSING_COLUMN', 'DRIFT_NULLABILITY']);
    const [nul] = p.doc.problems.filter((x) => x.code === 'DRIFT_NULLABILITY');
    expect(nul).toMatchObject({ severity: 'warning', tenant: null, table: 't1' });
    expect(nul.message).toContain(
      `"t1"."name" is NOT NULL in 5 tenants (${lacking
        .slice(0, 3)
        .map((s) => JSON.stringify(s))
        .join(', ')}, …) but nullable in 195 tenants`,
    );
    const [col] = p.doc.problems.filter((x) => x.code === 'DRIFT_MISSING_COLUMN');
    expect(col).toMatchObject({ severity: 'error', tenant: null, table: 't1' });
    expect(col.message).toContain(
      `8 tenants (${noAmount
        .slice(0, 3)
        .map((s) => JSON.stringify(s))
        .join(', ')}, …) table "t1" have no column "amount"`,
    );
    expect(col.message).toContain('that 192 tenants (');
    const hits = p.doc.problems.filter((x) => x.code === 'DRIFT_CONSTRAINT');
    expect(hits, JSON.stringify(hits, null, 2)).toHaveLength(1);
    expect(hits[0]).toMatchObject({ code: 'DRIFT_CONSTRAINT', severity: 'error', tenant: null, table: 't2' });
    expect(hits[0].message).toContain(
      `is in 195 tenants (${schemas
        .slice(0, 3)
        .map((s) => JSON.stringify(s))
        .join(', ')}, …)`,
    );
    expect(hits[0].message).toContain(
      `missing in 5 tenants (${lacking
        .slice(0, 3)
        .map((s) => JSON.stringify(s))
        .join(', ')}, …)`,
    );
    expect(hits[0].message.length).toBeLessThan(600);
  });
});
