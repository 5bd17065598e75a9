import type pg from 'pg';
import { backendPid } from './connect.js';

/**
 * Which server connection (backend pid) read which tenant tables, and a way back to it.
 *
 * A connection that opens a table for the first time builds the table's cache entries from the
 * catalogs, and at 50,000 tenants × 5 tables that is most of what a small query costs: 200 tables
 * never opened by the connection take 36 ms, on the connection that opened them 12 ms. `run`
 * notes here which connection copied each tenant's table; its closing verification scans those
 * source tables again on that same connection while it is still in the pool, instead of making
 * fresh connections build 250,000 cache entries a second time (and hold them: about 11 kB each).
 */
export class ReadBy {
  private readonly units: { table: string; pid: number; schemas: string[] }[] = [];

  note(table: string, pid: number, schemas: string[]): void {
    this.units.push({ table, pid, schemas });
  }

  pids(): Set<number> {
    return new Set(this.units.map((u) => u.pid));
  }

  /**
   * `schemas` of `table` in parts of at most `size`, each read by one connection (`via`: its pid;
   * 0 when not known), the connections taking turns so that parts running side by side mostly use
   * different ones.
   */
  parts(table: string, schemas: string[], size: number): { schemas: string[]; via: number }[] {
    const pidOf = new Map<string, number>();
    for (const u of this.units) if (u.table === table) for (const s of u.schemas) pidOf.set(s, u.pid);
    const groups = new Map<number, string[]>();
    for (const s of schemas) {
      const via = pidOf.get(s) ?? 0;
      const g = groups.get(via);
      if (g) g.push(s);
      else groups.set(via, [s]);
    }
    const lists = [...groups].map(([via, list]) => {
      const out: { schemas: string[]; via: number }[] = [];
      for (let i = 0; i < list.length; i += size) out.push({ schemas: list.slice(i, i + size), via });
      return out;
    });
    const out: { schemas: string[]; via: number }[] = [];
    for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) if (i < l.length) out.push(l[i]);
    return out;
  }
}

interface PinnedClient {
  client: pg.PoolClient;
  busy: boolean;
  broken: boolean;
}

/**
 * The pool's idle connections whose backend is one of `pids` (at most `max` of them), checked out
 * until `release`. Each runs one transaction at a time. At least one of the
 * pool's connections is left to everything else, which goes on through the pool (a session's
 * pool has the concurrency plus two).
 */
export class Pinned {
  private constructor(private readonly clients: Map<number, PinnedClient>) {}

  static async take(pool: pg.Pool, pids: Set<number>, max: number): Promise<Pinned> {
    const keep = new Map<number, PinnedClient>();
    const others: pg.PoolClient[] = [];
    try {
      // Idle connections are handed out before new ones are made: asking as many times as there are idle ones sees each once.
      const most = Math.min(max, (pool as unknown as { options: { max: number } }).options.max - 1);
      for (let i = pool.idleCount; i > 0 && keep.size < most; i--) {
        const client = await pool.connect();
        const pid = backendPid(client);
        if (pids.has(pid) && !keep.has(pid)) keep.set(pid, { client, busy: false, broken: false });
        else others.push(client);
      }
    } finally {
      for (const c of others) c.release();
    }
    return new Pinned(keep);
  }

  get size(): number {
    return this.clients.size;
  }

  /**
   * `fn` in a read-only transaction on the connection of backend `pid`; undefined when that
   * connection is not here, broke, or is busy — then the caller goes to the pool: a table opened
   * again costs less than waiting while the other connections idle.
   */
  inTransaction<T>(pid: number, fn: (client: pg.ClientBase) => Promise<T>): Promise<T> | undefined {
    const p = this.clients.get(pid);
    if (p === undefined || p.broken || p.busy) return undefined;
    p.busy = true;
    return (async () => {
      try {
        await p.client.query('BEGIN READ ONLY');
        const result = await fn(p.client);
        await p.client.query('COMMIT');
        return result;
      } catch (err) {
        await p.client.query('ROLLBACK').catch(() => {
          p.broken = true;
        });
        throw err;
      } finally {
        p.busy = false;
      }
    })();
  }

  release(): void {
    for (const p of this.clients.values()) p.client.release(p.broken);
    this.clients.clear();
  }
}
