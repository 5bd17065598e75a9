/**
 * The one-scan copy of a batch of small tenants (batchCopySql): on the messy fixture, whose
 * tenants each have their own enum type (acme.mood, globex.mood), the batch statement itself
 * must succeed — a failing batch is redone tenant by tenant, which would hide a broken statement
 * behind a slow success — and count and hash exactly what the verification's own source query
 * (sourceSql) finds, while inserting those rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { generateFixture } from '../fixtures/generate.js';
import { loadConfig } from '../src/config/load.js';
import { discover } from '../src/discover/discover.js';
import { buildPlan } from '../src/plan/build.js';
import type { Plan } from '../src/plan/model.js';
import { sourceSql } from '../src/verify/checksum.js';
import { batchCopySql } from '../src/verify/closing.js';
import { createTestDatabase, query } from './support/db.js';
import { runCli, show } from './support/cli.js';

describe('batchCopySql', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let plan: Plan;
  beforeAll(async () => {
    db = await createTestDatabase('batch_copy');
    await generateFixture(db.url, { tenants: 3, rowsPerTable: 7 });
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      plan = buildPlan(loadConfig({ source: db.url }, {}, '/'), await discover(c, c, loadConfig({ source: db.url }, {}, '/')));
    } finally {
      await c.end();
    }
  }, 120_000);
  afterAll(async () => db?.drop());

  it('copies, counts and hashes a batch with tenant-local enum types in one statement, as sourceSql reads it', async () => {
    const t = plan.tables.find((x) => x.source === 'accounts_account')!;
    // The batch includes a column of each tenant's own enum type: the case a plain UNION ALL cannot take.
    expect(t.columns.some((c) => c.castViaText)).toBe(true);
    const copies = plan.steps.filter((s) => s.copy && s.table === t.target).map((s) => s.copy!);
    expect(copies.length).toBe(plan.tenants.length);
    const sql = batchCopySql(plan, t, copies)!;
    expect(sql).toBeDefined();
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query('BEGIN');
      for (const s of plan.steps.filter((x) => x.phase === 'types' || x.phase === 'tables')) for (const q of s.sql) await c.query(q);
      const got = (await c.query<{ schema: string; n: string; h: string }>(sql, [...copies.map((x) => x.tenantId), ...copies.map((x) => x.tenant)])).rows;
      const schemas = copies.map((x) => x.tenant);
      const want = (await c.query<{ schema: string; n: string; h: string }>(sourceSql(t, schemas, new Map()), schemas)).rows;
      const byKey = (rows: { schema: string; n: string; h: string }[]) => rows.map((r) => `${r.schema} ${r.n} ${r.h}`).sort();
      expect(byKey(got)).toEqual(byKey(want));
      expect(got.every((r) => Number(r.n) > 0)).toBe(true);
      // And the rows it reported are the rows it inserted, per tenant.
      const inserted = (
        await c.query<{ t: string; n: string }>(`SELECT ${plan.tenantColumn}::text AS t, count(*)::text AS n FROM ${plan.targetSchema}.${t.target} GROUP BY 1`)
      ).rows;
      const idOf = new Map(copies.map((x) => [x.tenant, x.tenantId]));
      expect(inserted.map((r) => `${r.t} ${r.n}`).sort()).toEqual(got.map((r) => `${idOf.get(r.schema)} ${r.n}`).sort());
    } finally {
      await c.query('ROLLBACK').catch(() => undefined);
      await c.end();
    }
  });
});

describe('a batch statement that fails while each tenant alone succeeds', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  afterAll(async () => db?.drop());

  it('is redone tenant by tenant, and the run says so instead of hiding it', async () => {
    db = await createTestDatabase('batch_fallback');
    await generateFixture(db.url, { tenants: 3, rowsPerTable: 4, preexistingUnified: true });
    // The application's own table refuses a statement that inserts rows of several tenants at once.
    await query(
      db.url,
      `CREATE FUNCTION public.one_tenant_per_statement() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF (SELECT count(DISTINCT tenant_id) FROM added) > 1 THEN RAISE EXCEPTION 'one tenant per statement'; END IF;
         RETURN NULL;
       END $$;
       CREATE TRIGGER one_tenant AFTER INSERT ON public.accounts_membership REFERENCING NEW TABLE AS added
         FOR EACH STATEMENT EXECUTE FUNCTION public.one_tenant_per_statement()`,
    );
    const r = await runCli(['run', '--source', db.url, '--json']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toMatch(
      /the batched copy of 3 tenants of "accounts_membership" failed \(one tenant per statement \(SQLSTATE P0001\)\) but each of them copied alone/,
    );
    // Every tenant's rows landed, each in its own statement.
    const steps = await query<{ n: number }>(
      db.url,
      `SELECT count(*)::int AS n FROM oasys_migrate.step WHERE phase = 'copy' AND table_name = 'accounts_membership' AND state = 'done'`,
    );
    expect(steps[0].n).toBe(3);
  });
});
