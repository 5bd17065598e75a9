import { execFileSync } from 'node:child_process';
import { inject } from 'vitest';
import { adminUrl } from './db.js';
import { withClient } from './client.js';

/**
 * A test server that this machine's pg_dump can dump (pg_dump reads servers of
 * its own major version or older): the main test server when it fits, else
 * one of the per-major servers (test/support/majors.ts; Debian's 15 is the one
 * whose pg_dump is usually installed). Throws naming the cure when none fits.
 */
export async function serverForPgDump(): Promise<{ url: string; dumpMajor: number }> {
  const dumpMajor = Number(/(\d+)/.exec(execFileSync('pg_dump', ['--version'], { encoding: 'utf8' }))![1]);
  const majors = Object.values(inject('pgMajors')).flatMap((m) => ('url' in m ? [m.url] : []));
  const candidates = [adminUrl(), ...majors];
  const fitting: { url: string; major: number }[] = [];
  for (const url of candidates) {
    const v = await withClient(url, async (c) => (await c.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0].v);
    const major = Math.floor(Number(v) / 10000);
    if (major <= dumpMajor) fitting.push({ url, major });
  }
  // The newest that fits: the closest to what production would be dumped with.
  fitting.sort((a, b) => b.major - a.major);
  if (fitting.length === 0) {
    throw new Error(
      `pg_dump ${dumpMajor} cannot dump any test server: install Debian's postgresql-15 (.ci/run does; the harness then starts a 15 server), or a pg_dump as new as the test server`,
    );
  }
  return { url: fitting[0].url, dumpMajor };
}
