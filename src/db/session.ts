import type pg from 'pg';
import type { ResolvedConfig } from '../config/load.js';
import { checkConnection, createPool } from './connect.js';
import type { Logger } from '../log.js';
import { redactUrl } from './redact.js';

/** The connection pools a command works with: one for the source and, when separate, one for the target. */
export interface Session {
  cfg: ResolvedConfig;
  log: Logger;
  source: pg.Pool;
  target: pg.Pool;
  serverVersion: string;
  serverVersionNum: number;
  close(): Promise<void>;
}

export async function openSession(cfg: ResolvedConfig, log: Logger, extraConnections = 0): Promise<Session> {
  const max = cfg.concurrency + 2 + extraConnections;
  // With a separate target the source is only read: the server enforces it.
  const source = createPool({ url: cfg.source, role: 'source', max, readOnly: !cfg.sameDatabase });
  const pools = [source];
  try {
    const info = await checkConnection(source, { url: cfg.source, role: 'source' });
    log.debug(`source ${redactUrl(cfg.source)}: ${info.version}`);
    let target = source;
    if (!cfg.sameDatabase) {
      target = createPool({ url: cfg.target, role: 'target', max });
      pools.push(target);
      const t = await checkConnection(target, { url: cfg.target, role: 'target' });
      log.debug(`target ${redactUrl(cfg.target)}: ${t.version}`);
    }
    return {
      cfg,
      log,
      source,
      target,
      serverVersion: info.version,
      serverVersionNum: info.serverVersionNum,
      async close() {
        await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
      },
    };
  } catch (err) {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    throw err;
  }
}

/** Which server and database a writing command is about to change, said before its first write. */
export interface TargetInfo {
  host: string;
  port: number | null;
  database: string;
  role: string;
  serverVersion: string;
  /** true when the target is the source database (an in-place migration). */
  inPlace: boolean;
}

export async function describeTarget(s: Session): Promise<TargetInfo> {
  const r = await s.target.query<{ addr: string | null; port: number | null; db: string; usr: string; v: string }>(
    `SELECT pg_catalog.inet_server_addr()::text AS addr, pg_catalog.inet_server_port() AS port, current_database() AS db,
            current_user AS usr, pg_catalog.current_setting('server_version') AS v`,
  );
  const x = r.rows[0];
  const opts = (s.target as unknown as { options: { host?: string } }).options;
  const host = x.addr ? x.addr.replace(/\/\d+$/, '') : `local socket ${opts.host ?? ''}`.trim();
  return { host, port: x.port, database: x.db, role: x.usr, serverVersion: x.v, inPlace: s.cfg.sameDatabase };
}

export function targetLine(verb: string, t: TargetInfo): string {
  return (
    `${verb} database "${t.database}" on ${t.host}${t.port ? `:${t.port}` : ''} (PostgreSQL ${t.serverVersion}) as role "${t.role}", ` +
    (t.inPlace ? 'in place (the source database itself; tenant schemas are only read)' : 'a separate target (the source is only read)')
  );
}
