/**
 * Next to a live application (SPEC §2 revert, §4 "Locks on live tables"):
 * revert refuses to throw away writes made after the run completed; DDL never
 * queues indefinitely behind a session holding a table lock; run and revert
 * say which server and database they are about to change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase } from '../support/db.js';
import { generateFixture, type FixtureInfo } from '../../fixtures/generate.js';
import { fingerprint, parseJson, runCli, show, sql } from '../support/cli.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop();
});

async function migrated(): Promise<{ db: Db; info: FixtureInfo; before: string[] }> {
  const db = await createTestDatabase('live');
  dbs.push(db);
  const info = await generateFixture(db.url, { tenants: 3, rowsPerTable: 15, preexistingUnified: true });
  const before = await fingerprint(db.url, { exclude: ['oasys_migrate'] });
  const r = await runCli(['run', '--source', db.url, '--json']);
  expect(r.code, show(r)).toBe(0);
  return { db, info, before };
}

describe('revert after the application wrote to the unified tables', () => {
  let db: Db;
  let info: FixtureInfo;
  let before: string[];
  beforeAll(async () => {
    ({ db, info, before } = await migrated());
  });

  it('an insert, an update and a delete after the run → revert exits 1, names each table and its counts, changes nothing', async () => {
    const [acme, globex] = info.tenants;
    // Rolled-back writes leave no row behind and do not count (the counts below prove it).
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query('BEGIN');
    await c.query(`INSERT INTO public.audit_log SELECT * FROM public.audit_log LIMIT 5`);
    await c.query(`DELETE FROM public.accounts_transaction`);
    await c.query('ROLLBACK');
    await c.end();
    await sql(db.url, `INSERT INTO public.audit_log SELECT * FROM public.audit_log WHERE tenant_id = $1 LIMIT 2`, [acme.id]);
    await sql(db.url, `UPDATE public.accounts_account SET active = NOT active WHERE tenant_id = $1 AND id = 2`, [globex.id]);
    await sql(db.url, `DELETE FROM public."LedgerEntry" WHERE tenant_id = $1 AND id = 4`, [acme.id]);
    const mid = await fingerprint(db.url, { exclude: ['oasys_migrate'] });
    const r = await runCli(['revert', '--source', db.url, '--yes']);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain('revert refused');
    expect(r.stderr).toMatch(/"public"\."audit_log" \(2 rows inserted or updated, 0 deleted or replaced\)/);
    expect(r.stderr).toMatch(/"public"\."accounts_account" \(1 row inserted or updated, 1 deleted or replaced\)/);
    expect(r.stderr).toMatch(/"public"\."LedgerEntry" \(0 rows inserted or updated, 1 deleted or replaced\)/);
    expect(r.stderr).toContain('--discard-writes');
    expect(r.stderr).not.toMatch(/accounts_transaction|accounts_membership/);
    // Nothing changed: the unified tables and the journal are as they were.
    expect(await fingerprint(db.url, { exclude: ['oasys_migrate'] })).toEqual(mid);
    const [run] = await sql<{ state: string }>(db.url, `SELECT state FROM oasys_migrate.run ORDER BY run_id DESC LIMIT 1`);
    expect(run.state).toBe('completed');
  });

  it('--discard-writes reverts exactly to the state before the run, and says what it discarded', async () => {
    const r = await runCli(['revert', '--source', db.url, '--yes', '--discard-writes', '--json']);
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson<{ reverted: boolean; discardedWrites: { table: string }[]; target: { database: string; inPlace: boolean } }>(r);
    expect(doc.reverted).toBe(true);
    expect(doc.discardedWrites.map((w) => w.table).sort()).toEqual(['"public"."LedgerEntry"', '"public"."accounts_account"', '"public"."audit_log"']);
    expect(doc.target).toMatchObject({ database: db.name, inPlace: true });
    expect(r.stderr).toContain(`revert of run #1 writes to database "${db.name}"`);
    expect(await fingerprint(db.url, { exclude: ['oasys_migrate'] })).toEqual(before);
  });
});

describe('a session holding a lock on a table run must alter', () => {
  it('run waits at most --lock-timeout per attempt, then exits 3 naming the blocking session; run again after it lets go → done', async () => {
    const db = await createTestDatabase('livelock');
    dbs.push(db);
    const info = await generateFixture(db.url, { tenants: 2, rowsPerTable: 10, preexistingUnified: true });
    // The application holds a lock on the pre-existing unified table (an open transaction that wrote to it).
    const app = new pg.Client({ connectionString: db.url, application_name: 'the-app' });
    await app.connect();
    try {
      await app.query('BEGIN');
      await app.query('LOCK TABLE public.accounts_membership IN SHARE ROW EXCLUSIVE MODE');
      const pid = (await app.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const t0 = performance.now();
      const r = await runCli(['run', '--source', db.url, '--lock-timeout', '300ms'], { timeoutMs: 60_000 });
      const seconds = (performance.now() - t0) / 1000;
      expect(r.code, show(r)).toBe(3);
      expect(r.stderr).toContain(`pid ${pid}`);
      expect(r.stderr).toContain('application "the-app"');
      expect(r.stderr).toMatch(/waited 3 × 300 ms for a table lock/);
      expect(r.stderr).toContain('--lock-timeout');
      expect(seconds).toBeLessThan(30);
      expect(r.stderr).toContain(`run writes to database "${db.name}"`);
    } finally {
      await app.query('ROLLBACK').catch(() => undefined);
      await app.end();
    }
    const again = await runCli(['run', '--source', db.url, '--json']);
    expect(again.code, show(again)).toBe(0);
    const n = await sql<{ n: number }>(db.url, 'SELECT count(*)::int AS n FROM public.accounts_transaction');
    expect(n[0].n).toBe(20);
    void info;
  });
});
