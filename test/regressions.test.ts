import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { generateFixture } from '../fixtures/generate.js';
import { loadConfig } from '../src/config/load.js';
import { planCommand } from '../src/commands/plan.js';
import { revertCommand } from '../src/commands/revert.js';
import { runCommand } from '../src/commands/run.js';
import { silentLogger } from '../src/log.js';
import { fingerprint, fingerprintDiff } from '../src/verify/fingerprint.js';
import { createTestDatabase, query } from './support/db.js';
import { withClient } from './support/client.js';

/** Regressions: defects found by reading the code or by review, each confirmed by a test that failed, then fixed. */
const log = silentLogger();
const dbs: Awaited<ReturnType<typeof createTestDatabase>>[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop();
});

async function fresh(): Promise<{ url: string; sql: (q: string) => Promise<pg.QueryResultRow[]> }> {
  const d = await createTestDatabase('regress');
  dbs.push(d);
  return { url: d.url, sql: (q) => query(d.url, q) };
}

const schemasConfig = (url: string) => ({ ...loadConfig({ source: url }, {}, '/'), tenants: { mode: 'schemas' as const, schemas: ['a', 'b'] } });

describe('regressions', () => {
  it('an inheritance child is not copied into its parent: each table gets its own rows once', async () => {
    const db = await fresh();
    await db.sql(`
      CREATE SCHEMA a; CREATE SCHEMA b;
      CREATE TABLE a.base_item (id int PRIMARY KEY, v text); CREATE TABLE a.sub_item (extra text) INHERITS (a.base_item);
      CREATE TABLE b.base_item (id int PRIMARY KEY, v text); CREATE TABLE b.sub_item (extra text) INHERITS (b.base_item);
      INSERT INTO a.base_item VALUES (1, 'x'); INSERT INTO a.sub_item VALUES (1, 'y', 'z');
      INSERT INTO b.base_item VALUES (1, 'x'); INSERT INTO b.sub_item VALUES (2, 'y', 'z');`);
    const r = await runCommand(schemasConfig(db.url), log);
    expect(r.verify.ok).toBe(true);
    const rows = await db.sql(`SELECT (SELECT count(*)::int FROM public.base_item) AS base, (SELECT count(*)::int FROM public.sub_item) AS sub`);
    expect(rows[0]).toEqual({ base: 2, sub: 2 });
  });

  it("revert uses the run's own target schema, whatever config it is given", async () => {
    const db = await fresh();
    await generateFixture(db.url, { tenants: 2, rowsPerTable: 5 });
    await db.sql(
      `CREATE SCHEMA rows; CREATE TABLE rows.accounts_membership (tenant_id bigint NOT NULL, account_id int NOT NULL, user_id int NOT NULL, role text NOT NULL)`,
    );
    const before = await withClient(db.url, (c) => fingerprint(c, ['acme', 'globex']));
    const cfg = { ...loadConfig({ source: db.url }, {}, '/'), targetSchema: 'rows' };
    expect((await runCommand(cfg, log)).verify.ok).toBe(true);
    // The index the run added to the pre-existing table is dropped even when revert runs with the default config.
    await revertCommand(loadConfig({ source: db.url }, {}, '/'), log, async () => true);
    const after = await withClient(db.url, (c) => fingerprint(c, ['acme', 'globex']));
    expect(fingerprintDiff(before, after)).toEqual([]);
  });

  it("a pre-existing table's own serial column and its rows of a migrated tenant: verify passes, revert restores the sequence", async () => {
    const db = await fresh();
    const fx = await generateFixture(db.url, { tenants: 3, rowsPerTable: 5, preexistingUnified: true });
    const acme = fx.tenants.find((t) => t.schema === 'acme')!.id;
    await db.sql(`ALTER TABLE public.accounts_membership ADD COLUMN surrogate bigserial`);
    await db.sql(`INSERT INTO public.accounts_membership (tenant_id, account_id, user_id, role) VALUES (${acme}, 999, 999, 'seeded by the app')`);
    const tenants = fx.tenants.map((t) => t.schema);
    const before = await withClient(db.url, (c) => fingerprint(c, tenants));
    const cfg = loadConfig({ source: db.url }, {}, '/');
    const r = await runCommand(cfg, log);
    expect(r.verify.ok).toBe(true);
    await revertCommand(cfg, log, async () => true);
    const after = await withClient(db.url, (c) => fingerprint(c, tenants));
    expect(fingerprintDiff(before, after)).toEqual([]);
  });

  it('a permissive policy on a pre-existing table blocks the plan; an exclusion constraint is reported', async () => {
    const db = await fresh();
    await generateFixture(db.url, { tenants: 2, rowsPerTable: 3, preexistingUnified: true });
    await db.sql(`CREATE POLICY app_admin_all ON public.accounts_membership USING (true)`);
    await db.sql(`CREATE EXTENSION IF NOT EXISTS btree_gist`);
    for (const s of ['acme', 'globex']) await db.sql(`ALTER TABLE ${s}.accounts_account ADD CONSTRAINT no_overlap EXCLUDE USING gist (id WITH =)`);
    const p = await planCommand(loadConfig({ source: db.url }, {}, '/'), log);
    expect(p.blocking).toBe(true);
    expect(p.plan.problems.find((x) => x.code === 'TARGET_POLICY_CONFLICT' && x.severity === 'error')?.message).toMatch(/app_admin_all/);
    expect(p.plan.problems.find((x) => x.code === 'EXCLUSION_SKIPPED')?.message).toMatch(/no_overlap/);
  });

  it("the journal holds each copy step's verified checksum (SPEC §4), equal to the verification's", async () => {
    const d = await createTestDatabase('regress');
    dbs.push(d);
    await generateFixture(d.url, { tenants: 2, rowsPerTable: 6 });
    const r = await runCommand(loadConfig({ source: d.url }, {}, '/'), log);
    expect(r.verify.ok).toBe(true);
    const steps = await query<{ step_id: string; checksum: string | null }>(
      d.url,
      `SELECT step_id, checksum FROM oasys_migrate.step WHERE phase = 'copy' ORDER BY 1`,
    );
    expect(steps.length).toBe(10);
    const byStep = new Map(r.verify.results.map((x) => [`copy:${x.tenant}:${x.table}`, x.targetChecksum]));
    for (const s of steps) expect(s.checksum, s.step_id).toBe(byStep.get(s.step_id));
    expect(steps.every((s) => s.checksum !== null && /^-?\d+$/.test(s.checksum))).toBe(true);
  });
});
