import type pg from 'pg';
import type { ResolvedConfig } from '../config/load.js';
import { checkConnection, createPool } from '../db/connect.js';
import type { Logger } from '../log.js';
import { redactUrl } from '../db/redact.js';

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
      cfg, log, source, target, serverVersion: info.version, serverVersionNum: info.serverVersionNum,
      async close() {
        await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
      },
    };
  } catch (err) {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    throw err;
  }
}
