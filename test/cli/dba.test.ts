/**
 * Output for the DBA, from the outside: --help (examples, environment, exit
 * codes per command), status with per-phase and per-step durations and rows/s,
 * the --log-file JSON-lines records (per phase, per failure, at completion),
 * and verify --report (servers, versions, the run's timings, per-tenant totals).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixture } from '../../fixtures/generate.js';
import { createTestDatabase } from '../support/db.js';
import { holdTableLock, parseJson, ROOT, runCli, show, sql, tempDir } from '../support/cli.js';

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
const COMMANDS = ['plan', 'run', 'verify', 'status', 'revert', 'check-rls', 'demo'];

describe('--help', () => {
  it.each(COMMANDS)('%s --help has examples, environment variables and exit codes', async (cmd) => {
    const r = await runCli([cmd, '--help']);
    expect(r.code, show(r)).toBe(0);
    const examples = r.stdout.slice(r.stdout.indexOf('Examples:'), r.stdout.indexOf('Environment:'));
    const lines = examples.split('\n').filter((l) => l.trim().startsWith('$ '));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l.trim().startsWith(`$ oasys-migrate ${cmd}`), l).toBe(true);
    expect(r.stdout).toMatch(/\nEnvironment:\n/);
    if (cmd !== 'demo') for (const v of ['OASYS_SOURCE_URL', 'OASYS_TARGET_URL', 'PGPASSWORD', 'OASYS_LOG_FILE']) expect(r.stdout).toContain(v);
    const codes = r.stdout
      .slice(r.stdout.indexOf('Exit codes:'))
      .split('\n')
      .slice(1)
      .map((l) => /^\s+(\d+)\s/.exec(l)?.[1])
      .filter(Boolean);
    expect(codes).toContain('0');
    expect(codes).toContain('2');
    expect(codes).toContain('3');
  });

  it('the program help shows the cut-over in order and every exit code', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('A cut-over, in order (see RUNBOOK.md)');
    for (const c of ['0', '1', '2', '3', '130']) expect(r.stdout).toMatch(new RegExp(`\\n  ${c}\\s+\\S`));
  });
});

describe('plan estimates size', () => {
  it("per unified table and in total: the tenant tables' size on disk, with the free space to have", async () => {
    const db = await createTestDatabase('dba_size');
    try {
      await generateFixture(db.url, { tenants: 2, rowsPerTable: 50 });
      await sql(db.url, 'VACUUM ANALYZE');
      // The estimate must not wait behind a lock the application holds on a tenant table.
      const lock = await holdTableLock(db.url, 'acme', 'audit_log');
      let r;
      try {
        r = await runCli(['plan', '--source', db.url, '--json'], { timeoutMs: 20_000 });
      } finally {
        await lock.release();
      }
      expect(r.code, show(r)).toBe(0);
      const doc = parseJson(r);
      const [want] = await sql<{ b: number }>(
        db.url,
        `SELECT sum(pg_total_relation_size(c.oid))::float8 AS b FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname IN ('acme', 'globex') AND c.relkind = 'r' AND c.relname = ANY($1)`,
        [doc.tables.map((t: { source: string }) => t.source)],
      );
      // The estimate is the catalog's page counts (table, TOAST, indexes), read independently here …
      const [pages] = await sql<{ b: number }>(
        db.url,
        `SELECT sum(c.relpages + coalesce(t.relpages, 0) + coalesce((SELECT sum(ix.relpages) FROM pg_index x JOIN pg_class ix ON ix.oid = x.indexrelid WHERE x.indrelid = c.oid), 0))::float8
                * current_setting('block_size')::float8 AS b
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
          WHERE n.nspname IN ('acme', 'globex') AND c.relkind = 'r' AND c.relname = ANY($1)`,
        [doc.tables.map((t: { source: string }) => t.source)],
      );
      expect(doc.bytes).toBe(pages.b);
      // … and at most the files' size (the free-space and visibility maps, large beside tiny tables, are not counted).
      expect(doc.bytes).toBeGreaterThan(0);
      expect(doc.bytes).toBeLessThanOrEqual(want.b);
      expect(doc.tables.reduce((a: number, t: { bytes: number }) => a + t.bytes, 0)).toBe(doc.bytes);
      const h = await runCli(['plan', '--source', db.url]);
      expect(h.stdout).toMatch(
        /Disk: the tenant tables take [\d.]+ (kB|MB) now; the unified tables will take about [\d.]+ (kB|MB) .* need about [\d.]+ (kB|MB) free/,
      );
    } finally {
      await db.drop();
    }
  });
});

describe('after a run', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let dir: string;
  let url: string;
  beforeAll(async () => {
    db = await createTestDatabase('dba');
    await generateFixture(db.url, { tenants: 3, rowsPerTable: 40 });
    url = db.url;
    dir = tempDir();
    const r = await runCli(['run', '--source', url, '--log-file', path.join(dir, 'run.jsonl')]);
    expect(r.code, show(r)).toBe(0);
  });
  afterAll(async () => db?.drop());

  it('status --json gives per-phase and per-step durations and rows/s', async () => {
    const r = await runCli(['status', '--source', url, '--json']);
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson(r);
    expect(doc.runs[0].seconds).toBeGreaterThan(0);
    const phases = doc.phases.map((p: { phase: string }) => p.phase);
    expect(phases).toEqual(expect.arrayContaining(['copy', 'keys', 'indexes', 'rls']));
    const copy = doc.phases.find((p: { phase: string }) => p.phase === 'copy');
    const [{ n }] = await sql<{ n: number }>(url, `SELECT sum(rows)::int AS n FROM oasys_migrate.step WHERE phase = 'copy'`);
    expect(copy.rows).toBe(n);
    expect(copy.seconds).toBeGreaterThan(0);
    expect(copy.rowsPerSecond).toBe(Math.round(copy.rows / copy.seconds));
    for (const s of doc.steps) {
      expect(s.state).toBe('done');
      expect(s.seconds).toBeGreaterThanOrEqual(0);
      expect(Date.parse(s.finishedAt)).toBeGreaterThanOrEqual(Date.parse(s.startedAt));
    }
    // The journal's own timings, independently.
    const [j] = await sql<{ s: number }>(
      url,
      `SELECT EXTRACT(EPOCH FROM max(finished_at) - min(started_at))::float8 AS s FROM oasys_migrate.step WHERE phase = 'copy'`,
    );
    expect(copy.seconds).toBeCloseTo(j.s, 2);
  });

  it('status shows phases with seconds and rows/s, and the slowest steps (--steps: every one)', async () => {
    const r = await runCli(['status', '--source', url]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/phase\s+done\s+pending\s+failed\s+rows\s+seconds\s+rows\/s/);
    expect(r.stdout).toContain('Slowest steps of run #1');
    const all = await runCli(['status', '--source', url, '--steps']);
    const ids = (await sql<{ id: string }>(url, `SELECT step_id AS id FROM oasys_migrate.step`)).map((x) => x.id);
    const listedIn = (text: string, id: string) => text.split('\n').some((l) => l.trim().startsWith(id + ' '));
    for (const id of ids) expect(listedIn(all.stdout, id), id).toBe(true);
    // Without --steps: ten rows.
    expect(ids.filter((id) => listedIn(r.stdout, id)).length).toBe(Math.min(10, ids.length));
  });

  it('--log-file holds a record per phase and at completion, with indexable fields', async () => {
    const recs = readFileSync(path.join(dir, 'run.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const events = recs.filter((r) => r.event);
    const started = events.find((e) => e.event === 'run.started');
    expect(started).toMatchObject({ runId: 1, tenants: 3, ok: true });
    const phases = events.filter((e) => e.event === 'phase');
    const planned = (await sql<{ phase: string }>(url, `SELECT DISTINCT phase FROM oasys_migrate.step`)).map((r) => r.phase);
    expect(phases.map((p) => p.phase).sort()).toEqual([...planned, 'verify'].sort());
    for (const p of phases) {
      expect(p).toMatchObject({ runId: 1, ok: true });
      expect(typeof p.seconds).toBe('number');
      expect(typeof p.rows).toBe('number');
      expect(typeof p.timestamp).toBe('string');
    }
    const [{ n }] = await sql<{ n: number }>(url, `SELECT rows_copied::int AS n FROM oasys_migrate.run WHERE run_id = 1`);
    expect(phases.find((p) => p.phase === 'copy').rows).toBe(n);
    const done = events.find((e) => e.event === 'run.completed');
    expect(done).toMatchObject({ runId: 1, rows: n, tenants: 3, mismatches: 0, ok: true });
    expect(events[events.length - 1]).toMatchObject({ event: 'command.completed', command: 'run', exitCode: 0, ok: true });
  });

  it('--log-file records a failure (and never a password)', async () => {
    const bad = await createTestDatabase('dba_bad');
    try {
      await generateFixture(bad.url, { tenants: 2, rowsPerTable: 2, drift: 'missing-column' });
      const log = path.join(dir, 'failed.jsonl');
      const r = await runCli(['run', '--source', bad.url, '--log-file', log]);
      expect(r.code, show(r)).toBe(1);
      const text = readFileSync(log, 'utf8');
      expect(text).not.toContain(decodeURIComponent(new URL(bad.url).password));
      expect(text).toContain('DRIFT_MISSING_COLUMN');
      const recs = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const failure = recs.find((x) => x.event === 'failure');
      expect(failure).toMatchObject({ command: 'run', ok: false });
      expect(typeof failure.message).toBe('string');
      expect(recs[recs.length - 1]).toMatchObject({ event: 'command.completed', ok: false, exitCode: failure.exitCode });
    } finally {
      await bad.drop();
    }
  });

  it('--log-file has a step.failed record per failed step and a run.failed record naming the phase', async () => {
    const bad = await createTestDatabase('dba_steps');
    try {
      await generateFixture(bad.url, { tenants: 3, rowsPerTable: 5, preexistingUnified: true });
      await sql(bad.url, `ALTER TABLE public.accounts_membership ADD CONSTRAINT no_forbidden_role CHECK (role <> 'forbidden')`);
      for (const t of ['acme', 'globex']) {
        await sql(bad.url, `UPDATE ${t}.accounts_membership SET role = 'forbidden' WHERE ctid = (SELECT ctid FROM ${t}.accounts_membership LIMIT 1)`);
      }
      const log = path.join(dir, 'steps.jsonl');
      const r = await runCli(['run', '--source', bad.url, '--log-file', log]);
      expect(r.code, show(r)).toBe(1);
      const recs = readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const failedSteps = recs.filter((x) => x.event === 'step.failed');
      const journal = await sql<{ step_id: string; tenant: string }>(
        bad.url,
        `SELECT step_id, tenant FROM oasys_migrate.step WHERE state = 'failed' ORDER BY tenant`,
      );
      expect(journal.map((j) => j.tenant)).toEqual(['acme', 'globex']);
      expect(failedSteps.map((x) => [x.step, x.tenant, x.table, x.phase, x.ok]).sort()).toEqual(
        journal.map((j) => [j.step_id, j.tenant, 'accounts_membership', 'copy', false]).sort(),
      );
      expect(recs.find((x) => x.event === 'run.failed')).toMatchObject({ runId: 1, phase: 'copy', ok: false, table: 'accounts_membership' });
    } finally {
      await bad.drop();
    }
  });

  it("verify --report names the servers, versions, the run's timings and per-tenant totals", async () => {
    const report = path.join(dir, 'verify.md');
    const r = await runCli(['verify', '--source', url, '--report', report]);
    expect(r.code, show(r)).toBe(0);
    const md = readFileSync(report, 'utf8');
    const [v] = await sql<{ v: string; db: string; port: number }>(
      url,
      `SELECT current_setting('server_version') AS v, current_database() AS db, inet_server_port() AS port`,
    );
    expect(md).toContain(`- Tool: oasys-migrate ${pkg.version} (Node.js ${process.version})`);
    expect(md).toContain(`- Source: database \`${v.db}\` on 127.0.0.1:${v.port}`);
    expect(md).toContain(`PostgreSQL ${v.v}`);
    expect(md).toContain('- Target: the source database itself (in place)');
    expect(md).toMatch(/## Run #1\n\n- State: completed; started \S+ by `[^`]+`; finished \S+; took [\d.]+ s/);
    expect(md).toMatch(/\| copy \| \d+\/\d+ \| \d+ \|/);
    const tenants = await sql<{ schema_name: string; n: number }>(
      url,
      `SELECT c.schema_name, count(*)::int AS n FROM public.accounts_account a JOIN public.customers_client c ON c.id = a.tenant_id GROUP BY 1`,
    );
    expect(md).toContain('## Per tenant');
    for (const t of tenants)
      expect(md).toMatch(
        new RegExp(`\\| ${t.schema_name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\|/g, '\\\\|')} \\| \\d+ \\| \\d+ \\| \\d+ \\| \\d+ \\| 0 \\|`),
      );
  });
});
