import type pg from 'pg';
import { isNetworkError } from '../errors.js';
import { backendPid } from './connect.js';

/**
 * Which server connection (backend pid) read which tenant tables, and a way back to it.
 *
 * A connection that opens a table for the first time builds the table's cache entries from the
 * catalogs, and at 50,000 tenants × 5 tables that is most of what a small query costs: 200 tables
 * never opened by the connection take 36 ms, on the connection that opened them 12 ms. `run`
 * notes here which connection copied each tenant's table; its closing verification scans those
 * source tables again on that same connection while it is still in the pool, instead of on
 * whichever connection is free, which then opens tables it never opened (each adds about 11 kB of
 * cache, held until the connection ends).
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
  onError: () => void;
}

/**
 * The pool's idle connections whose backend is one of `pids`, checked out until `release`: at most
 * `most`, and never so many that fewer than `leave` remain to the pool for everything else (the
 * target's side of a verification goes on through the pool). Each runs one read-only transaction at
 * a time; a connection that is busy, or broke (a network error, or the server ended it while it
 * waited here), is not offered again: the caller goes to the pool.
 */
export class Pinned {
  private readonly running = new Set<Promise<unknown>>();

  private constructor(private readonly clients: Map<number, PinnedClient>) {}

  static async take(pool: pg.Pool, pids: Set<number>, o: { most: number; leave: number }): Promise<Pinned> {
    const keep = new Map<number, PinnedClient>();
    const others: pg.PoolClient[] = [];
    const most = Math.min(o.most, (pool as unknown as { options: { max: number } }).options.max - o.leave);
    try {
      // Idle connections are handed out before new ones are made: asking as many times as there are idle ones sees each once.
      for (let i = pids.size > 0 ? pool.idleCount : 0; i > 0 && keep.size < most; i--) {
        const client = await pool.connect();
        const pid = backendPid(client);
        if (!pids.has(pid) || keep.has(pid)) {
          others.push(client);
          continue;
        }
        const p: PinnedClient = { client, busy: false, broken: false, onError: () => (p.broken = true) };
        // Out of the pool nobody else listens: an error event without a listener would end the process.
        client.on('error', p.onError);
        client.on('end', p.onError);
        keep.set(pid, p);
      }
    } catch (err) {
      for (const p of keep.values()) release(p);
      throw err;
    } finally {
      for (const c of others) c.release();
    }
    return new Pinned(keep);
  }

  get size(): number {
    return this.clients.size;
  }

  /** Whether the connection of backend `pid` broke here (what ran on it may be run again elsewhere). */
  broke(pid: number): boolean {
    return this.clients.get(pid)?.broken ?? false;
  }

  /** `fn` in a read-only transaction on the connection of backend `pid`; undefined when that connection is not here, busy or broken. */
  inTransaction<T>(pid: number, fn: (client: pg.ClientBase) => Promise<T>): Promise<T> | undefined {
    const p = this.clients.get(pid);
    if (p === undefined || p.broken || p.busy) return undefined;
    p.busy = true;
    const run = (async () => {
      try {
        await p.client.query('BEGIN READ ONLY');
        const result = await fn(p.client);
        await p.client.query('COMMIT');
        return result;
      } catch (err) {
        if (isNetworkError(err)) p.broken = true;
        else
          await p.client.query('ROLLBACK').catch(() => {
            p.broken = true;
          });
        throw err;
      } finally {
        p.busy = false;
      }
    })();
    this.running.add(run);
    void run.catch(() => undefined).finally(() => this.running.delete(run));
    return run;
  }

  /** Gives the connections back to the pool once what runs on them has ended (a broken one is closed). */
  async release(): Promise<void> {
    await Promise.allSettled([...this.running]);
    for (const p of this.clients.values()) release(p);
    this.clients.clear();
  }
}

function release(p: PinnedClient): void {
  p.client.removeListener('error', p.onError);
  p.client.removeListener('end', p.onError);
  p.client.release(p.broken);
}
