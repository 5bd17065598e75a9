/**
 * plan checks the server's lock table against what the run's transactions hold at once
 * (issue 12, point 4: at 50,000 tenants nothing may fail mid-run with "out of shared memory").
 * The server's own settings are read back here and the check is fed a concurrency on each side
 * of its capacity: the tool's verdict must follow the server's arithmetic.
 */
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateManyTenants } from '../fixtures/bulk.js';
import { loadConfig } from '../src/config/load.js';
import { planCommand } from '../src/commands/plan.js';
import { silentLogger } from '../src/log.js';
import { lockTableProblems } from '../src/preflight/lockTable.js';
import type { Plan } from '../src/plan/model.js';
import { createTestDatabase } from './support/db.js';
import { withClient } from './support/client.js';

describe('LOCK_TABLE_TOO_SMALL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let plan: Plan;
  let capacity: number;
  beforeAll(async () => {
    db = await createTestDatabase('locks');
    await generateManyTenants(db.url, { tenants: 30, tables: 2, rows: 3 });
    plan = (await planCommand(loadConfig({ source: db.url }, {}, os.tmpdir()), silentLogger())).plan;
    const [s] = await withClient(
      db.url,
      async (c) =>
        (
          await c.query<{ cap: number }>(
            `SELECT current_setting('max_locks_per_transaction')::int * (current_setting('max_connections')::int + current_setting('max_prepared_transactions')::int) AS cap`,
          )
        ).rows,
    );
    capacity = s.cap;
  }, 60_000);
  afterAll(async () => db?.drop());

  it('a plan whose batches fit in the lock table has no such problem', async () => {
    expect(plan.problems.map((p) => p.code)).not.toContain('LOCK_TABLE_TOO_SMALL');
    expect(await withClient(db.url, (c) => lockTableProblems(c, plan, 1))).toEqual([]);
  });

  it('more locks than the table holds: blocking, with the settings and what to raise; more than half: a warning', async () => {
    // 30 tenants in one batch × (table, key, 2 TOAST relations; t2 also its foreign key's index) + the target's.
    const per = Math.max(...plan.tables.map((t) => 1 + (t.primaryKey ? 1 : 0) + t.uniques.length + t.indexes.length + 2));
    const perTransaction = 30 * per + per;
    const over = Math.floor(capacity / perTransaction) + 1;
    const [err] = await withClient(db.url, (c) => lockTableProblems(c, plan, over));
    expect(err.severity).toBe('error');
    expect(err.message).toContain(`about ${over * perTransaction} locks at once`);
    expect(err.message).toContain(`room for ${capacity} locks in all`);
    expect(err.message).toContain('out of shared memory');
    expect(err.hint).toMatch(/raise max_locks_per_transaction to \d+ \(needs a server restart\), or run with a lower --concurrency/);
    const half = Math.floor(capacity / perTransaction);
    if (half * perTransaction > capacity / 2) {
      const [warn] = await withClient(db.url, (c) => lockTableProblems(c, plan, half));
      expect(warn.severity).toBe('warning');
    }
    expect(await withClient(db.url, (c) => lockTableProblems(c, plan, Math.floor(capacity / 2 / perTransaction)))).toEqual([]);
  });
});
