/**
 * Discovery reads each distinct tenant table definition once (sql/catalog/shapes.sql): tenants
 * whose table has the same definition up to their own schema name share the first one's. What
 * `plan` makes of it must be exactly what reading every table in full gives, on hostile schema
 * names (one a prefix of another, dots, quotes), local types, foreign keys within and across
 * tenants, checks and index predicates whose text names the schema, dropped columns and drift.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { generateFixture } from '../fixtures/generate.js';
import { loadConfig } from '../src/config/load.js';
import { discover } from '../src/discover/discover.js';
import { buildPlan } from '../src/plan/build.js';
import { createTestDatabase } from './support/db.js';
import { qi } from './support/cli.js';

const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** A tenant's tables; `variant` makes it differ from the others in one way. */
function tenantSql(s: string, variant = ''): string {
  const S = qi(s);
  return `
CREATE SCHEMA ${S};
CREATE TYPE ${S}.mood AS ENUM ('happy', 'sad');
CREATE FUNCTION ${S}.ok(x int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT x >= 0';
CREATE TABLE ${S}.parent (
  id serial PRIMARY KEY,
  m ${variant === 'shared-type' ? 'public.mood' : `${S}.mood`} NOT NULL${variant === 'shared-type' ? '' : ` DEFAULT 'happy'`},
  tags ${S}.mood[],
  -- the default names this tenant (defaults are not part of a shape); the check and the index
  -- predicate name tenant "a" in a literal in every tenant (a value, not a qualification)
  note text DEFAULT ${lit(`${s}.x`)} CHECK (note <> 'a.y')
);
CREATE TABLE ${S}.child (
  id bigserial PRIMARY KEY,
  ${variant === 'dropped' ? 'gone int,' : ''}
  parent_id int REFERENCES ${variant === 'cross' ? 'a' : S}.parent (id) ON DELETE CASCADE,
  label text,
  qty int ${variant === 'no-check' ? '' : variant === 'local-check' ? `CHECK (${S}.ok(qty))` : 'CHECK (qty >= 0)'}
  ${variant === 'extra' ? ', extra text' : ''}
);
${variant === 'dropped' ? `ALTER TABLE ${S}.child DROP COLUMN gone;` : ''}
CREATE UNIQUE INDEX child_label ON ${S}.child (lower(label)) WHERE label <> 'a.z';
CREATE INDEX child_qty ON ${S}.child (qty ${variant === 'desc' ? 'DESC' : ''});
`;
}

const TENANTS: [string, string][] = [
  ['a', ''],
  ['aa', ''],
  ['b', ''],
  ['a.a', ''],
  ['We"ird a', ''],
  ['c', 'no-check'],
  ['d', 'cross'],
  ['e', 'shared-type'],
  ['f', 'local-check'],
  ['g', 'dropped'],
  ['h', 'desc'],
  ['i', 'extra'],
  ['j', ''],
];

async function planBoth(url: string, cfgFile?: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const cfg = loadConfig({ source: url, ...(cfgFile ? { config: cfgFile } : {}) }, {}, '/');
    const shaped = await discover(client, client, cfg);
    const full = await discover(client, client, cfg, { shapes: false });
    return { shaped, full, shapedPlan: buildPlan(cfg, shaped), fullPlan: buildPlan(cfg, full) };
  } finally {
    await client.end();
  }
}

describe('tables of one shape are read once', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let messy: Awaited<ReturnType<typeof createTestDatabase>>;
  let cfgFile: string;
  beforeAll(async () => {
    db = await createTestDatabase('shapes');
    messy = await createTestDatabase('shapes_messy');
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query(`CREATE TYPE public.mood AS ENUM ('happy', 'sad')`);
      for (const [s, v] of TENANTS) await c.query(tenantSql(s, v));
    } finally {
      await c.end();
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oasys-shapes-'));
    cfgFile = path.join(dir, 'config.json');
    fs.writeFileSync(cfgFile, JSON.stringify({ tenants: { schemas: TENANTS.map(([s]) => s) } }));
    await generateFixture(messy.url, { tenants: 3, rowsPerTable: 2, partitioned: true, extras: true });
  }, 120_000);
  afterAll(async () => {
    await db?.drop();
    await messy?.drop();
  });

  it('plans exactly as reading every table in full, on hostile names, local objects and drift', async () => {
    const { shaped, full, shapedPlan, fullPlan } = await planBoth(db.url, cfgFile);
    expect(JSON.stringify(shapedPlan)).toBe(JSON.stringify(fullPlan));
    // The plan is not trivially equal: the drift above is found.
    const codes = new Set(fullPlan.problems.map((p) => p.code));
    expect(codes).toContain('DRIFT_EXTRA_COLUMN');
    expect(fullPlan.problems.some((p) => p.code === 'DRIFT_CONSTRAINT' && /missing in tenants "c" and "f"/.test(p.message))).toBe(true);
    expect(fullPlan.problems.some((p) => p.code === 'DRIFT_INDEX' && p.tenant === 'h')).toBe(true);
    expect(fullPlan.problems.some((p) => p.code === 'DRIFT_COLUMN_TYPE' && p.tenant === 'e')).toBe(true);
    // Sharing happened where definitions are equal up to the schema name, and only there.
    const t = (s: string, n: string) => shaped.source.tables.get(s)!.get(n)!;
    expect(t('b', 'child').shapeOf).toBe('a');
    expect(t('j', 'parent').shapeOf).toBe('a');
    expect(t('b', 'child').columns).toBe(t('a', 'child').columns);
    expect(t('a', 'child').shapeOf).toBeUndefined();
    for (const [s, n] of [
      ['c', 'child'],
      ['d', 'child'],
      ['e', 'parent'],
      ['f', 'child'],
      ['h', 'child'],
      ['i', 'child'],
    ])
      expect(t(s, n).shapeOf, `${s}.${n}`).toBeUndefined();
    // A table whose columns sit at other positions (a dropped column) is its own shape.
    expect(t('g', 'child').shapeOf).toBeUndefined();
    // Read in full, every table is its own.
    expect([...full.source.tables.values()].every((m) => [...m.values()].every((d) => d.shapeOf === undefined))).toBe(true);
  });

  it('plans the messy fixture (partitions, identities, views, a weird schema name) the same both ways', async () => {
    const { shaped, shapedPlan, fullPlan } = await planBoth(messy.url);
    expect(JSON.stringify(shapedPlan)).toBe(JSON.stringify(fullPlan));
    expect([...shaped.source.tables.values()].some((m) => [...m.values()].some((d) => d.shapeOf !== undefined))).toBe(true);
  });
});
