import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

/** Embedded-server directories in the temp dir still holding a server for `port`. */
function serverDirsFor(port: number): string[] {
  return fs.readdirSync(os.tmpdir()).filter((f) => {
    if (!f.startsWith('oasys-pg-')) return false;
    const pid = path.join(os.tmpdir(), f, 'data', 'postmaster.pid');
    try {
      return Number(fs.readFileSync(pid, 'utf8').split('\n')[3]) === port;
    } catch {
      return false;
    }
  });
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('oasys-migrate demo', () => {
  it('runs plan → run → verify → RLS → revert on its own embedded PostgreSQL and leaves nothing behind', async () => {
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
    // The embedded server is stopped and its directory is gone.
    const port = Number(r.stdout.match(/PostgreSQL on port (\d+)/)?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(await portOpen(port)).toBe(false);
    expect(serverDirsFor(port)).toEqual([]);
  }, 150_000);
});
