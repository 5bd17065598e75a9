/**
 * The server the benchmark works on: the embedded PostgreSQL (default) or the
 * one named by OASYS_BENCH_DATABASE_URL (a URL of a database whose user may
 * CREATE DATABASE). Every database the benchmark creates is recorded and
 * dropped by `close()`, which also stops the embedded server.
 */
import pg from 'pg';
import { startEmbeddedServer, type EmbeddedServer } from '../../src/embedded/server.js';
import { withClient } from '../support/client.js';
export { withClient };

const qid = (s: string) => '"' + s.replace(/"/g, '""') + '"';

/** A connected client; an error after its use (its database dropped, its server stopped) does not end the benchmark. */
export async function connectedClient(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** `n` connected clients (at least one) to `url`. */
export function connectedClients(url: string, n: number): Promise<pg.Client[]> {
  return Promise.all(Array.from({ length: Math.max(1, n) }, () => connectedClient(url)));
}

/** Two jobs measured against each other, their order alternating with the repetition: neither always runs on a warmer machine. */
export async function inTurn(repetition: number, first: () => Promise<void>, second: () => Promise<void>): Promise<void> {
  for (const job of repetition % 2 === 0 ? [first, second] : [second, first]) await job();
}

export class BenchServer {
  private readonly created = new Set<string>();
  private closed = false;
  serverVersionNum = 0;

  private constructor(
    readonly adminUrl: string,
    readonly kind: 'embedded' | 'external',
    private readonly embedded?: EmbeddedServer,
  ) {}

  /** `settings`: server settings of the embedded server (name=value), e.g. the durable ones. */
  static async open(log: (m: string) => void, settings?: string[]): Promise<BenchServer> {
    const ext = process.env.OASYS_BENCH_DATABASE_URL?.trim();
    let s: BenchServer;
    if (ext) {
      if (!/^postgres(ql)?:\/\//.test(ext))
        throw new Error('OASYS_BENCH_DATABASE_URL must be a postgres:// URL (the benchmark builds URLs of the databases it creates from it)');
      log('using the server of OASYS_BENCH_DATABASE_URL');
      s = new BenchServer(ext, 'external');
    } else {
      log(`starting the embedded PostgreSQL${settings?.length ? ` (${settings.join(', ')})` : ''}`);
      const e = await startEmbeddedServer({ quiet: true, settings });
      s = new BenchServer(e.url, 'embedded', e);
    }
    try {
      s.serverVersionNum = Number(await s.scalar('SHOW server_version_num'));
    } catch (err) {
      await s.close();
      throw err;
    }
    return s;
  }

  urlFor(db: string): string {
    if (this.embedded) return this.embedded.urlFor(db);
    const u = new URL(this.adminUrl);
    u.pathname = '/' + encodeURIComponent(db);
    return u.toString();
  }

  async scalar(sql: string, params: unknown[] = [], db?: string): Promise<string> {
    return withClient(db ? this.urlFor(db) : this.adminUrl, async (c) => {
      const r = await c.query(sql, params);
      const row = r.rows[0] as Record<string, unknown> | undefined;
      return row ? String(Object.values(row)[0]) : '';
    });
  }

  async exec(sql: string, db?: string): Promise<void> {
    await withClient(db ? this.urlFor(db) : this.adminUrl, async (c) => {
      await c.query(sql);
    });
  }

  /** CREATE DATABASE (empty, or a copy of `template`, which must have no other session). */
  async createDatabase(name: string, template?: string): Promise<string> {
    let sql = `CREATE DATABASE ${qid(name)}`;
    if (template) {
      sql += ` TEMPLATE ${qid(template)}`;
      // FILE_COPY copies the files (a checkpoint before and after) instead of WAL-logging every block: much faster for big data.
      if (this.serverVersionNum >= 150000) sql += ' STRATEGY = FILE_COPY';
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await this.exec(sql);
        break;
      } catch (err) {
        // 55006: the template is still being accessed (e.g. by autovacuum); PostgreSQL waits 5 s itself, then gives up.
        if ((err as { code?: string }).code === '55006' && attempt < 5) {
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        throw err;
      }
    }
    this.created.add(name);
    return this.urlFor(name);
  }

  async dropDatabase(name: string): Promise<void> {
    const force = this.serverVersionNum >= 130000 ? ' WITH (FORCE)' : '';
    await this.exec(`DROP DATABASE IF EXISTS ${qid(name)}${force}`);
    this.created.delete(name);
  }

  async checkpoint(): Promise<void> {
    await this.exec('CHECKPOINT');
  }

  /** Drops every database the benchmark created and stops the embedded server. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const db of [...this.created]) {
      await this.dropDatabase(db).catch((err) => process.stderr.write(`bench: could not drop database ${db}: ${String((err as Error).message ?? err)}\n`));
    }
    if (this.embedded) await this.embedded.stop();
  }
}
