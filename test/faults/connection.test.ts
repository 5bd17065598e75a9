/**
 * Fault injection (issue 6, item 1): the tool's server sessions are ended
 * with pg_terminate_backend in the middle of the copy (held there by an
 * ACCESS EXCLUSIVE lock on the source table globex.audit_log). The tool must
 * stop with exit 3 (environment; 1 tolerated) and a message that says what
 * failed and what to do, leave a journal that matches the data, and `run`
 * again must finish exactly. Losing only the run's advisory lock must never
 * let two runs work at once.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl, createTestDatabase } from '../support/db.js';
import {
  TABLES,
  cliExpect,
  dbRegistry,
  exactMigration,
  expectNoPassword,
  expectNoSecret,
  fingerprint,
  fixtureTemplate,
  fpDiff,
  holdTx,
  journalMatchesData,
  latestRun,
  latestSteps,
  lockTable,
  poll,
  show,
  sql,
  startCli,
  targetFingerprint,
  tempDir,
  toolPids,
  urlPassword,
  waitBlockedIn,
  waitNoToolSessions,
  type CliResult,
  type FixtureDb,
} from '../support/faults.js';

const reg = dbRegistry();
let tpl: { make: () => Promise<FixtureDb> };
beforeAll(async () => {
  tpl = await fixtureTemplate('conn', reg);
});
afterAll(() => reg.dropAll());

const ARGS = ['--concurrency', '2'];

/** Terminates the tool's sessions on `databases` that `pick` selects; returns what was terminated. */
async function terminate(databases: string[], pick: (s: { app: string; waiting: boolean; advisory: boolean }) => boolean): Promise<string[]> {
  const sessions = await sql<{ pid: number; app: string; waiting: boolean; advisory: boolean }>(
    adminUrl(),
    `SELECT a.pid, a.application_name AS app, a.wait_event_type IS NOT DISTINCT FROM 'Lock' AS waiting,
            EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted) AS advisory
       FROM pg_stat_activity a
      WHERE a.application_name LIKE 'oasys-migrate%' AND a.datname = ANY($1) AND a.pid <> pg_backend_pid()`,
    [databases],
  );
  const chosen = sessions.filter(pick);
  for (const s of chosen) await sql(adminUrl(), 'SELECT pg_terminate_backend($1)', [s.pid]);
  return chosen.map((s) => `${s.app}${s.waiting ? ' (waiting on a lock)' : ''}${s.advisory ? ' (holding the advisory lock)' : ''}`);
}

/**
 * A clear message: an `error:` line that says the connection was lost or
 * terminated and what to do (run again / resume), and no raw crash (an
 * unhandled 'error' event and its stack) or "unexpected" error.
 */
function expectConnectionMessage(r: CliResult): void {
  expectNoPassword(r);
  expect(r.stderr, `no crash with a stack trace\n${show(r)}`).not.toMatch(/Unhandled 'error' event|node:events|this is unexpected/i);
  const at = r.stderr.search(/^error:/m);
  expect(at, `an "error:" line on stderr\n${show(r)}`).toBeGreaterThanOrEqual(0);
  const tail = r.stderr.slice(at);
  expect(tail, show(r)).toMatch(/terminat|connection/i);
  expect(tail, `says what to do (run again / resume)\n${show(r)}`).toMatch(/resume|again|`run`|oasys-migrate run/i);
}

async function afterwards(f: FixtureDb): Promise<void> {
  expect(await journalMatchesData(f.url, f.info.tenants), 'journal matches the data after the lost connections').toEqual([]);
  expect(fpDiff(f.tenantFp, await fingerprint(f.url, { only: f.tenantSchemas }))).toEqual([]);
  await cliExpect(['run', '--source', f.url, ...ARGS], 0);
  expect(await exactMigration(f.url, f.info.tenants)).toEqual([]);
  expect(fpDiff(f.tenantFp, await fingerprint(f.url, { only: f.tenantSchemas }))).toEqual([]);
  await cliExpect(['revert', '--yes', '--source', f.url], 0);
  expect(fpDiff(f.targetFp, await targetFingerprint(f.url, f.tenantSchemas))).toEqual([]);
}

describe('pg_terminate_backend mid-copy', () => {
  it('every session of the tool (workers and the lock holder): exit 3 with a clear message; run again → exit 0, exact', async () => {
    const f = await tpl.make();
    const gate = await holdTx(f.url, [lockTable('globex', 'audit_log')], 'faults gate');
    const log = path.join(tempDir(), 'run.jsonl');
    let r: CliResult;
    let killed: string[] = [];
    try {
      const { child, done } = startCli(['run', '--source', f.url, ...ARGS, '--log-file', log], { timeoutMs: 45_000 });
      const at = await waitBlockedIn(f.url, 'copy', 20_000, (st) => st.some((s) => s.phase === 'copy' && s.state === 'done'));
      if (!at) child.kill('SIGKILL');
      else killed = await terminate([f.db.name], () => true);
      r = await done;
      expect(at, `never blocked in the copy\n${show(r)}`).toBeDefined();
    } finally {
      await gate.release();
    }
    expect(killed.length, 'sessions terminated').toBeGreaterThan(1);
    expect([3, 1], `exit code after ${killed.join(', ')} were terminated\n${show(r)}`).toContain(r.code);
    expect.soft(r.code, 'SPEC §5: a lost connection is an environment error (3)').toBe(3);
    expectConnectionMessage(r);
    expectNoSecret(urlPassword(f.url), { 'the log file': existsSync(log) ? readFileSync(log, 'utf8') : '' });
    expect(r.timedOut).toBe(false);
    await waitNoToolSessions(f.url);
    expect((await latestRun(f.url))?.state, 'the run is not recorded as completed').not.toBe('completed');
    await afterwards(f);
  });

  it('only the copy worker waiting on the lock: exit 3 naming the tenant and table; run again → exit 0, exact', async () => {
    const f = await tpl.make();
    const gate = await holdTx(f.url, [lockTable('globex', 'audit_log')], 'faults gate');
    let r: CliResult;
    let killed: string[] = [];
    try {
      const { child, done } = startCli(['run', '--source', f.url, ...ARGS], { timeoutMs: 45_000 });
      const at = await waitBlockedIn(f.url, 'copy', 20_000, (st) => st.some((s) => s.phase === 'copy' && s.state === 'done'));
      if (!at) child.kill('SIGKILL');
      else killed = await terminate([f.db.name], (s) => s.waiting);
      r = await done;
      expect(at, `never blocked in the copy\n${show(r)}`).toBeDefined();
    } finally {
      await gate.release();
    }
    expect(killed.length).toBe(1);
    expect([3, 1], show(r)).toContain(r.code);
    expect.soft(r.code, 'SPEC §5: a lost connection is an environment error (3)').toBe(3);
    expectConnectionMessage(r);
    expect(r.stderr, 'names the step whose connection was lost').toMatch(/audit_log/);
    await waitNoToolSessions(f.url);
    await afterwards(f);
  });

  it('only the session holding the run’s advisory lock: never two runs at once, and the data ends exact', async () => {
    const f = await tpl.make();
    const gate = await holdTx(f.url, [lockTable('globex', 'audit_log')], 'faults gate');
    let a: CliResult | undefined;
    let b: CliResult | undefined;
    let aAliveWhenBStarted = false;
    let bBlockedInCopy = false;
    try {
      const first = startCli(['run', '--source', f.url, ...ARGS], { timeoutMs: 45_000 });
      const aExit = first.done.then((x) => (a = x));
      const at = await waitBlockedIn(f.url, 'copy', 20_000, (st) => st.some((s) => s.phase === 'copy' && s.state === 'done'));
      if (!at) first.child.kill('SIGKILL');
      expect(at, 'never blocked in the copy').toBeDefined();
      const killed = await terminate([f.db.name], (s) => s.advisory);
      expect(killed, 'the session holding the advisory lock').toHaveLength(1);
      // Give the first run a moment to notice (it may stop, or take the lock again).
      await poll(f.url, async () => a !== undefined, 1_500, 50);
      aAliveWhenBStarted = a === undefined;
      // A second run while the first is (maybe) still working: it must not work at the same time.
      const second = startCli(['run', '--source', f.url, ...ARGS], { timeoutMs: 45_000 });
      const bExit = second.done.then((x) => (b = x));
      await poll(
        f.url,
        async (c) => {
          if (b !== undefined) return true;
          const n = (
            await c.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'oasys-migrate%' AND wait_event_type = 'Lock'`,
            )
          ).rows[0].n;
          return n >= 2 ? (bBlockedInCopy = true) : false;
        },
        15_000,
        30,
      );
      await gate.release();
      await Promise.all([aExit, bExit]);
    } finally {
      await gate.release();
    }
    const both = `first run:\n${show(a!)}\n\nsecond run:\n${show(b!)}`;
    if (aAliveWhenBStarted) {
      // The first run kept going: then it must still exclude other runs (lock taken again) …
      expect.soft(bBlockedInCopy, `two runs copied at the same time after the first lost its advisory-lock session\n${both}`).toBe(false);
      expect
        .soft(b!.code === 3 || [1, 3].includes(a!.code ?? -1), `the second run must be refused (exit 3) while the first works, or the first must stop\n${both}`)
        .toBe(true);
    } else {
      expect([1, 3], both).toContain(a!.code);
    }
    await waitNoToolSessions(f.url);
    // Whatever happened, one more run finishes the job, exactly: no row copied twice.
    const again = await cliExpect(['run', '--source', f.url, ...ARGS], 0);
    expect(again.code).toBe(0);
    expect(await exactMigration(f.url, f.info.tenants), `rows duplicated or lost after two overlapping runs\n${both}`).toEqual([]);
    expect(fpDiff(f.tenantFp, await fingerprint(f.url, { only: f.tenantSchemas }))).toEqual([]);
  });

  it('separate target (COPY streamed between two databases): every tool session on both ends; exit 3; run again → exact; the source is never written', async () => {
    const f = await tpl.make();
    const target = reg.add(await createTestDatabase('conn_tgt'));
    const sourceFp = await fingerprint(f.url);
    const targetFp0 = await fingerprint(target.url, { exclude: ['oasys_migrate'] });
    const gate = await holdTx(f.url, [lockTable('globex', 'audit_log')], 'faults gate');
    const args = ['--source', f.url, '--target', target.url, ...ARGS];
    let r: CliResult;
    let killed: string[] = [];
    try {
      const { child, done } = startCli(['run', ...args], { timeoutMs: 45_000 });
      const at = await poll(target.url, async (c) => {
        const steps = await latestSteps(c);
        if (!steps?.some((s) => s.phase === 'copy' && s.state === 'done')) return undefined;
        const waits = await toolPids(adminUrl(), [f.db.name]);
        const blocked =
          (
            await sql(adminUrl(), `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'oasys-migrate%' AND wait_event_type = 'Lock'`, [
              f.db.name,
            ])
          ).length > 0;
        return waits.length > 0 && blocked ? steps : undefined;
      });
      if (!at) child.kill('SIGKILL');
      else killed = await terminate([f.db.name, target.name], () => true);
      r = await done;
      expect(at, `never blocked in the copy\n${show(r)}`).toBeDefined();
    } finally {
      await gate.release();
    }
    expect(killed.length).toBeGreaterThan(1);
    expect([3, 1], show(r)).toContain(r.code);
    expect.soft(r.code, 'SPEC §5: a lost connection is an environment error (3)').toBe(3);
    expectConnectionMessage(r);
    await poll(adminUrl(), async () => (await toolPids(adminUrl(), [f.db.name, target.name])).length === 0, 15_000, 50);
    await cliExpect(['run', ...args], 0);
    expect(await exactMigration(f.url, f.info.tenants, TABLES, {}, target.url)).toEqual([]);
    expect(fpDiff(sourceFp, await fingerprint(f.url)), 'the source database is never written').toEqual([]);
    await cliExpect(['revert', '--yes', ...args], 0);
    expect(fpDiff(targetFp0, await fingerprint(target.url, { exclude: ['oasys_migrate'] })), 'target after revert = before the run').toEqual([]);
  });
});
