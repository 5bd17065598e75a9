/**
 * Online mode (issue 14): `run --online` copies under a replication slot's snapshot while the
 * application writes, applies the changes; `cutover` stops at a fence. The result is checked
 * against the source with the suite's own per-tenant hashes (test/support/cli.ts), and
 * pg_replication_slots is checked after every ending: cut-over, revert, a failed run.
 * Runs as the owner role (NOSUPERUSER NOBYPASSRLS) with REPLICATION.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { adminUrl, createTestDatabase } from '../support/db.js';
import { runnerUrl } from '../support/roles.js';
import { generateFixture, type FixtureInfo } from '../../fixtures/generate.js';
import { compareAll, copyProgress, qi, runCli, show, sql, startCli, waitFor } from '../support/cli.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
});

interface Setup {
  source: string;
  target: string;
  args: string[];
  info: FixtureInfo;
  role: string;
}

/** `run` refuses to go on with the online run (saying why and to revert), drops its slot, and revert leaves none. */
async function refusedThenReverted(s: Setup, reason: string): Promise<void> {
  const again = await runCli(['run', ...s.args]);
  expect(again.code, show(again)).toBe(1);
  expect(again.stderr).toContain(reason);
  expect(again.stderr).toContain('oasys-migrate revert');
  expect(await slots(s.source)).toEqual([]);
  const rv = await runCli(['revert', '--yes', ...s.args]);
  expect(rv.code, show(rv)).toBe(0);
  expect(await slots(s.source)).toEqual([]);
}

async function setup(prefix: string, opts: { separate?: boolean; replication?: boolean; rows?: number } = {}): Promise<Setup> {
  const db: Db = await createTestDatabase(prefix);
  const owner = await runnerUrl(adminUrl(), db.name, db.url, 'owner');
  cleanup.push(owner.drop, db.drop);
  if (opts.replication !== false) await sql(adminUrl(), `ALTER ROLE ${qi(owner.role!)} REPLICATION`);
  const info = await generateFixture(owner.url, { tenants: 3, rowsPerTable: opts.rows ?? 40 });
  let target = owner.url;
  if (opts.separate) {
    const t = await createTestDatabase(`${prefix}t`);
    const towner = await runnerUrl(adminUrl(), t.name, t.url, 'owner');
    cleanup.push(towner.drop, t.drop);
    target = towner.url;
  }
  return { source: owner.url, target, args: ['--source', owner.url, ...(opts.separate ? ['--target', target] : [])], info, role: owner.role! };
}

const slots = async (url: string) =>
  (await sql<{ slot_name: string }>(url, `SELECT slot_name FROM pg_replication_slots WHERE database = current_database()`)).map((r) => r.slot_name);
const online = async (url: string) =>
  (
    await sql<{ applied: string | null; changes: number; fence: string | null; fence_applied: boolean }>(
      url,
      `SELECT applied_lsn::text AS applied, changes_applied::int AS changes, fence_lsn::text AS fence, fence_applied FROM oasys_migrate.online ORDER BY run_id DESC LIMIT 1`,
    )
  )[0];

/** A big value that stays out of line (TOASTed, incompressible): an UPDATE of another column decodes it as unchanged. */
const BIG = `(SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 150) g)`;

/**
 * The application: inserts, updates (also of a TOASTed row's other column), deletes, rows of the
 * table without a key, and transactions spanning tenants — until stopped.
 */
function writer(s: Setup): { stop: () => Promise<number> } {
  let stopping = false;
  let n = 0;
  const tenants = s.info.tenants.map((t) => t.schema);
  const run = (async () => {
    const pg = (await import('pg')).default;
    const c = new pg.Client(s.source);
    await c.connect();
    try {
      while (!stopping) {
        const t = tenants[n % tenants.length];
        const other = tenants[(n + 1) % tenants.length];
        const L = qi(t, 'LedgerEntry');
        switch (n % 7) {
          case 0:
            await c.query(`INSERT INTO ${L} ("Amount", "Note", "order") VALUES ($1, $2, $3)`, [n, `it's row ${n}`, n]);
            break;
          case 1:
            await c.query(`UPDATE ${L} SET "Note" = ${BIG} WHERE id = (SELECT min(id) FROM ${L})`);
            break;
          case 2:
            await c.query(`UPDATE ${L} SET "Amount" = "Amount" + 1 WHERE id = (SELECT min(id) FROM ${L})`);
            break;
          case 3:
            await c.query(`DELETE FROM ${L} WHERE id = (SELECT max(id) FROM ${L} WHERE id % 5 = 3)`);
            break;
          case 4:
            await c.query(`INSERT INTO ${qi(t, 'audit_log')} VALUES (now(), $1, '{"k": "v"}')`, [`actor ${n}`]);
            break;
          case 5:
            await c.query('BEGIN');
            await c.query(`UPDATE ${qi(t, 'accounts_account')} SET name = $1, tags = '{"a b",NULL}' WHERE id = 2`, [`renamed "${n}"`]);
            await c.query(`INSERT INTO ${qi(other, 'LedgerEntry')} ("Amount", "Note") VALUES (NULL, NULL)`);
            await c.query('COMMIT');
            break;
          case 6:
            await c.query(`UPDATE ${qi(t, 'accounts_account')} SET meta = $1::jsonb, photo = '\\x00ff' WHERE id = 3`, [JSON.stringify({ n, q: "it's" })]);
            break;
        }
        n++;
        await new Promise((r) => setTimeout(r, 2));
      }
    } finally {
      await c.end();
    }
  })();
  return {
    async stop() {
      stopping = true;
      await run;
      return n;
    },
  };
}

/** Holds a row lock (FOR UPDATE) until released: a writer of that row waits. */
async function holdRowLock(url: string, select: string): Promise<{ release: () => Promise<void> }> {
  const pg = (await import('pg')).default;
  const c = new pg.Client(url);
  c.on('error', () => undefined);
  await c.connect();
  await c.query('BEGIN');
  const r = await c.query(select);
  expect(r.rowCount, select).toBe(1);
  return {
    async release() {
      await c.query('COMMIT').catch(() => undefined);
      await c.end().catch(() => undefined);
    },
  };
}

/** The same database as the server's superuser: the oracle reads every tenant's rows past the FORCEd policy. */
function asAdmin(url: string): string {
  const u = new URL(adminUrl());
  u.pathname = new URL(url).pathname;
  return u.toString();
}

async function exact(s: Setup): Promise<void> {
  const r = await compareAll(asAdmin(s.source), asAdmin(s.target), s.info.tenants);
  expect(r.mismatches).toEqual([]);
}

for (const mode of ['in place', 'separate target'] as const) {
  describe(`run --online, then cutover (${mode})`, () => {
    it('copies while the application writes, follows, cuts over exactly; no slot is left', async () => {
      const s = await setup('onl', { separate: mode === 'separate target', rows: 200 });
      const w = writer(s);
      const run = await runCli(['run', '--online', ...s.args, '--json'], { timeoutMs: 90_000 });
      expect(run.code, show(run)).toBe(0);
      const doc = JSON.parse(run.stdout) as { online: { slot: string } };
      expect(doc.online.slot).toMatch(/^oasys_migrate_1_\d+$/);
      expect(await slots(s.source)).toEqual([doc.online.slot]);
      // Following: more writes, a TRUNCATE of one tenant's table, and the lag in status.
      await new Promise((r) => setTimeout(r, 500));
      await sql(s.source, `TRUNCATE ${qi(s.info.tenants[2].schema, 'accounts_membership')}`);
      const st = await runCli(['status', ...s.args, '--json']);
      expect(st.code, show(st)).toBe(0);
      const sdoc = JSON.parse(st.stdout) as { runs: { state: string }[]; online: { slotPresent: boolean; lagBytes: number } };
      expect(sdoc.runs.at(-1)!.state).toBe('following');
      expect(sdoc.online.slotPresent).toBe(true);
      expect(sdoc.online.lagBytes).toBeGreaterThan(0);
      const written = await w.stop();
      expect(written).toBeGreaterThan(50);
      const cut = await runCli(['cutover', '--yes', ...s.args, '--json'], { timeoutMs: 90_000 });
      expect(cut.code, show(cut)).toBe(0);
      const c = JSON.parse(cut.stdout) as { changesApplied: number; downtimeSeconds: number; tenantsVerified: string[]; verify: { ok: boolean } };
      expect(c.changesApplied).toBeGreaterThan(20);
      expect(c.tenantsVerified).toHaveLength(3);
      expect(c.verify.ok).toBe(true);
      expect(c.downtimeSeconds).toBeLessThan(30);
      expect(await slots(s.source)).toEqual([]);
      await exact(s);
      const runs = await sql<{ state: string }>(s.target, `SELECT state FROM oasys_migrate.run`);
      expect(runs).toEqual([{ state: 'completed' }]);
      // Sequences moved past what the follow inserted: the next insert into the unified table does not collide.
      const [seq] = await sql<{ last: string; max: string }>(
        asAdmin(s.target),
        `SELECT pg_sequence_last_value(pg_get_serial_sequence('public."LedgerEntry"', 'id')::regclass)::int8 AS last, (SELECT max(id) FROM public."LedgerEntry")::int8 AS max`,
      );
      expect(Number(seq.last)).toBeGreaterThanOrEqual(Number(seq.max));
    });
  });
}

describe('online mode: kill -9, failures, revert', () => {
  it('kill -9 during the follow and during the cut-over: cutover again resumes, exact, no slot left', { timeout: 150_000 }, async () => {
    const s = await setup('onk');
    const run = await runCli(['run', '--online', ...s.args], { timeoutMs: 90_000 });
    expect(run.code, show(run)).toBe(0);
    const [a, b] = s.info.tenants;
    // 60 source transactions of 100 changes each, then one that touches a table held locked below.
    for (let i = 0; i < 60; i++) {
      await sql(s.source, `INSERT INTO ${qi(a.schema, 'LedgerEntry')} ("Amount", "Note") SELECT g, 'bulk ' || g FROM generate_series(1, 100) g`);
    }
    await sql(s.source, `UPDATE ${qi(b.schema, 'accounts_account')} SET name = 'after the lock' WHERE id = 1`);
    for (let i = 0; i < 5; i++) await sql(s.source, `UPDATE ${qi(a.schema, 'LedgerEntry')} SET "Amount" = -1 WHERE id % 7 = ${i}`);
    // A row lock on the target row that change updates: the follower waits there (catalog reads do not).
    const lock = await holdRowLock(asAdmin(s.target), `SELECT 1 FROM public.accounts_account WHERE tenant_id = ${Number(b.id)} AND id = 1 FOR UPDATE`);
    // `run` on a following run catches up again (the operator's way to keep the lag small).
    const first = startCli(['run', ...s.args], { timeoutMs: 90_000 });
    try {
      // Batches before the locked row's change commit; the one with it waits: kill the follower there.
      const progressed = await waitFor(async () => ((await online(s.target))!.changes > 0 ? true : undefined), 60_000);
      expect(progressed, 'the follower applied a first batch').toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      first.child.kill('SIGKILL');
      const r1 = await first.done;
      expect(r1.signal).toBe('SIGKILL');
    } finally {
      await lock.release();
    }
    const mid = (await online(s.target))!;
    expect(mid.changes).toBeGreaterThan(0);
    expect(mid.changes).toBeLessThan(6000);
    expect(mid.fence).toBeNull();
    expect(await slots(s.source)).toEqual([expect.stringMatching(/^oasys_migrate_1_\d+$/)]);

    // Second attempt: killed during the cut-over, after the fence was applied, while the frozen
    // table (audit_log, no key) is copied again (held by a row lock on it).
    await sql(s.source, `INSERT INTO ${qi(a.schema, 'audit_log')} VALUES (now(), 'during the follow', NULL)`);
    const lock2 = await holdRowLock(asAdmin(s.target), `SELECT 1 FROM public.audit_log WHERE tenant_id = ${Number(a.id)} LIMIT 1 FOR UPDATE`);
    const second = startCli(['cutover', '--yes', ...s.args], { timeoutMs: 90_000 });
    try {
      const fenced = await waitFor(async () => ((await online(s.target))!.fence_applied ? true : undefined), 60_000);
      expect(fenced, 'the fence was applied').toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      second.child.kill('SIGKILL');
      expect((await second.done).signal).toBe('SIGKILL');
    } finally {
      await lock2.release();
    }
    expect((await sql(s.target, `SELECT state FROM oasys_migrate.run`))[0].state).not.toBe('completed');
    expect(await slots(s.source)).toEqual([expect.stringMatching(/^oasys_migrate_1_\d+$/)]);

    const third = await runCli(['cutover', '--yes', ...s.args], { timeoutMs: 90_000 });
    expect(third.code, show(third)).toBe(0);
    expect(third.stdout).toContain('cut over');
    expect(await slots(s.source)).toEqual([]);
    await exact(s);
    // No change applied twice: the unified table has exactly the source's rows (exact() compares counts and hashes).
    const again = await runCli(['cutover', '--yes', ...s.args]);
    expect(again.code, show(again)).toBe(0);
    expect(again.stdout).toContain('already cut over');
  });

  it('DDL on a tenant table during the follow stops the cut-over with a clear message and drops the slot; revert leaves nothing', async () => {
    const s = await setup('ond');
    const run = await runCli(['run', '--online', ...s.args], { timeoutMs: 90_000 });
    expect(run.code, show(run)).toBe(0);
    await sql(s.source, `ALTER TABLE ${qi(s.info.tenants[0].schema, 'LedgerEntry')} ADD COLUMN extra int`);
    await sql(s.source, `INSERT INTO ${qi(s.info.tenants[0].schema, 'LedgerEntry')} ("Amount", extra) VALUES (1, 2)`);
    const cut = await runCli(['cutover', '--yes', ...s.args]);
    expect(cut.code, show(cut)).toBe(1);
    expect(cut.stderr).toMatch(/the source changed since online run #1 started|definition changed on the source during the online run/);
    expect(cut.stderr).toContain('oasys-migrate revert');
    expect(await slots(s.source)).toEqual([]);
    const rv = await runCli(['revert', '--yes', ...s.args]);
    expect(rv.code, show(rv)).toBe(0);
    expect(await slots(s.source)).toEqual([]);
  });

  it('separate target: a write to a shared table the run copied stops the follow with a clear message, drops the slot; plan --online warns', async () => {
    const s = await setup('ons', { separate: true });
    const plan = await runCli(['plan', '--online', '--json', ...s.args]);
    expect(plan.code, show(plan)).toBe(0);
    const shared = (JSON.parse(plan.stdout) as { problems: { code: string; message: string }[] }).problems.find((p) => p.code === 'ONLINE_SHARED');
    expect(shared?.message).toContain('public.customers_client');
    const run = await runCli(['run', '--online', ...s.args], { timeoutMs: 90_000 });
    expect(run.code, show(run)).toBe(0);
    expect(await slots(s.source)).toHaveLength(1);
    await sql(s.source, `UPDATE public.customers_client SET name = name || ' (renamed)' WHERE id = $1`, [Number(s.info.tenants[0].id)]);
    await refusedThenReverted(s, 'shared table public.customers_client');
  });

  it('a new tenant schema during the follow stops the cut-over with a clear message and drops the slot', async () => {
    const s = await setup('onn');
    const run = await runCli(['run', '--online', ...s.args], { timeoutMs: 90_000 });
    expect(run.code, show(run)).toBe(0);
    // A tenant signs up while the run follows: its schema, its tables, its registry row.
    const first = s.info.tenants[0].schema;
    const tables = await sql<{ t: string }>(s.source, `SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1`, [first]);
    await sql(s.source, `CREATE SCHEMA newcomer`);
    for (const { t } of tables) await sql(s.source, `CREATE TABLE ${qi('newcomer', t)} (LIKE ${qi(first, t)} INCLUDING ALL)`);
    await sql(s.source, `INSERT INTO public.customers_client (schema_name, name, created_on) VALUES ('newcomer', 'Newcomer', now())`);
    const cut = await runCli(['cutover', '--yes', ...s.args]);
    expect(cut.code, show(cut)).toBe(1);
    expect(cut.stderr).toContain('a tenant schema was added or removed');
    expect(cut.stderr).toContain('oasys-migrate revert');
    expect(await slots(s.source)).toEqual([]);
  });

  it('kill -9 during the copy: the snapshot is gone, so `run` refuses to resume, drops the slot, and revert leaves nothing', async () => {
    const s = await setup('onc', { rows: 10_000 });
    const run = startCli(['run', '--online', ...s.args], { timeoutMs: 90_000 });
    // Killed as soon as some copies are done and others are not (tables of 10,000 rows: a wide window).
    const half = await waitFor(
      async () => {
        const p = await copyProgress(s.source).catch(() => undefined);
        return p && p.done >= 1 && p.done < p.total ? p : undefined;
      },
      60_000,
      5,
    );
    run.child.kill('SIGKILL');
    expect((await run.done).signal).toBe('SIGKILL');
    expect(half, 'killed half-way through the copy').toBeTruthy();
    expect(await slots(s.source)).toEqual([expect.stringMatching(/^oasys_migrate_1_\d+$/)]);
    await refusedThenReverted(s, 'stopped during its copy');
  });

  it('revert of a following run drops its slot', async () => {
    const s = await setup('onr');
    const run = await runCli(['run', '--online', ...s.args], { timeoutMs: 90_000 });
    expect(run.code, show(run)).toBe(0);
    expect(await slots(s.source)).toEqual([expect.stringMatching(/^oasys_migrate_1_\d+$/)]);
    const rv = await runCli(['revert', '--yes', ...s.args]);
    expect(rv.code, show(rv)).toBe(0);
    expect(rv.stdout).toMatch(/dropped the replication slot oasys_migrate_1_\d+ on the source/);
    expect(await slots(s.source)).toEqual([]);
    const tables = await sql(s.source, `SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'LedgerEntry'`);
    expect(tables).toHaveLength(0);
  });

  it('plan --online names the missing REPLICATION attribute and the frozen table; run --online is refused and leaves no slot', async () => {
    const s = await setup('onp', { replication: false });
    const plan = await runCli(['plan', '--online', ...s.args, '--json']);
    expect(plan.code, show(plan)).toBe(1);
    const doc = JSON.parse(plan.stdout) as { problems: { code: string; severity: string; table?: string; message: string }[] };
    const pre = doc.problems.filter((p) => p.code === 'ONLINE_PREREQUISITE');
    expect(pre).toHaveLength(1);
    expect(pre[0].message).toContain(`role "${s.role}" lacks the REPLICATION attribute`);
    expect(doc.problems.filter((p) => p.code === 'ONLINE_FROZEN').map((p) => p.table)).toEqual(['audit_log']);
    expect(doc.problems.some((p) => p.code === 'ONLINE_FOOTPRINT')).toBe(true);
    const run = await runCli(['run', '--online', ...s.args]);
    expect(run.code, show(run)).toBe(1);
    expect(run.stderr).toContain('ONLINE_PREREQUISITE');
    expect(await slots(s.source)).toEqual([]);
  });
});

describe('online apply: changes of a source transaction applied in batches', () => {
  it('insert then delete of one row, key updates, many rows and many tenants in one transaction: exact after the cut-over', async () => {
    const s = await setup('onb');
    const run = await runCli(['run', '--online', ...s.args], { timeoutMs: 90_000 });
    expect(run.code, show(run)).toBe(0);
    const [a, b, c] = s.info.tenants.map((t) => qi(t.schema, 'LedgerEntry'));
    // One source transaction: runs of inserts, updates and deletes of one table interleaved, a
    // key freed by a key update and taken again, a row inserted then deleted, and every tenant.
    await sql(
      s.source,
      `BEGIN;
       INSERT INTO ${a} (id, "Amount", "Note") VALUES (900001, 1, 'one'), (900002, 2, 'two, "quoted"'), (900003, 3, E'back\\\\slash {x}'), (900004, 4, NULL);
       DELETE FROM ${a} WHERE id = 900002;
       UPDATE ${a} SET "Note" = 'three updated' WHERE id = 900003;
       UPDATE ${a} SET id = 900005 WHERE id = 900001;
       INSERT INTO ${a} (id, "Amount", "Note") VALUES (900001, 11, 'the freed key again');
       UPDATE ${a} SET "Amount" = "Amount" * 2 WHERE id % 3 = 0;
       UPDATE ${a} SET "Amount" = "Amount" + 1 WHERE id % 3 = 0;
       DELETE FROM ${a} WHERE id = 900004;
       DELETE FROM ${b} WHERE id % 5 = 1;
       UPDATE ${b} SET "Note" = 'b' || id WHERE id % 2 = 0;
       INSERT INTO ${c} ("Amount", "Note") SELECT g, 'c ' || g FROM generate_series(1, 300) g;
       UPDATE ${c} SET id = id + 100000 WHERE id % 7 = 0;
       DELETE FROM ${c} WHERE id % 11 = 0;
       INSERT INTO ${b} (id, "Amount") VALUES (900001, 1);
       COMMIT`,
    );
    // Many tenants in one transaction, one change each, twice over.
    await sql(s.source, `BEGIN; ${[a, b, c, a, b, c].map((t, i) => `INSERT INTO ${t} ("Amount", "Note") VALUES (${i}, 'round ${i}');`).join(' ')} COMMIT`);
    const cut = await runCli(['cutover', '--yes', ...s.args, '--json'], { timeoutMs: 90_000 });
    expect(cut.code, show(cut)).toBe(0);
    const doc = JSON.parse(cut.stdout) as {
      changesApplied: number;
      verify: { ok: boolean; results: { tenant: string; table: string }[] };
      pairsVerified: number;
      downtime: Record<string, number>;
    };
    expect(doc.verify.ok).toBe(true);
    expect(doc.changesApplied).toBeGreaterThan(300);
    // Only the pairs that changed are verified: LedgerEntry of the three tenants, and the frozen
    // table (copied again at the cut-over) of each; not their accounts_* tables.
    expect(doc.pairsVerified).toBe(6);
    expect([...new Set(doc.verify.results.map((r) => r.table))].sort()).toEqual(['LedgerEntry', 'audit_log']);
    expect(Object.keys(doc.downtime)).toEqual(['fence', 'frozen', 'sequences', 'verify', 'definitions', 'finish']);
    await exact(s);
    // The row inserted then deleted is not there; the freed key holds the row inserted after the key update.
    const rows = await sql<{ id: number; note: string | null }>(
      asAdmin(s.target),
      `SELECT id, "Note" AS note FROM public."LedgerEntry" WHERE tenant_id = $1 AND id > 900000 ORDER BY id`,
      [Number(s.info.tenants[0].id)],
    );
    expect(rows).toEqual([
      { id: 900001, note: 'the freed key again' },
      { id: 900003, note: 'three updated' },
      { id: 900005, note: 'one' },
    ]);
  });

  it('an UPDATE of a row the unified table does not have stops the cut-over, naming the row, and drops the slot', async () => {
    const s = await setup('onx');
    const run = await runCli(['run', '--online', ...s.args], { timeoutMs: 90_000 });
    expect(run.code, show(run)).toBe(0);
    const t = s.info.tenants[1];
    // The target diverges: one row of the tenant is gone there (something else wrote to the unified table).
    await sql(asAdmin(s.target), `DELETE FROM public."LedgerEntry" WHERE tenant_id = $1 AND id = 5`, [Number(t.id)]);
    // One statement updating three rows: applied as one batch, of which the middle row hits nothing.
    await sql(s.source, `UPDATE ${qi(t.schema, 'LedgerEntry')} SET "Amount" = 7 WHERE id IN (4, 5, 6)`);
    const cut = await runCli(['cutover', '--yes', ...s.args]);
    expect(cut.code, show(cut)).toBe(1);
    expect(cut.stderr).toContain(`tenant "${t.schema}" table LedgerEntry: the source updated the row with id = 5, which the unified table does not have`);
    expect(cut.stderr).toContain('oasys-migrate revert');
    expect(await slots(s.source)).toEqual([]);
    // Nothing of that batch was kept: rows 4 and 6 still have their copied values.
    const [src] = await sql<{ n: string }>(
      asAdmin(s.target),
      `SELECT count(*) AS n FROM public."LedgerEntry" WHERE tenant_id = $1 AND id IN (4, 6) AND "Amount" = 7`,
      [Number(t.id)],
    );
    expect(Number(src.n)).toBe(0);
  });
});

describe('online cut-over: verification moved before the stop', () => {
  const start = async (prefix: string) => {
    const s = await setup(prefix);
    const run = await runCli(['run', '--online', ...s.args], { timeoutMs: 90_000 });
    expect(run.code, show(run)).toBe(0);
    const [a, b] = s.info.tenants;
    await sql(s.source, `UPDATE ${qi(a.schema, 'LedgerEntry')} SET "Amount" = 1 WHERE id = 2`);
    await sql(s.source, `UPDATE ${qi(b.schema, 'accounts_account')} SET name = 'before the stop' WHERE id = 1`);
    // `run` on a following run catches up, then verifies the two changed pairs while writes go on.
    const again = await runCli(['run', ...s.args]);
    expect(again.code, show(again)).toBe(0);
    expect(again.stderr + again.stdout).toContain('verifying 2 changed tenant tables while the application still writes');
    return { s, a, b };
  };

  it('the cut-over verifies only the pairs changed after that, and the frozen tables', async () => {
    const { s, a } = await start('onv');
    await sql(s.source, `UPDATE ${qi(a.schema, 'LedgerEntry')} SET "Amount" = 2 WHERE id = 3`);
    const cut = await runCli(['cutover', '--yes', ...s.args, '--json'], { timeoutMs: 90_000 });
    expect(cut.code, show(cut)).toBe(0);
    const doc = JSON.parse(cut.stdout) as {
      pairsVerified: number;
      pairsVerifiedBefore: number;
      verify: { ok: boolean; results: { tenant: string; table: string }[] };
    };
    expect(doc.verify.ok).toBe(true);
    // accounts_account of b was equal before the stop and not changed since; LedgerEntry of a changed again.
    expect(doc.pairsVerifiedBefore).toBe(1);
    expect(doc.verify.results.map((r) => `${r.tenant}.${r.table}`).sort()).toEqual(
      [`${a.schema}.LedgerEntry`, `${a.schema}.audit_log`, `${s.info.tenants[1].schema}.audit_log`].sort(),
    );
    expect(doc.pairsVerified).toBe(3);
    await exact(s);
  });

  it('a pair changed after it is verified again at the stop: a divergence there is found', async () => {
    const { s, a } = await start('onw');
    // The target diverges in a row the source does not touch, then the source changes that pair.
    await sql(asAdmin(s.target), `UPDATE public."LedgerEntry" SET "Note" = 'tampered' WHERE tenant_id = $1 AND id = 5`, [Number(a.id)]);
    await sql(s.source, `UPDATE ${qi(a.schema, 'LedgerEntry')} SET "Amount" = 2 WHERE id = 3`);
    const cut = await runCli(['cutover', '--yes', ...s.args]);
    expect(cut.code, show(cut)).toBe(1);
    expect(cut.stderr).toContain(`verification found 1 mismatch, e.g. tenant "${a.schema}" table LedgerEntry`);
    expect(await slots(s.source)).toEqual([]);
  });
});

describe('online state journaled by the version before the (tenant, table) pairs', () => {
  it('cutover verifies every table of the changed tenants, exactly', async () => {
    const s = await setup('onu');
    const run = await runCli(['run', '--online', ...s.args], { timeoutMs: 90_000 });
    expect(run.code, show(run)).toBe(0);
    const a = s.info.tenants[0];
    await sql(s.source, `UPDATE ${qi(a.schema, 'LedgerEntry')} SET "Amount" = 1 WHERE id = 2`);
    const again = await runCli(['run', ...s.args]);
    expect(again.code, show(again)).toBe(0);
    // As an earlier version left it: changes applied, no pair columns.
    await sql(
      s.target,
      `ALTER TABLE oasys_migrate.online DROP COLUMN pairs_changed, DROP COLUMN pair_lsns, DROP COLUMN preverified_lsn, DROP COLUMN preverified_pairs`,
    );
    await sql(s.source, `UPDATE ${qi(a.schema, 'LedgerEntry')} SET "Amount" = 2 WHERE id = 3`);
    const cut = await runCli(['cutover', '--yes', ...s.args, '--json'], { timeoutMs: 90_000 });
    expect(cut.code, show(cut)).toBe(0);
    const doc = JSON.parse(cut.stdout) as { pairsVerified: number; pairsVerifiedBefore: number; verify: { ok: boolean; results: { tenant: string }[] } };
    expect(doc.verify.ok).toBe(true);
    expect(doc.pairsVerifiedBefore).toBe(0);
    expect(new Set(doc.verify.results.map((r) => r.tenant))).toEqual(new Set([a.schema]));
    expect(doc.pairsVerified).toBeGreaterThanOrEqual(4);
    await exact(s);
  });
});
