/**
 * Hostile and wrong input (issue 6, item 2), part 3: hostile names. Tenant
 * schemas, tables, columns, constraint/index names, enum types and labels
 * with quotes, dots, semicolons, spaces, newlines, non-ASCII, 63-byte names
 * and reserved words, built by hand and selected with `tenants.schemas`
 * (tenant_id = the schema name); and a hostile targetSchema and tenantColumn.
 * A full run + verify + revert must work, every row arrive (independent
 * per-tenant comparison) and revert restore the pre-run target exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/db.js';
import {
  cliExpect,
  configFile,
  dbRegistry,
  exactMigration,
  fingerprint,
  fixtureTemplate,
  fpDiff,
  qi,
  sql,
  targetFingerprint,
  withClient,
  type FixtureDb,
} from '../support/faults.js';

const reg = dbRegistry();
let tpl: { make: () => Promise<FixtureDb> };
beforeAll(async () => {
  tpl = await fixtureTemplate('innames', reg);
});
afterAll(() => reg.dropAll());

const LONG_A = 'l'.repeat(54) + '_alpha00'; // 62 → padded below to 63
const NAMES = {
  schemas: [
    'Tenant"Quote',
    'dot.schema',
    "semi;colon'--",
    'with space',
    'new\nline',
    'ünï東京',
    'é'.repeat(31) + 'x', // 63 bytes in UTF-8
    's'.repeat(63),
    'select',
    'C2',
    'c2',
  ],
  weird: 'we"ird; tbl.name',
  longA: (LONG_A + 'a').slice(0, 63),
  longB: (LONG_A.slice(0, 54) + '_beta0000').slice(0, 63),
  longCol: 'c'.repeat(63),
  enumType: 'mood "q";x',
  unicodeTable: 'ünï_表 x',
};

async function buildHostile(url: string): Promise<void> {
  const { weird, longA, longB, longCol, enumType, unicodeTable } = NAMES;
  for (const n of [...NAMES.schemas, longA, longB, longCol]) expect(Buffer.byteLength(n), n).toBeLessThanOrEqual(63);
  await withClient(url, async (c) => {
    for (const [i, s] of NAMES.schemas.entries()) {
      await c.query('BEGIN');
      await c.query(`CREATE SCHEMA ${qi(s)}`);
      await c.query(`CREATE TYPE ${qi(s, enumType)} AS ENUM ('it''s', 'c d', 'é"x')`);
      await c.query(`CREATE TABLE ${qi(s, weird)} (
        id serial PRIMARY KEY, "select" text, "from" integer, "user" text, "order" integer, "Mixed Case" text,
        "col;drop table x" text, "new
line" text, "group" ${qi(s, enumType)},
        CONSTRAINT "uniq ""select""; from" UNIQUE ("select", "from"))`);
      await c.query(`CREATE INDEX ${qi('idx "order"; x')} ON ${qi(s, weird)} ("order")`);
      await c.query(`CREATE TABLE ${qi(s, longA)} (id integer PRIMARY KEY, ${qi(longCol)} text UNIQUE)`);
      await c.query(
        `CREATE TABLE ${qi(s, longB)} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a_id integer REFERENCES ${qi(s, longA)} (id) DEFERRABLE INITIALLY DEFERRED, note text)`,
      );
      await c.query(`CREATE INDEX ON ${qi(s, longB)} (a_id)`);
      await c.query(`CREATE TABLE ${qi(s, unicodeTable)} ("ключ" integer PRIMARY KEY, "値" text, "end" boolean)`);
      for (let k = 1; k <= 3; k++) {
        await c.query(
          `INSERT INTO ${qi(s, weird)} ("select", "from", "user", "order", "Mixed Case", "col;drop table x", "new\nline", "group") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [`sel ${s} ${k}`, k, `u'${k}"`, k * 10 + i, `M ${k}`, `'; DROP TABLE x; --`, `line\n${k}`, ["it's", 'c d', 'é"x'][k - 1]],
        );
        await c.query(`INSERT INTO ${qi(s, longA)} (id, ${qi(longCol)}) VALUES ($1, $2)`, [k, `${s}:${k}`]);
        await c.query(`INSERT INTO ${qi(s, longB)} (a_id, note) VALUES ($1, $2)`, [k, k === 2 ? null : `n${k}`]);
        await c.query(`INSERT INTO ${qi(s, unicodeTable)} VALUES ($1, $2, $3)`, [k, `値 ${k} ${s}`, k % 2 === 0]);
      }
      await c.query('COMMIT');
    }
  });
}

describe('hostile names', () => {
  it('schemas, tables, columns, types and labels with quotes, dots, semicolons, spaces, newlines, non-ASCII, 63 bytes and reserved words: run + verify + revert work, every row arrives', async () => {
    const db = reg.add(await createTestDatabase('hostile'));
    await buildHostile(db.url);
    const tenants = NAMES.schemas.map((s) => ({ schema: s, id: s }));
    const tables = [NAMES.weird, NAMES.longA, NAMES.longB, NAMES.unicodeTable];
    const tenantFp = await fingerprint(db.url, { only: NAMES.schemas });
    const targetFp = await targetFingerprint(db.url, NAMES.schemas);
    const file = configFile({ tenants: { schemas: NAMES.schemas } });

    const plan = await cliExpect(['plan', '-c', file, '--source', db.url], 0);
    expect(plan.stderr).not.toMatch(/this is unexpected/);
    await cliExpect(['run', '-c', file, '--source', db.url, '--concurrency', '2'], 0, { timeoutMs: 60_000 });
    expect(await exactMigration(db.url, tenants, tables), 'every row of every hostile tenant table arrived').toEqual([]);
    // the keys came along: a composite primary key with tenant_id first on every unified table
    for (const t of tables) {
      const [pk] = await sql<{ def: string | null }>(
        db.url,
        `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p'`,
        [qi('public', t)],
      );
      expect(pk?.def, `primary key of public.${t}`).toMatch(/^PRIMARY KEY \(tenant_id, /);
    }
    await cliExpect(['verify', '-c', file, '--source', db.url], 0);
    expect(fpDiff(tenantFp, await fingerprint(db.url, { only: NAMES.schemas })), 'tenant schemas unchanged').toEqual([]);
    await cliExpect(['revert', '--yes', '-c', file, '--source', db.url], 0);
    expect(fpDiff(targetFp, await targetFingerprint(db.url, NAMES.schemas)), 'target after revert = before the run').toEqual([]);
  });

  it('a hostile targetSchema and tenantColumn (quotes, semicolon, dot, a reserved word): run + verify + revert work, every row arrives', async () => {
    const f = await tpl.make();
    const targetSchema = 'Uni "fied"; x.y';
    const tenantColumn = 'Tenant "ID"; select';
    await sql(f.url, `CREATE SCHEMA ${qi(targetSchema)}`);
    const targetFp = await targetFingerprint(f.url, f.tenantSchemas);
    const file = configFile({ targetSchema, tenantColumn });
    await cliExpect(['run', '-c', file, '--source', f.url, '--concurrency', '2'], 0);
    expect(await exactMigration(f.url, f.info.tenants, undefined, {}, f.url, { targetSchema, tenantColumn })).toEqual([]);
    const [pol] = await sql<{ n: string }>(
      f.url,
      `SELECT count(*)::text AS n FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND p.polname = 'tenant_isolation'`,
      [targetSchema],
    );
    expect(Number(pol.n), 'one tenant_isolation policy per unified table').toBe(5);
    await cliExpect(['verify', '-c', file, '--source', f.url], 0);
    expect(fpDiff(f.tenantFp, await fingerprint(f.url, { only: f.tenantSchemas }))).toEqual([]);
    await cliExpect(['revert', '--yes', '-c', file, '--source', f.url], 0);
    expect(fpDiff(targetFp, await targetFingerprint(f.url, f.tenantSchemas)), 'target after revert = before the run').toEqual([]);
  });
});
