/**
 * CLI-layer defects of issue 11, from the outside (the real built CLI):
 * (a) verify --tenants with an unknown name, (b) --tenants on commands that
 * act on whole runs, (c) the --json failure document, (d) integer flags,
 * (e) no command at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/db.js';
import { generateFixture, type FixtureInfo } from '../../fixtures/generate.js';
import { parseJson, runCli, show, unusedPort, type CliResult } from '../support/cli.js';

interface ErrorDoc {
  ok: false;
  error: { code: string; message: string; hint: string | null; exitCode: number; keyPath?: string };
}

/** stdout is exactly one failure document with this code. */
function expectErrorDoc(r: CliResult, code: string): ErrorDoc {
  const doc = parseJson<ErrorDoc>(r);
  expect(doc.ok, show(r)).toBe(false);
  expect(doc.error.code, show(r)).toBe(code);
  expect(doc.error.exitCode).toBe(r.code);
  expect(typeof doc.error.message).toBe('string');
  expect(doc.error.message.length).toBeGreaterThan(0);
  expect('hint' in doc.error).toBe(true);
  return doc;
}

let deadUrl: string;
beforeAll(async () => {
  deadUrl = `postgres://nobody:Pa55-w0rd-x@127.0.0.1:${await unusedPort()}/nowhere`;
});

describe('(e) no command', () => {
  it('prints help on stderr and exits 2', async () => {
    const r = await runCli([]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain('Usage: oasys-migrate');
    for (const c of ['plan', 'run', 'verify', 'status', 'revert', 'check-rls', 'demo']) expect(r.stderr).toContain(c);
    expect(r.stderr).toContain('no command given');
    expect(r.stdout).toBe('');
  });

  it('--help still exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code, show(r)).toBe(0);
  });
});

describe('(d) integer flags are integers, or exit 2 naming the flag', () => {
  it.each([
    [['demo', '--tenant-count', 'abc'], '--tenant-count'],
    [['demo', '--tenant-count', '0'], '--tenant-count'],
    [['demo', '--rows', '1.5'], '--rows'],
    [['demo', '--rows', ''], '--rows'],
    [['check-rls', '--role', 'app', '--sample', 'five'], '--sample'],
    [['plan', '--concurrency', '4x'], '--concurrency'],
    [['plan', '--concurrency', '-1'], '--concurrency'],
  ])('%j', async (args, flag) => {
    // An unreachable source: the flag is judged before any connection (else: exit 3).
    const r = await runCli([...args, '--source', deadUrl], { timeoutMs: 20_000 });
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain(`${flag} must be an integer`);
    expect(r.stderr).toContain(JSON.stringify(args[args.indexOf(flag) + 1]));
    expect(r.stdout).toBe('');
  });

  it('OASYS_CONCURRENCY=abc too, naming the variable', async () => {
    const r = await runCli(['plan', '--source', deadUrl], { env: { OASYS_CONCURRENCY: 'abc' } });
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain('OASYS_CONCURRENCY must be an integer');
  });
});

describe('(b) status and revert act on whole runs', () => {
  it.each([[['status']], [['revert', '--yes']]])('%j --tenants is refused (exit 2), before connecting', async (args) => {
    const r = await runCli([...args, '--tenants', 'acme', '--source', deadUrl]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain(`${args[0]} does not take --tenants: it acts on whole runs`);
  });

  it("their --help does not offer --tenants; plan's does", async () => {
    for (const [cmd, offered] of [
      ['status', false],
      ['revert', false],
      ['plan', true],
    ] as const) {
      const r = await runCli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout.includes('--tenants'), cmd).toBe(offered);
    }
  });
});

describe('(c) --json writes one failure document on stdout, for every command', () => {
  it.each([[['plan']], [['run']], [['run', '--dry-run']], [['verify']], [['status']], [['revert', '--yes']], [['check-rls', '--role', 'app']]])(
    '%j against an unreachable server: code "environment", exit 3, no password',
    async (args) => {
      const r = await runCli([...args, '--json', '--source', deadUrl]);
      expect(r.code, show(r)).toBe(3);
      const doc = expectErrorDoc(r, 'environment');
      expect(doc.error.message).toContain('cannot connect');
      expect(doc.error.hint).toBeTruthy();
      expect(r.stdout + r.stderr).not.toContain('Pa55-w0rd');
      // The human message still goes to stderr.
      expect(r.stderr).toContain('error: cannot connect');
    },
  );

  it('a usage error (bad flag value) has code "usage" and the flag as keyPath', async () => {
    const r = await runCli(['plan', '--json', '--concurrency', 'abc', '--source', deadUrl]);
    expect(r.code, show(r)).toBe(2);
    const doc = expectErrorDoc(r, 'usage');
    expect(doc.error.keyPath).toBe('--concurrency');
  });

  it('an unknown option (rejected by commander) still gives the document', async () => {
    const r = await runCli(['verify', '--json', '--bogus']);
    expect(r.code, show(r)).toBe(2);
    expect(expectErrorDoc(r, 'usage').error.message).toContain('--bogus');
  });

  it('a key=value --source with an unknown keyword: code "usage", the keyword named', async () => {
    const r = await runCli(['status', '--json', '--source', "host=h dbname=d password='x y z' colour=blue"]);
    expect(r.code, show(r)).toBe(2);
    expect(expectErrorDoc(r, 'usage').error.message).toContain('"colour"');
    expect(r.stdout + r.stderr).not.toContain('x y z');
  });
});

describe('(a) verify --tenants with an unknown tenant', () => {
  let url: string;
  let info: FixtureInfo;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createTestDatabase('cliusage');
    drop = db.drop;
    url = db.url;
    info = await generateFixture(url, { rowsPerTable: 4, tenants: 2 });
    const r = await runCli(['run', '--source', url], { timeoutMs: 60_000 });
    expect(r.code, show(r)).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await drop?.();
  });

  it('exits 2 naming it, instead of verifying zero pairs', async () => {
    const r = await runCli(['verify', '--tenants', 'nosuch', '--source', url]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain('unknown tenant in --tenants: "nosuch"');
    expect(r.stderr).toContain(info.tenants[0].schema);
    const j = await runCli(['verify', '--json', '--tenants', `${info.tenants[0].schema},nosuch`, '--source', url]);
    expect(j.code, show(j)).toBe(2);
    expect(expectErrorDoc(j, 'usage').error.message).toContain('"nosuch"');
  });

  it('a known tenant is verified alone', async () => {
    const t = info.tenants[0].schema;
    const r = await runCli(['verify', '--json', '--tenants', t, '--source', url]);
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson<{ ok: boolean; results: { tenant: string }[] }>(r);
    expect(doc.ok).toBe(true);
    expect(doc.results.length).toBeGreaterThan(0);
    expect(new Set(doc.results.map((x) => x.tenant))).toEqual(new Set([t]));
  });

  it('run and check-rls refuse the same unknown name the same way', async () => {
    for (const args of [['run'], ['check-rls', '--role', 'postgres']]) {
      const r = await runCli([...args, '--tenants', 'nosuch', '--source', url]);
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toContain('unknown tenant in --tenants: "nosuch"');
    }
  });
});
