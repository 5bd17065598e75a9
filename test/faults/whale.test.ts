/**
 * Whale tables (issue 12): a tenant table above --chunk-rows is copied in key-range chunks,
 * each its own journaled step `copy:<tenant>:<table>#<n>` that `plan` prints; a kill loses at
 * most the chunks in flight (the chunks done stay done and are not redone); the resumed run
 * converges to an exact, verified migration, and revert still restores the target.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { generateWideTenants } from '../../fixtures/bulk.js';
import { createTestDatabase } from '../support/db.js';
import { dbRegistry, holdTx, latestSteps, lockTable, poll, show, sql, startCli, waitJournal, waitNoToolSessions } from '../support/faults.js';
import { parseJson, runCli } from '../support/cli.js';
import pg from 'pg';
import { loadPlan } from '../../src/state/journal.js';
import { closingVerify } from '../../src/verify/closing.js';

const reg = dbRegistry();
const pools: pg.Pool[] = [];
afterAll(async () => {
  for (const p of pools) await p.end();
  await reg.dropAll();
});

const CHUNK = 6250;

describe('a whale table', () => {
  it('is planned and run in key-range chunks; a kill keeps the chunks done; the resumed run redoes none of them and verifies', async () => {
    const db = reg.add(await createTestDatabase('whale'));
    await generateWideTenants(db.url, { tenants: 2, rows: 20_000, concurrency: 2 });
    await sql(db.url, 'VACUUM ANALYZE');
    const args = ['--source', db.url, '--chunk-rows', String(CHUNK), '--concurrency', '2'];
    const pool = new pg.Pool({ connectionString: db.url, max: 3 });
    pool.on('error', () => undefined); // a connection terminated at teardown (DROP DATABASE … FORCE) is not the test's failure
    pools.push(pool);

    const p = await runCli(['plan', ...args, '--json', '--sql']);
    expect(p.code, show(p)).toBe(0);
    const steps = parseJson<{ steps: { id: string; phase: string; sql: string[] }[] }>(p).steps.filter((s) => s.phase === 'copy');
    const ids = steps.map((s) => s.id).sort();
    // 20,000 rows in chunks aimed at 80 % of 6,250: 4 chunks per tenant, cut at the key's histogram bounds.
    expect(ids).toEqual(['tenant_0001', 'tenant_0002'].flatMap((t) => [1, 2, 3, 4].map((n) => `copy:${t}:orders#${n}`)).sort());
    const second = steps.find((s) => s.id === 'copy:tenant_0001:orders#2')!.sql.join('\n');
    expect(second).toMatch(/WHERE s\."?id"? >= \d+::int8 AND s\."?id"? < \d+::int8/);
    expect(steps.find((s) => s.id === 'copy:tenant_0001:orders#1')!.sql.join('\n')).toMatch(/WHERE s\."?id"? < \d+::int8/);
    expect(steps.find((s) => s.id === 'copy:tenant_0001:orders#4')!.sql.join('\n')).toMatch(/WHERE s\."?id"? >= \d+::int8\)?$/m);

    // One connection: the chunks run one after another. Once the first is done, tenant_0002's source is
    // locked (discovery reads its column defaults, so not before): a later chunk waits on it, and is killed.
    const cli = startCli(['run', ...args.slice(0, -1), '1']);
    const oneDone = await poll(db.url, async (c) => ((await latestSteps(c)) ?? []).some((x) => x.phase === 'copy' && x.state === 'done'));
    expect(oneDone, 'a first chunk is done').toBe(true);
    const held = await holdTx(db.url, [lockTable('tenant_0002', 'orders')]);
    const state = await waitJournal(db.url, (s) => s.some((x) => x.phase === 'copy' && x.state !== 'done'));
    cli.child.kill('SIGKILL');
    const killed = await cli.done;
    expect(state, `a chunk waits on the lock; ${show(killed)}`).toBeDefined();
    await held.release();
    expect(await waitNoToolSessions(db.url)).toBe(true);

    const before = (await latestSteps(db.url))!.filter((s) => s.phase === 'copy');
    const doneBefore = before.filter((s) => s.state === 'done');
    expect(doneBefore.length).toBeGreaterThanOrEqual(1);
    expect(doneBefore.length).toBeLessThan(8);
    // The journal matches the data: the rows in the table are exactly the done chunks' rows.
    const [{ n }] = await sql<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM public.orders');
    expect(n).toBe(doneBefore.reduce((a, s) => a + Number(s.rows), 0));
    const finished = await sql<{ step_id: string; f: string }>(db.url, `SELECT step_id, finished_at::text AS f FROM oasys_migrate.step WHERE state = 'done'`);

    const r = await runCli(['run', ...args, '--json']);
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson<{
      ok: boolean;
      rowsCopied: number;
      results: { tenant: string; table: string; sourceRows: number; targetRows: number; ok: boolean }[];
    }>(r);
    expect(doc.ok).toBe(true);
    expect(doc.results.filter((x) => x.table === 'orders').map((x) => [x.tenant, x.sourceRows, x.targetRows, x.ok])).toEqual([
      ['tenant_0001', 20_000, 20_000, true],
      ['tenant_0002', 20_000, 20_000, true],
    ]);
    // The chunks done before the kill were not redone: same finish time.
    const after = new Map(
      (await sql<{ step_id: string; f: string }>(db.url, `SELECT step_id, finished_at::text AS f FROM oasys_migrate.step WHERE state = 'done'`)).map((x) => [
        x.step_id,
        x.f,
      ]),
    );
    for (const f of finished) expect(after.get(f.step_id), f.step_id).toBe(f.f);
    // Each chunk journaled its own rows, adding up to the table.
    const chunks = await sql<{ step_id: string; rows: number }>(
      db.url,
      `SELECT step_id, rows::int AS rows FROM oasys_migrate.step WHERE phase = 'copy' AND step_id LIKE 'copy:tenant_0002:orders#%' ORDER BY step_id`,
    );
    expect(chunks.length).toBe(4);
    expect(chunks.every((c) => c.rows > 0 && c.rows <= 2 * CHUNK)).toBe(true);
    expect(chunks.reduce((a, c) => a + c.rows, 0)).toBe(20_000);

    const v = await runCli(['verify', '--source', db.url, '--json']);
    expect(v.code, show(v)).toBe(0);

    // The closing verification names the chunk that differs: a value changed in chunk 3's key range.
    const plan = await loadPlan(pool, 1);
    const third = plan.steps.find((s) => s.id === 'copy:tenant_0001:orders#3')!.copy!.range!;
    const id = Number(third.from) + 1;
    const [{ tid }] = await sql<{ tid: string }>(db.url, `SELECT id::text AS tid FROM public.customers_client WHERE schema_name = 'tenant_0001'`);
    const [{ n3 }] = await sql<{ n3: number }>(db.url, `SELECT count(*)::int AS n3 FROM tenant_0001.orders WHERE id >= $1 AND id < $2`, [third.from, third.to]);
    expect(n3).toBeGreaterThan(0);
    await sql(db.url, `UPDATE public.orders SET qty = qty + 1 WHERE tenant_id = $1 AND id = $2`, [tid, id]);
    const closing = await closingVerify({ source: pool, target: pool, plan, runId: 1, concurrency: 2 });
    expect(closing.results.filter((x) => !x.ok).map((x) => [x.tenant, x.table, x.chunks])).toEqual([
      ['tenant_0001', 'orders', [{ chunk: 3, sourceRows: n3, targetRows: n3 }]],
    ]);
    await sql(db.url, `UPDATE public.orders SET qty = qty - 1 WHERE tenant_id = $1 AND id = $2`, [tid, id]);
    // Closed before the revert and the teardown: an idle connection that the database's drop
    // terminates is otherwise an error of the pool that nobody listens to.
    pools.splice(pools.indexOf(pool), 1);
    await pool.end();
    // The test's own write above is a write after the run: revert says so, and discards it when told.
    const rv = await runCli(['revert', '--source', db.url, '--yes', '--discard-writes']);
    expect(rv.code, show(rv)).toBe(0);
    const [{ t }] = await sql<{ t: string | null }>(db.url, `SELECT to_regclass('public.orders')::text AS t`);
    expect(t).toBeNull();
  });
});
