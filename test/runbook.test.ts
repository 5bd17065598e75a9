/**
 * RUNBOOK.md, executed: every ```sh block (each marked `<!-- step: name -->`)
 * is run with bash, in the document's order, against a fixture database, as
 * the document's environment (DATABASE_URL, APP_ROLE, BACKUP_URL) describes,
 * and its exit code asserted. "Pause" is exercised as the runbook says: the
 * `rest` step is interrupted half-way through the copy with SIGINT (Ctrl-C to
 * its process group) and the `resume` step finishes it. The data is checked
 * independently after the run, and after the reverts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixture, type FixtureInfo } from '../fixtures/generate.js';
import { createTestDatabase } from './support/db.js';
import { serverForPgDump } from './support/dumpServer.js';
import { BIN, cliEnv, compareAll, holdTableLock, qi, ROOT, sql, tempDir, waitForHalfWayCopy } from './support/cli.js';

const doc = readFileSync(path.join(ROOT, 'RUNBOOK.md'), 'utf8');
const steps = [...doc.matchAll(/<!-- step: ([\w-]+) -->\n```sh\n([\s\S]*?)```/g)].map((m) => ({ name: m[1], script: m[2] }));
const script = (name: string) => {
  const s = steps.find((x) => x.name === name);
  if (!s) throw new Error(`RUNBOOK.md has no step ${name}`);
  return s.script;
};

const work = tempDir();
const bin = path.join(work, '.bin');
const APP_ROLE = `runbook_app_${randomBytes(3).toString('hex')}`;
let server = '';
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let info: FixtureInfo;
let env: Record<string, string>;

function bash(name: string) {
  const r = spawnSync('bash', ['-euo', 'pipefail', '-c', script(name)], {
    cwd: work,
    env: cliEnv({ ...env, PATH: `${bin}:${process.env.PATH}` }),
    encoding: 'utf8',
    timeout: 90_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return {
    code: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    text: `step ${name}: exit=${r.status}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`,
  };
}

beforeAll(async () => {
  // pg_dump (steps backup, backup-after) dumps servers of its major version or older.
  server = (await serverForPgDump()).url;
  db = await createTestDatabase('runbook', server);
  info = await generateFixture(db.url, { tenants: 4, rowsPerTable: 20 });
  await sql(server, `CREATE ROLE ${qi(APP_ROLE)} LOGIN NOSUPERUSER NOBYPASSRLS`);
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'oasys-migrate'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(path.join(bin, 'oasys-migrate'), 0o755);
  env = { DATABASE_URL: db.url, BACKUP_URL: db.url, APP_ROLE };
});

afterAll(async () => {
  await db?.drop();
  if (server) {
    await sql(server, `DROP ROLE IF EXISTS ${qi(APP_ROLE)}`).catch(() => undefined);
  }
});

describe('RUNBOOK.md', () => {
  it('marks every shell block as a step the suite runs', () => {
    const blocks = doc.match(/```sh\n/g)?.length ?? 0;
    expect(steps.length).toBe(blocks);
    expect(steps.map((s) => s.name)).toEqual([
      'role',
      'disk',
      'plan',
      'backup',
      'stop-writes',
      'canary',
      'rest',
      'progress',
      'resume',
      'verify',
      'grants',
      'app-query',
      'check-rls',
      'backup-after',
      'resume-writes',
      'revert-refused',
      'revert',
    ]);
  });

  it('runs from the role check to the revert window', async () => {
    // Before.
    const role = bash('role');
    expect(role.code, role.text).toBe(0);
    expect(role.stdout).toMatch(/^\S+\|t\|t\|\S+/); // the harness's superuser
    const disk = bash('disk');
    expect(disk.code, disk.text).toBe(0);
    expect(disk.stdout.trim()).toMatch(/^\d+ (bytes|kB|MB)$/);
    const plan = bash('plan');
    expect(plan.code, plan.text).toBe(0);
    expect(JSON.parse(readFileSync(path.join(work, 'plan.json'), 'utf8')).format).toBe('oasys-migrate-plan');
    expect(readFileSync(path.join(work, 'migration.sql'), 'utf8')).toContain('CREATE POLICY');
    const backup = bash('backup');
    expect(backup.code, backup.text).toBe(0);
    expect(backup.stdout).toContain('backup readable');
    const stop = bash('stop-writes');
    expect(stop.code, stop.text).toBe(0);
    const [login] = await sql<{ l: boolean }>(db.url, `SELECT rolcanlogin AS l FROM pg_roles WHERE rolname = $1`, [APP_ROLE]);
    expect(login.l).toBe(false);

    // During: the canary.
    const canary = bash('canary');
    expect(canary.code, canary.text).toBe(0);
    const tenantsIn = async () =>
      (
        await sql<{ s: string }>(
          db.url,
          `SELECT DISTINCT c.schema_name AS s FROM public.accounts_account u JOIN public.customers_client c ON c.id = u.tenant_id ORDER BY 1`,
        )
      ).map((r) => r.s);
    expect(await tenantsIn()).toEqual(['acme']);

    // The rest, paused half-way with Ctrl-C (SIGINT to the process group), as the runbook says.
    const lock = await holdTableLock(db.url, 'globex', 'audit_log');
    let restCode: number | null;
    try {
      const child = spawn('bash', ['-euo', 'pipefail', '-c', script('rest')], {
        cwd: work,
        env: cliEnv({ ...env, PATH: `${bin}:${process.env.PATH}` }),
        detached: true,
        stdio: 'ignore',
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const half = await waitForHalfWayCopy(db.url, 40_000);
      expect(half, 'the rest never got half-way').toBeDefined();
      process.kill(-child.pid!, 'SIGINT');
      await new Promise((r) => setTimeout(r, 500));
      await lock.release();
      restCode = await exited;
    } finally {
      await lock.release();
    }
    expect(restCode).toBe(130);
    const progress = bash('progress');
    expect(progress.code, progress.text).toBe(0);
    expect(progress.stdout).toMatch(/#2\s+interrupted/);
    expect(progress.stdout).toContain('"event"');
    const resume = bash('resume');
    expect(resume.code, resume.text).toBe(0);
    expect(await tenantsIn()).toEqual(info.tenants.map((t) => t.schema).sort());
    const ids = info.tenants.map((t) => ({ schema: t.schema, id: t.id }));
    expect((await compareAll(db.url, db.url, ids)).mismatches).toEqual([]);

    // After.
    const verify = bash('verify');
    expect(verify.code, verify.text).toBe(0);
    expect(readFileSync(path.join(work, 'verify.md'), 'utf8')).toContain('Result: **PASS**');
    const vxml = readFileSync(path.join(work, 'verify.xml'), 'utf8');
    expect(vxml).toContain('failures="0"');
    for (const t of info.tenants) expect(vxml).toContain(`name="${t.schema.replace(/"/g, '&quot;')} (tenant_id ${t.id})"`); // the canary's tenant too
    expect(bash('grants').code).toBe(0);
    const app = bash('app-query');
    expect(app.code, app.text).toBe(0);
    const acme = info.tenants.find((t) => t.schema === 'acme')!;
    const [n] = await sql<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM public.accounts_account WHERE tenant_id = $1`, [acme.id]);
    const lines = app.stdout.trim().split('\n');
    expect(lines[0]).toBe('0'); // no tenant set: no rows, no error
    expect(lines[lines.length - 1]).toBe(String(n.n));
    const rls = bash('check-rls');
    expect(rls.code, rls.text).toBe(0);
    expect(existsSync(path.join(work, 'rls.xml'))).toBe(true);
    const after = bash('backup-after');
    expect(after.code, after.text).toBe(0);
    expect(bash('resume-writes').code).toBe(0);
    const [login2] = await sql<{ l: boolean }>(db.url, `SELECT rolcanlogin AS l FROM pg_roles WHERE rolname = $1`, [APP_ROLE]);
    expect(login2.l).toBe(true);

    // The application writes (as itself, with the tenant set) to a tenant of the latest run: the revert window has closed.
    const globex = info.tenants.find((t) => t.schema === 'globex')!;
    await sql(
      db.url,
      `BEGIN; SET LOCAL ROLE ${qi(APP_ROLE)}; SELECT set_config('app.current_tenant', '${Number(globex.id)}', true);
      UPDATE public.accounts_account SET name = name || ' (edited)' WHERE id = (SELECT min(id) FROM public.accounts_account); COMMIT;`,
    );
    const refused = bash('revert-refused');
    expect(refused.code, refused.text).toBe(1);
    expect(refused.stderr).toContain('accounts_account');
    expect(await tenantsIn()).toEqual(info.tenants.map((t) => t.schema).sort()); // nothing changed
    const revert = bash('revert');
    expect(revert.code, revert.text).toBe(0);
    expect(revert.stdout).toMatch(/#1\s+reverted/);
    expect(revert.stdout).toMatch(/#2\s+reverted/);
    const [gone] = await sql<{ r: string | null }>(db.url, `SELECT to_regclass('public.accounts_account')::text AS r`);
    expect(gone.r).toBeNull();
  });
});
