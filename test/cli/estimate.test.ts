/**
 * `plan`'s estimates before the night (issue 12, point 5): the disk the unified tables will take
 * (checked against their real size after `run`, for a few wide tenants and for many tiny ones),
 * the free space where the server lets it be seen (checked against statfs here, or "unknown"
 * with the reason), and how long `run` should take (calibrated before any run, measured after one).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateManyTenants, generateWideTenants } from '../../fixtures/bulk.js';
import { adminUrl, createTestDatabase } from '../support/db.js';
import { runnerUrl } from '../support/roles.js';
import { withClient } from '../support/client.js';
import { freeSpace } from '../../src/report/estimate.js';
import { parseJson, runCli, show, sql } from '../support/cli.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;

/** A database owned by a NOSUPERUSER NOBYPASSRLS role (the tool's user on a managed service), and its URL. */
async function ownedDatabase(prefix: string): Promise<{ db: Db; url: string; drop: () => Promise<void> }> {
  const db = await createTestDatabase(prefix);
  const owner = await runnerUrl(adminUrl(), db.name, db.url, 'owner');
  return {
    db,
    url: owner.url,
    drop: async () => {
      await db.drop();
      await owner.drop();
    },
  };
}

/** The unified tables' real size after the run: heap, TOAST and indexes (the free-space and visibility maps left out, as the estimate does). */
async function unifiedBytes(url: string, tables: string[]): Promise<number> {
  const [r] = await sql<{ b: number }>(
    url,
    `SELECT sum(pg_relation_size(c.oid) + coalesce(pg_relation_size(c.reltoastrelid), 0) + pg_indexes_size(c.oid))::float8 AS b
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname = ANY ($1)`,
    [tables],
  );
  return r.b;
}

async function planJson(url: string) {
  const r = await runCli(['plan', '--source', url, '--json'], { timeoutMs: 60_000 });
  expect(r.code, show(r)).toBe(0);
  return parseJson(r);
}

describe.each([
  { name: 'wide tenants', build: (url: string) => generateWideTenants(url, { tenants: 3, rows: 20_000 }) },
  { name: 'many tiny tenants', build: (url: string) => generateManyTenants(url, { tenants: 150, tables: 2, rows: 10 }) },
])('plan estimates the target: $name', ({ build }) => {
  let db: Awaited<ReturnType<typeof ownedDatabase>>;
  let before: any;
  beforeAll(async () => {
    db = await ownedDatabase('estimate');
    await build(db.url);
    await sql(db.url, 'VACUUM ANALYZE');
    before = await planJson(db.url);
  }, 120_000);
  afterAll(async () => db?.drop());

  it('the disk the unified tables take is within a factor of 1.5 of their real size after run; the time is calibrated, then measured', async () => {
    const e = before.estimate;
    expect(e.disk.targetBytes).toBe(e.disk.tableBytes + e.disk.indexBytes);
    expect(e.disk.neededBytes).toBe(e.disk.targetBytes + e.disk.walBytes);
    expect(e.disk.unmeasuredTables).toBe(0);
    expect(e.time.basis).toBe('calibrated');
    expect(e.time.seconds).toBeGreaterThan(0);

    const r = await runCli(['run', '--source', db.url], { timeoutMs: 120_000 });
    expect(r.code, show(r)).toBe(0);
    const real = await unifiedBytes(
      db.url,
      before.tables.map((t: { name: string }) => t.name),
    );
    expect(real).toBeGreaterThan(0);
    const ratio = e.disk.targetBytes / real;
    expect(ratio, `estimated ${e.disk.targetBytes} bytes, real ${real}`).toBeGreaterThan(1 / 1.5);
    expect(ratio, `estimated ${e.disk.targetBytes} bytes, real ${real}`).toBeLessThan(1.5);

    // After a completed run the estimate is the server's own figure: that run, scaled (here: the same work).
    const after = await planJson(db.url);
    const [run] = await sql<{ s: number }>(
      db.url,
      `SELECT EXTRACT(EPOCH FROM finished_at - started_at)::float8 AS s FROM oasys_migrate.run WHERE state = 'completed'`,
    );
    expect(after.estimate.time.basis).toBe('measured');
    expect(after.estimate.time.detail).toMatch(/^measured: run #1 on this target took/);
    expect(after.estimate.time.seconds).toBeGreaterThan(run.s / 2);
    expect(after.estimate.time.seconds).toBeLessThan(run.s * 2);
  }, 180_000);
});

describe('plan tells the free space where the server lets it be seen', () => {
  let db: Awaited<ReturnType<typeof ownedDatabase>>;
  beforeAll(async () => {
    db = await ownedDatabase('estimate_free');
    await generateWideTenants(db.url, { tenants: 2, rows: 1_000 });
    await sql(db.url, 'VACUUM ANALYZE');
  }, 60_000);
  afterAll(async () => db?.drop());

  it('as the owner (no pg_read_all_settings): unknown, and why', async () => {
    const [{ visible }] = await sql<{ visible: boolean }>(db.url, `SELECT count(*) = 1 AS visible FROM pg_settings WHERE name = 'data_directory'`);
    expect(visible, 'the test role should not see data_directory').toBe(false);
    const doc = await planJson(db.url);
    expect(doc.estimate.freeSpace.bytes).toBeNull();
    expect(doc.estimate.freeSpace.short).toBeNull();
    expect(doc.estimate.freeSpace.how).toMatch(/^unknown: (the role may not read data_directory|the server is on another machine)/);
    const h = await runCli(['plan', '--source', db.url]);
    expect(h.stdout).toMatch(/\nFree space: unknown: /);
    expect(h.stdout).toMatch(/\nTime: `run` should take about \d+ (s|min) \(calibrated/);
  });

  it('as a role that may read the settings, on this machine: the free bytes of the tablespace directory (statfs), not short', async () => {
    const url = db.db.url;
    const [{ dir }] = await sql<{ dir: string | null }>(url, `SELECT setting AS dir FROM pg_settings WHERE name = 'data_directory'`);
    const doc = await planJson(url);
    const free = doc.estimate.freeSpace;
    if (dir && fs.existsSync(path.join(dir, 'PG_VERSION'))) {
      const st = fs.statfsSync(path.join(dir, 'base'));
      const here = st.bavail * st.bsize;
      expect(free.path).toBe(path.join(dir, 'base'));
      expect(Math.abs(free.bytes - here) / here).toBeLessThan(0.05);
      expect(free.short).toBe(free.bytes < doc.estimate.disk.neededBytes);
      expect(free.short).toBe(false);
      expect(doc.problems.map((p: { code: string }) => p.code)).not.toContain('DISK_SPACE_SHORT');
      // More than the filesystem holds: short (plan turns it into a DISK_SPACE_SHORT warning).
      const huge = await withClient(url, (c) => freeSpace(c, here * 10));
      expect(huge.short).toBe(true);
    } else {
      // The test server is elsewhere (OASYS_TEST_DATABASE_URL): the tool must say it cannot know.
      expect(free.bytes).toBeNull();
      expect(free.how).toMatch(/^unknown: /);
    }
  });
});

describe('plan estimates for a separate target database', () => {
  it('the same disk figures (they come from the source), free space and time for the target', async () => {
    const src = await ownedDatabase('estimate_src');
    const tgt = await ownedDatabase('estimate_tgt');
    try {
      await generateWideTenants(src.url, { tenants: 2, rows: 20_000 });
      await sql(src.url, 'VACUUM ANALYZE');
      const inPlace = await planJson(src.url);
      const r = await runCli(['plan', '--source', src.url, '--target', tgt.url, '--json'], { timeoutMs: 60_000 });
      expect(r.code, show(r)).toBe(0);
      const e = parseJson(r).estimate;
      expect(e.disk).toEqual(inPlace.estimate.disk);
      expect(e.disk.targetBytes).toBeGreaterThan(0);
      expect(e.freeSpace.how).toMatch(/^unknown: /); // an owner role, as in production
      expect(e.time.basis).toBe('calibrated');
      expect(e.time.detail).toMatch(/^calibrated: read 20000 rows of tenant_0001\.orders in /);
    } finally {
      await src.drop();
      await tgt.drop();
    }
  }, 120_000);
});
