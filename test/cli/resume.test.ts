/**
 * Crash safety from the outside (issue 3 "Done means"; SPEC §4, §5): the real
 * CLI process is killed (SIGKILL) or interrupted (SIGTERM/SIGINT) half-way
 * through the copy, then `run` again must finish with exact data; two
 * concurrent runs: one exits 3 at once naming the holder, the other completes.
 *
 * "Half-way" is made deterministic from outside: the test holds an ACCESS
 * EXCLUSIVE lock on one source table (globex.audit_log), so the copy of that
 * table blocks while the other copy steps finish; the signal is sent once at
 * least one copy step is done, another is not, and a tool session waits on
 * the lock.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/db.js';
import { generateFixture, type FixtureInfo } from '../../fixtures/generate.js';
import {
  FIXTURE_TABLES,
  advisoryLockHolders,
  compareAll,
  compareTenantTable,
  fingerprint,
  holdTableLock,
  parseJson,
  qi,
  runCli,
  show,
  sleep,
  sql,
  startCli,
  tenantSchemas,
  waitFor,
  waitForHalfWayCopy,
  waitNoToolSessions,
  type StatusDoc,
} from '../support/cli.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];
afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop().catch(() => undefined)));
});

const ROWS = 25;

async function fixtureDb(): Promise<{ url: string; info: FixtureInfo; tenantFp: string[] }> {
  const db = await createTestDatabase('cliresume');
  dbs.push(db);
  const info = await generateFixture(db.url, { rowsPerTable: ROWS });
  return { url: db.url, info, tenantFp: await fingerprint(db.url, { only: tenantSchemas(info) }) };
}

/** Every copy step the journal calls done has exactly its rows in the unified table; every other has none. */
async function expectJournalMatchesData(url: string, info: FixtureInfo): Promise<{ done: number; notDone: number }> {
  const st = await runCli(['status', '--json', '--source', url]);
  expect(st.code, show(st)).toBe(0);
  const doc = parseJson<StatusDoc>(st);
  const copySteps = doc.steps.filter((s) => s.tenant !== null && s.table !== null && FIXTURE_TABLES.includes(s.table));
  expect(copySteps.length, `copy steps in status --json: ${JSON.stringify(doc.steps)}`).toBe(info.tenants.length * FIXTURE_TABLES.length);
  let done = 0;
  let notDone = 0;
  const problems: string[] = [];
  for (const s of copySteps) {
    const tenant = info.tenants.find((t) => t.schema === s.tenant);
    expect(tenant, `status names tenant ${s.tenant}`).toBeDefined();
    const exists = (await sql(url, 'SELECT to_regclass($1) AS r', [qi('public', s.table!)]))[0].r !== null;
    const { source, target } = exists
      ? await compareTenantTable(url, url, tenant!.schema, tenant!.id, s.table!)
      : { source: { count: ROWS, hash: '' }, target: { count: 0, hash: '' } };
    if (s.state === 'done') {
      done++;
      if (target.count !== source.count || target.hash !== source.hash)
        problems.push(`${s.tenant}/${s.table}: journal says done (rows ${s.rows}) but unified has ${target.count} of ${source.count} rows / hash differs`);
      if (s.rows !== null && Number(s.rows) !== source.count) problems.push(`${s.tenant}/${s.table}: journal rows ${s.rows} ≠ source ${source.count}`);
    } else {
      notDone++;
      if (target.count !== 0) problems.push(`${s.tenant}/${s.table}: journal says ${s.state} but unified already holds ${target.count} rows of that tenant`);
    }
  }
  expect(problems).toEqual([]);
  return { done, notDone };
}

async function expectExactMigration(url: string, info: FixtureInfo, tenantFp: string[]): Promise<void> {
  const { mismatches, totals } = await compareAll(url, url, info.tenants);
  expect(mismatches).toEqual([]);
  for (const table of FIXTURE_TABLES) {
    const [r] = await sql<{ n: string; nulls: string }>(
      url,
      `SELECT count(*)::text AS n, count(*) FILTER (WHERE tenant_id IS NULL)::text AS nulls FROM ${qi('public', table)}`,
    );
    expect(Number(r.n), `public.${table}: no duplicated or extra rows`).toBe(totals[table]);
    expect(Number(r.nulls)).toBe(0);
  }
  // audit_log has no key: compare the multiplicity of every distinct row per tenant
  for (const t of info.tenants) {
    const [s] = await sql<{ h: string }>(
      url,
      `SELECT md5(string_agg(c::text, ',' ORDER BY r COLLATE "C")) AS h FROM (SELECT ROW(ts, actor, payload)::text AS r, count(*) AS c FROM ${qi(t.schema, 'audit_log')} GROUP BY 1) x`,
    );
    const [u] = await sql<{ h: string }>(
      url,
      `SELECT md5(string_agg(c::text, ',' ORDER BY r COLLATE "C")) AS h FROM (SELECT ROW(ts, actor, payload)::text AS r, count(*) AS c FROM public.audit_log WHERE tenant_id::text = $1 GROUP BY 1) x`,
      [String(t.id)],
    );
    expect(u.h, `${t.schema}: multiplicity of every audit_log row`).toBe(s.h);
  }
  const v = await runCli(['verify', '--source', url]);
  expect(v.code, show(v)).toBe(0);
  expect(await fingerprint(url, { only: tenantSchemas(info) })).toEqual(tenantFp);
}

describe('kill -9 during the copy, then run again', () => {
  it('resumes to exit 0 with exact counts, no duplicates, verify ok', async () => {
    const { url, info, tenantFp } = await fixtureDb();
    const lock = await holdTableLock(url, 'globex', 'audit_log');
    let killedAt: { done: number; total: number } | undefined;
    try {
      const { child, done } = startCli(['run', '--source', url], { timeoutMs: 40_000 });
      killedAt = await waitForHalfWayCopy(url, 25_000);
      child.kill('SIGKILL');
      const r = await done;
      expect(killedAt, `never saw the copy half-way (some copy steps done, one blocked):\n${show(r)}`).toBeDefined();
      expect(r.signal).toBe('SIGKILL');
    } finally {
      await lock.release();
    }
    expect(await waitNoToolSessions(url), 'the killed run’s sessions went away').toBe(true);

    // the state left behind is consistent: done steps have exactly their rows, the others none
    const state = await expectJournalMatchesData(url, info);
    expect(state.done).toBeGreaterThan(0);
    expect(state.notDone).toBeGreaterThan(0);

    const again = await runCli(['run', '--json', '--source', url], { timeoutMs: 40_000 });
    expect(again.code, show(again)).toBe(0);
    const doc = parseJson<{ ok: boolean; results: { ok: boolean }[] }>(again);
    expect(doc.ok).toBe(true);
    await expectExactMigration(url, info, tenantFp);

    const st = parseJson<StatusDoc>(await runCli(['status', '--json', '--source', url]));
    const last = st.runs[st.runs.length - 1];
    expect(last.state, JSON.stringify(st.runs)).toBe('completed');
    expect(
      st.steps.filter((s) => s.state !== 'done'),
      'every step of the resumed run is done',
    ).toEqual([]);
  });
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  describe(`${signal} during the run`, () => {
    it(`exits 130 with a consistent state; run then resumes to exit 0 with exact data`, async () => {
      const { url, info, tenantFp } = await fixtureDb();
      const lock = await holdTableLock(url, 'globex', 'audit_log');
      let r;
      try {
        const { child, done } = startCli(['run', '--source', url], { timeoutMs: 40_000 });
        const p = await waitForHalfWayCopy(url, 25_000);
        expect(p, 'never saw the copy half-way').toBeDefined();
        child.kill(signal);
        // the tool may wait for the step in flight: let it finish by releasing the source lock shortly after
        await sleep(500);
        await lock.release();
        r = await done;
      } finally {
        await lock.release();
      }
      expect(r.code, show(r)).toBe(130);
      expect(r.ms).toBeLessThan(30_000);
      expect(await waitNoToolSessions(url)).toBe(true);
      await expectJournalMatchesData(url, info);
      const st = parseJson<StatusDoc>(await runCli(['status', '--json', '--source', url]));
      expect(st.runs.at(-1)?.state, `an interrupted run is not recorded as running/completed: ${JSON.stringify(st.runs)}`).not.toMatch(/^(running|completed)$/);

      const again = await runCli(['run', '--source', url], { timeoutMs: 40_000 });
      expect(again.code, show(again)).toBe(0);
      await expectExactMigration(url, info, tenantFp);
    });
  });
}

describe('two concurrent runs', () => {
  it('the second (and a revert) exits 3 at once naming the holder’s pid; the first completes with exit 0', async () => {
    const { url, info, tenantFp } = await fixtureDb();
    const lock = await holdTableLock(url, 'globex', 'audit_log');
    let a;
    try {
      const first = startCli(['run', '--source', url], { timeoutMs: 45_000 });
      const holder = await waitFor(async () => {
        const h = await advisoryLockHolders(url);
        const blocked = (await sql(url, `SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'oasys-migrate%' AND wait_event_type = 'Lock'`)).length > 0;
        return h.length > 0 && blocked ? h : undefined;
      }, 25_000);
      expect(holder, 'the first run took the advisory lock and is copying').toBeDefined();

      const b = await runCli(['run', '--source', url], { timeoutMs: 20_000 });
      expect(b.code, show(b)).toBe(3);
      expect(b.ms, 'fails at once, does not wait for the lock').toBeLessThan(10_000);
      expect(b.stderr).toMatch(/pid\D{0,3}\d+/i);

      const rv = await runCli(['revert', '--yes', '--source', url], { timeoutMs: 20_000 });
      expect(rv.code, show(rv)).toBe(3);
      expect(rv.ms).toBeLessThan(10_000);
      expect(rv.stderr).toMatch(/pid\D{0,3}\d+/i);

      await lock.release();
      a = await first.done;
    } finally {
      await lock.release();
    }
    expect(a.code, show(a)).toBe(0);
    await expectExactMigration(url, info, tenantFp);
    // the refused run left no run of its own behind
    const st = parseJson<StatusDoc>(await runCli(['status', '--json', '--source', url]));
    expect(
      st.runs.map((r) => r.state),
      JSON.stringify(st.runs),
    ).toEqual(['completed']);
  });
});
