/**
 * run's closing verification hashes only the target: each copy journals its source rows'
 * count and checksum (step.source_checksum), computed from the source values in the copy's
 * own statement and snapshot. These tests hold it to verify's strength: the journaled
 * checksums are exactly what an independent read of the source gives, and a changed value,
 * a missing row, a duplicated row, a wrong tenant stamp and a source written after its copy
 * are each found.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/db.js';
import { generateFixture } from '../fixtures/generate.js';
import { loadConfig } from '../src/config/load.js';
import { runCommand } from '../src/commands/run.js';
import { silentLogger } from '../src/log.js';
import { loadPlan, saveVerify } from '../src/state/journal.js';
import { verifyPlan } from '../src/verify/checksum.js';
import { closingVerify } from '../src/verify/closing.js';
import { sql } from './support/cli.js';
import { Pinned, ReadBy } from '../src/db/warm.js';
import { backendPid } from '../src/db/connect.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];
const pools: pg.Pool[] = [];
afterAll(async () => {
  for (const p of pools) await p.end();
  for (const d of dbs) await d.drop();
});
const pool = (url: string) => {
  const p = new pg.Pool({ connectionString: url, max: 2 });
  p.on('error', () => undefined); // a connection terminated at teardown (DROP DATABASE … FORCE) is not the test's failure
  pools.push(p);
  return p;
};

for (const mode of ['in place', 'separate target'] as const) {
  describe(`closing verification (${mode})`, () => {
    it('journals the source checksums an independent read finds, and finds every kind of difference', async () => {
      const db = await createTestDatabase('closing');
      dbs.push(db);
      const target = mode === 'separate target' ? await createTestDatabase('closingt') : undefined;
      if (target) dbs.push(target);
      const tgt = target?.url ?? db.url;
      const info = await generateFixture(db.url, { tenants: 4, rowsPerTable: 12 });
      const cfg = loadConfig({ source: db.url, target: target?.url }, {}, '/');
      // Each source scan of the closing verification: on the connection that copied its tables, or not.
      const scans: boolean[] = [];
      const r = await runCommand(cfg, silentLogger(), { onSourceScan: (warm) => scans.push(warm) });
      expect(r.verify.ok).toBe(true);
      expect(scans.length).toBeGreaterThan(0);
      expect(scans.filter(Boolean).length, 'scans on the copying connections').toBeGreaterThan(0);

      const source = pool(db.url);
      const targetPool = target ? pool(target.url) : source;
      const plan = await loadPlan(targetPool, r.runId);
      const independent = await verifyPlan({ source, target: targetPool, plan, concurrency: 2 });
      expect(independent.ok).toBe(true);
      // A big table is hashed in block ranges side by side: the parts add up to the same result.
      const split = await verifyPlan({ source, target: targetPool, plan, concurrency: 3, splitPages: 1 });
      expect(split.results).toEqual(independent.results);
      expect(split.anomalies).toEqual(independent.anomalies);
      const steps = await sql<{ tenant: string; table_name: string; rows: string; source_checksum: string | null }>(
        tgt,
        `SELECT tenant, table_name, rows::text AS rows, source_checksum FROM oasys_migrate.step WHERE run_id = $1 AND phase = 'copy' AND step_id LIKE 'copy:%'`,
        [r.runId],
      );
      const tenantPairs = independent.results.filter((x) => x.tenant !== '(shared)');
      expect(tenantPairs.length).toBe(info.tenants.length * plan.tables.length);
      for (const x of tenantPairs) {
        const s = steps.find((y) => y.tenant === x.tenant && y.table_name === x.table);
        expect(s, `${x.tenant}.${x.table}`).toBeDefined();
        expect({ rows: Number(s!.rows), h: s!.source_checksum }, `${x.tenant}.${x.table}`).toEqual({ rows: x.sourceRows, h: x.sourceChecksum });
      }

      const [a, b, c, d] = info.tenants;
      const tc = (t: string) => `public.${t === 'LedgerEntry' ? '"LedgerEntry"' : t}`;
      // A copy that mapped a value wrongly looks like this in the target: one changed value.
      await sql(tgt, `UPDATE ${tc('LedgerEntry')} SET "Amount" = "Amount" + 1 WHERE tenant_id = $1 AND id = 1`, [a.id]);
      await sql(tgt, `DELETE FROM ${tc('audit_log')} WHERE ctid = (SELECT min(ctid) FROM ${tc('audit_log')} WHERE tenant_id = $1)`, [b.id]);
      await sql(tgt, `INSERT INTO ${tc('audit_log')} SELECT * FROM ${tc('audit_log')} WHERE tenant_id = $1 LIMIT 1`, [c.id]);
      await sql(tgt, `UPDATE ${tc('audit_log')} SET tenant_id = $2 WHERE ctid = (SELECT min(ctid) FROM ${tc('audit_log')} WHERE tenant_id = $1)`, [d.id, a.id]);
      // The application writes to the source after the copy: found although the source is not hashed again.
      await sql(db.url, `UPDATE "${d.schema}"."LedgerEntry" SET "Note" = 'changed later' WHERE id = 5`);
      // A row stamped with a tenant outside the migration: no tenant's row, an anomaly of its table.
      await sql(
        tgt,
        `INSERT INTO ${tc('audit_log')} SELECT (pg_catalog.jsonb_populate_record(NULL::${tc('audit_log')}, pg_catalog.to_jsonb(x) || '{"tenant_id": 987654}')).*
           FROM ${tc('audit_log')} AS x WHERE tenant_id = $1 LIMIT 1`,
        [b.id],
      );

      const closing = await closingVerify({ source, target: targetPool, plan, runId: r.runId, concurrency: 2 });
      const bad = closing.results
        .filter((x) => !x.ok)
        .map((x) => `${x.tenant}.${x.table}`)
        .sort();
      expect(bad).toEqual(
        [
          `${a.schema}.LedgerEntry`,
          `${b.schema}.audit_log`,
          `${c.schema}.audit_log`,
          `${d.schema}.audit_log`,
          `${a.schema}.audit_log`,
          `${d.schema}.LedgerEntry`,
        ].sort(),
      );
      // The target is grouped by the tenant column itself (not its text): the stray row is still apart.
      expect(closing.anomalies.filter((x) => !x.ok)).toEqual([{ table: 'audit_log', nullTenantRows: 0, otherTenantRows: 1, ok: false }]);
      expect(closing.ok).toBe(false);
      // The same on the connection that copied the tables (run notes which; here: one idle connection of the pool).
      const pid = (await source.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0].pid;
      const readBy = new ReadBy();
      for (const t of plan.tables) readBy.note(t.target, pid, t.tenants);
      const warm = await closingVerify({ source, target: targetPool, plan, runId: r.runId, concurrency: 2, readBy });
      expect(warm.results).toEqual(closing.results);
      expect(warm.anomalies).toEqual(closing.anomalies);
      const splitNow = await verifyPlan({ source, target: targetPool, plan, concurrency: 3, splitPages: 1 });
      expect(splitNow.anomalies).toEqual(closing.anomalies);
      const counts = (t: string, table: string) => closing.results.find((x) => x.tenant === t && x.table === table)!;
      expect([counts(b.schema, 'audit_log').sourceRows, counts(b.schema, 'audit_log').targetRows]).toEqual([12, 11]);
      expect([counts(c.schema, 'audit_log').sourceRows, counts(c.schema, 'audit_log').targetRows]).toEqual([12, 13]);
      expect([counts(a.schema, 'audit_log').targetRows, counts(d.schema, 'audit_log').targetRows]).toEqual([13, 11]);
      // The source written later was hashed again: its checksum is the one an independent read finds now.
      const again = await verifyPlan({ source, target: targetPool, plan, concurrency: 2 });
      const now = again.results.find((x) => x.tenant === d.schema && x.table === 'LedgerEntry')!;
      expect(counts(d.schema, 'LedgerEntry').sourceChecksum).toBe(now.sourceChecksum);
      expect(now.ok).toBe(false);
      // Everything else agrees with the independent verification.
      expect(closing.results.map((x) => [x.tenant, x.table, x.ok, x.sourceChecksum, x.targetChecksum])).toEqual(
        again.results.map((x) => [x.tenant, x.table, x.ok, x.sourceChecksum, x.targetChecksum]),
      );
      // The closing verification takes the source side from the journal (where the source did not change since).
      await sql(tgt, `UPDATE oasys_migrate.step SET source_checksum = '1' WHERE run_id = $1 AND step_id = $2`, [r.runId, `copy:${b.schema}:LedgerEntry`]);
      const fromJournal = await closingVerify({ source, target: targetPool, plan, runId: r.runId, concurrency: 2 });
      expect(fromJournal.results.find((x) => x.tenant === b.schema && x.table === 'LedgerEntry')).toMatchObject({ sourceChecksum: '1', ok: false });
    });
  });
}

describe('saveVerify', () => {
  it('stores the whole document and each pair’s checksum the same in one page or many, and leaves no staging table', async () => {
    const db = await createTestDatabase('saveverify');
    dbs.push(db);
    await generateFixture(db.url, { tenants: 3, rowsPerTable: 4 });
    const r = await runCommand(loadConfig({ source: db.url }, {}, '/'), silentLogger());
    expect(r.verify.ok).toBe(true);
    // One pair made a mismatch: its step's checksum must be cleared, the others' set.
    const report = { ...r.verify, ok: false, results: r.verify.results.map((x, i) => (i === 1 ? { ...x, targetRows: x.targetRows + 1, ok: false } : x)) };
    const p = pool(db.url);
    const stored = async () => {
      const run = (await sql<{ verify: unknown }>(db.url, 'SELECT verify FROM oasys_migrate.run WHERE run_id = $1', [r.runId]))[0].verify;
      const steps = await sql<{ step_id: string; checksum: string | null }>(
        db.url,
        `SELECT step_id, checksum FROM oasys_migrate.step WHERE run_id = $1 AND phase = 'copy' ORDER BY step_id`,
        [r.runId],
      );
      await sql(db.url, `UPDATE oasys_migrate.run SET verify = NULL WHERE run_id = $1`, [r.runId]);
      await sql(db.url, `UPDATE oasys_migrate.step SET checksum = NULL WHERE run_id = $1`, [r.runId]);
      return { run, steps };
    };
    await saveVerify(p, r.runId, report, 1_000_000);
    const onePage = await stored();
    await saveVerify(p, r.runId, report, 4);
    const pages = await stored();
    expect(pages).toEqual(onePage);
    expect(onePage.run).toEqual(JSON.parse(JSON.stringify(report)));
    const tenantPairs = report.results.filter((x) => x.tenant !== '(shared)');
    expect(tenantPairs.length).toBeGreaterThan(8);
    for (const x of tenantPairs)
      expect(onePage.steps.find((s) => s.step_id === `copy:${x.tenant}:${x.table}`)?.checksum, `${x.tenant}.${x.table}`).toBe(x.ok ? x.targetChecksum : null);
    expect(await sql(db.url, `SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'verify_stage'`)).toEqual([]);
  });
});

/** A new database and a pool of three connections to it. */
async function poolOf3(name: string): Promise<{ db: Db; p: pg.Pool }> {
  const db = await createTestDatabase(name);
  dbs.push(db);
  const p = new pg.Pool({ connectionString: db.url, max: 3 });
  p.on('error', () => undefined);
  pools.push(p);
  return { db, p };
}

describe('Pinned: the connections that read the tables, kept for the closing verification', () => {
  it('takes only idle connections of the named backends, leaves one to the pool, runs one read-only transaction at a time on each, and gives them back', async () => {
    const { db, p } = await poolOf3('pinned');
    // Three idle connections.
    const held = await Promise.all([p.connect(), p.connect(), p.connect()]);
    const pids = held.map(backendPid);
    for (const c of held) c.release();
    expect(p.idleCount).toBe(3);
    // All three named: two taken (one is left to everything else).
    const all = await Pinned.take(p, new Set(pids), { most: 8, leave: 1 });
    expect(all.size).toBe(2);
    await all.release();
    expect(p.idleCount).toBe(3);
    const one = await Pinned.take(p, new Set(pids), { most: 1, leave: 1 });
    expect(one.size).toBe(1);
    await one.release();
    expect(p.idleCount).toBe(3);
    const pinned = await Pinned.take(p, new Set([pids[1], 999999]), { most: 8, leave: 1 });
    expect(pinned.size).toBe(1);
    expect(pinned.inTransaction(pids[0], async () => 1)).toBeUndefined();
    // One transaction at a time: while it runs, the connection is busy (the caller uses the pool).
    const first = pinned.inTransaction(pids[1], async (c) => {
      const r = await c.query<{ pid: number; ro: string }>(
        "SELECT pg_catalog.pg_backend_pid() AS pid, pg_catalog.current_setting('transaction_read_only') AS ro, pg_catalog.pg_sleep(0.05)",
      );
      return r.rows[0];
    });
    expect(pinned.inTransaction(pids[1], async () => 2)).toBeUndefined();
    expect(await first).toEqual(expect.objectContaining({ pid: pids[1], ro: 'on' }));
    expect(await pinned.inTransaction(pids[1], async () => 3)).toBe(3);
    // A failed statement rolls back; the connection goes on.
    await expect(pinned.inTransaction(pids[1], (c) => c.query('SELECT 1/0'))).rejects.toThrow(/division by zero/);
    expect((await pinned.inTransaction(pids[1], (c) => c.query<{ x: number }>('SELECT 7 AS x')))!.rows[0].x).toBe(7);
    // Given back only once what runs on it has ended.
    let ended = false;
    const slow = pinned.inTransaction(pids[1], async (c) => {
      await c.query('SELECT pg_catalog.pg_sleep(0.2)');
      ended = true;
    });
    await pinned.release();
    expect(ended).toBe(true);
    await slow;
    expect(p.idleCount).toBe(3);
  });

  it('a pinned connection the server ends while it waits is broken, not fatal: not offered again, closed on release', async () => {
    const { db, p } = await poolOf3('pinnedkill');
    const c = await p.connect();
    const pid = backendPid(c);
    c.release();
    const pinned = await Pinned.take(p, new Set([pid]), { most: 2, leave: 1 });
    expect(pinned.size).toBe(1);
    await sql(db.url, 'SELECT pg_catalog.pg_terminate_backend($1)', [pid]);
    await new Promise((r) => setTimeout(r, 200));
    expect(pinned.broke(pid)).toBe(true);
    expect(pinned.inTransaction(pid, async () => 1)).toBeUndefined();
    await pinned.release();
    // The pool goes on with a new connection.
    expect((await p.query<{ ok: number }>('SELECT 1 AS ok')).rows[0].ok).toBe(1);
  });
});
