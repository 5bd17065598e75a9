import type pg from 'pg';
import type { RunRow } from '../state/journal.js';
import { runTimings, type PhaseTiming } from '../state/timings.js';
import { toolVersion } from '../version.js';

/** Which server and database a pool talks to, as a change ticket names them. */
export interface ServerInfo {
  host: string;
  port: number | null;
  database: string;
  role: string;
  /** server_version, e.g. "17.6" */
  version: string;
  /** version(), e.g. "PostgreSQL 17.6 on x86_64-pc-linux-gnu, compiled by …" */
  versionFull: string;
}

export async function describeServer(db: Pick<pg.Pool, 'query'>): Promise<ServerInfo> {
  const r = await db.query<{ addr: string | null; port: number | null; db: string; usr: string; v: string; full: string }>(
    `SELECT pg_catalog.inet_server_addr()::text AS addr, pg_catalog.inet_server_port() AS port, pg_catalog.current_database() AS db,
            current_user AS usr, pg_catalog.current_setting('server_version') AS v, pg_catalog.version() AS full`,
  );
  const x = r.rows[0];
  return { host: x.addr ? x.addr.replace(/\/\d+$/, '') : 'local socket', port: x.port, database: x.db, role: x.usr, version: x.v, versionFull: x.full };
}

/** What a verification report states besides the checksums: where, with what, and the run's timings. */
export interface ReportContext {
  toolVersion: string;
  nodeVersion: string;
  source: ServerInfo;
  /** Absent when the target is the source database (in place). */
  target?: ServerInfo;
  run: { runId: number; state: string; startedAt: string; finishedAt: string | null; seconds: number | null; startedBy: string; rowsCopied: number };
  phases: PhaseTiming[];
}

export async function reportContext(
  source: Pick<pg.Pool, 'query'>,
  target: Pick<pg.Pool, 'query'>,
  sameDatabase: boolean,
  run: RunRow,
): Promise<ReportContext> {
  return {
    toolVersion: toolVersion(),
    nodeVersion: process.version,
    source: await describeServer(source),
    target: sameDatabase ? undefined : await describeServer(target),
    run: {
      runId: run.runId,
      state: run.state,
      startedAt: run.startedAt.toISOString(),
      finishedAt: run.finishedAt?.toISOString() ?? null,
      seconds: run.finishedAt ? (run.finishedAt.getTime() - run.startedAt.getTime()) / 1000 : null,
      startedBy: run.startedBy,
      rowsCopied: run.rowsCopied,
    },
    phases: (await runTimings(target, run.runId)).phases,
  };
}
