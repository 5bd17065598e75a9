import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

function tempServers(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith('oasys-pg-'));
}

describe('oasys-migrate demo', () => {
  it('runs plan → run → verify → RLS → revert on its own embedded PostgreSQL and leaves nothing behind', async () => {
    const before = new Set(tempServers());
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' };
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile('node', ['bin/oasys-migrate.js', 'demo'], { cwd: root, env, timeout: 120_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(r.stderr).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    // Each act of the demo happened and said what it proved.
    expect(r.stdout).toMatch(/Plan OK/);
    expect(r.stdout).toMatch(/Verified: 20 \(tenant, table\) pairs match/);
    expect(r.stdout).toMatch(/No tenant set: .* → 0 rows/);
    expect(r.stdout).toMatch(/moving a row to tenant \d+: rejected/);
    expect(r.stdout).toMatch(/run #1 reverted/);
    expect(r.stdout).toMatch(/Identical: \d+ catalog facts/);
    // The embedded server's directory is gone: nothing left on disk.
    const leftover = tempServers().filter((f) => !before.has(f));
    expect(leftover).toEqual([]);
  }, 150_000);
});
