/**
 * The online measurement (issue 14): `run --online` and `cutover` on their own embedded server
 * (wal_level = logical; the other measurements keep theirs untouched), while a load generator
 * writes a few hundred transactions per second across the tenants (inserts, updates, deletes,
 * some spanning two tenants) during the copy and the follow. The writes stop, then `cutover --yes`
 * runs: the downtime is from the moment the writes stopped to the end of the cut-over (process
 * start, catch-up of the last changes, fence, sequences, verification, slot dropped). The result
 * is compared with the source per tenant by hashes computed here, independently of the tool.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { generateWideTenants } from '../../fixtures/bulk.js';
import { startEmbeddedServer } from '../../src/embedded/server.js';
import { withClient } from './db.js';

export interface OnlineM {
  tenants: number;
  rows: number;
  /** Transactions the load generator committed (during the copy and the follow). */
  writes: number;
  writesPerSecond: number;
  copySeconds: number;
  /** Changes applied by run --online's catch-up, per second of that catch-up. */
  applyChangesPerSecond: number;
  changesApplied: number;
  /**
   * Changes applied per second by the catch-up during the follow (the second `run`): the source
   * WAL holds only the application's writes there, not the copy's own rows, so this is the rate of
   * reading, decoding and applying the application's changes.
   */
  followChangesPerSecond: number;
  followChanges: number;
  /** The cut-over's own breakdown of the write stop (seconds; see CutoverResult.downtime). */
  downtimeParts: Record<string, number>;
  /** From the writes' stop to the end of `cutover` (what the application waits). */
  downtimeSeconds: number;
  /** The tool's own figure: from its confirmation (after catching up) to completion. */
  toolDowntimeSeconds: number;
  /** Every tenant's rows equal the source's at the fence (count and hash, computed by the benchmark). */
  exact: boolean;
  mismatches: string[];
  slotsLeft: number;
}

/** The CLI as a user runs it (this module runs from dist/test/bench/). */
const BIN = fileURLToPath(new URL('../../../bin/oasys-migrate.js', import.meta.url));

const COLS = ['id', 'customer', 'sku', 'qty', 'price', 'total', 'placed_at', 'shipped', 'notes', 'attrs', 'region', 'updated_at'];

export async function measureOnline(o: { tenants: number; rows: number; tps: number; progress: (m: string) => void }): Promise<OnlineM> {
  const { progress } = o;
  progress('online: starting an embedded PostgreSQL with wal_level = logical');
  const server = await startEmbeddedServer({ quiet: true, logical: true });
  try {
    await withClient(server.url, (c) => c.query('CREATE DATABASE oasys_bench_online'));
    const url = server.urlFor('oasys_bench_online');
    progress(`online: generating ${o.tenants} tenants × ${o.rows.toLocaleString('en-US')} rows of orders`);
    const { schemas } = await generateWideTenants(url, { tenants: o.tenants, rows: o.rows });
    await withClient(url, (c) => c.query('VACUUM (FREEZE, ANALYZE)'));

    const load = loadGenerator(url, schemas, o.rows, o.tps);
    progress(`online: run --online while ~${o.tps} transactions/s are written`);
    const run = await cli(['run', '--online', '--source', url, '--json']);
    const doc = JSON.parse(run) as { seconds: number; online: { changes: number; seconds: number } };
    progress(`  copied and caught up in ${doc.seconds.toFixed(1)} s; ${doc.online.changes} changes applied in ${doc.online.seconds.toFixed(2)} s`);
    // The follow: the application goes on writing for a while; then the operator catches up once
    // more (`run` resumes the online run: it applies what was written and returns) and stops the writes.
    await new Promise((r) => setTimeout(r, 5000));
    const again = JSON.parse(await cli(['run', '--source', url, '--json'])) as { online?: { changes: number; seconds: number } };
    const followed = again.online ?? { changes: 0, seconds: 0 };
    progress(`  followed: ${followed.changes} changes applied in ${followed.seconds.toFixed(2)} s`);
    const loaded = await load.stop();
    const stopped = performance.now();
    progress(`online: writes stopped (${loaded.txns} transactions in ${loaded.seconds.toFixed(1)} s); cutover --yes`);
    const cut = JSON.parse(await cli(['cutover', '--yes', '--source', url, '--json'])) as { downtimeSeconds: number; downtime: Record<string, number> };
    const downtime = (performance.now() - stopped) / 1000;
    progress(
      `  cut over: ${downtime.toFixed(2)} s from the writes' stop (the tool's own figure ${cut.downtimeSeconds.toFixed(2)} s: ${JSON.stringify(cut.downtime)})`,
    );

    const mismatches = await compareTenants(server.url, url);
    const slots = await withClient(url, async (c) => Number((await c.query(`SELECT count(*) AS n FROM pg_replication_slots`)).rows[0].n));
    return {
      tenants: o.tenants,
      rows: o.tenants * o.rows,
      writes: loaded.txns,
      writesPerSecond: Math.round(loaded.txns / loaded.seconds),
      copySeconds: Math.round(doc.seconds * 1000) / 1000,
      applyChangesPerSecond: Math.round(doc.online.changes / Math.max(doc.online.seconds, 0.001)),
      changesApplied: doc.online.changes,
      followChangesPerSecond: Math.round(followed.changes / Math.max(followed.seconds, 0.001)),
      followChanges: followed.changes,
      downtimeParts: cut.downtime,
      downtimeSeconds: Math.round(downtime * 1000) / 1000,
      toolDowntimeSeconds: Math.round(cut.downtimeSeconds * 1000) / 1000,
      exact: mismatches.length === 0,
      mismatches: mismatches.slice(0, 10),
      slotsLeft: slots,
    };
  } finally {
    await server.stop();
  }
}

/** Per tenant: count and md5 of the rows in id order, source schema against the unified table's rows of its tenant id. */
async function compareTenants(_admin: string, url: string): Promise<string[]> {
  return withClient(url, async (c) => {
    const tenants = (
      await c.query<{ id: string; s: string }>(`SELECT id::text AS id, schema_name AS s FROM public.customers_client WHERE schema_name <> 'public' ORDER BY id`)
    ).rows;
    const row = COLS.map((x) => `t.${x}`).join(', ');
    const bad: string[] = [];
    for (const t of tenants) {
      const q = (from: string, where = '') =>
        c.query<{ n: string; h: string | null }>(
          `SELECT count(*)::text AS n, md5(string_agg(ROW(${row})::text, E'\\n' ORDER BY t.id)) AS h FROM ${from} AS t ${where}`,
          where ? [t.id] : [],
        );
      const a = (await q(`"${t.s.replace(/"/g, '""')}".orders`)).rows[0];
      const b = (await q('public.orders', 'WHERE t.tenant_id = $1::bigint')).rows[0];
      if (a.n !== b.n || a.h !== b.h) bad.push(`${t.s}: source ${a.n} rows ${a.h}, unified ${b.n} rows ${b.h}`);
    }
    return bad;
  });
}

/** Two connections writing about `tps` transactions per second in total until stopped. */
function loadGenerator(url: string, schemas: string[], rows: number, tps: number): { stop: () => Promise<{ txns: number; seconds: number }> } {
  let stopping = false;
  let txns = 0;
  const started = performance.now();
  const worker = async (w: number) => {
    const c = new pg.Client(url);
    await c.connect();
    let n = w;
    const perWorker = tps / 2;
    try {
      while (!stopping) {
        const t0 = performance.now();
        const s = `"${schemas[n % schemas.length]}".orders`;
        const id = 1 + ((n * 7919) % rows);
        switch (n % 10) {
          case 0:
          case 1:
          case 2:
          case 3:
            await c.query(
              `INSERT INTO ${s} (customer, sku, qty, price, total, placed_at, shipped, notes, attrs, region, updated_at)
                           VALUES ($1, 'SKU-X', 1, 9.99, 9.99, now(), false, 'it''s new', '{"k": 1}', 'eu', now())`,
              [`load ${n}`],
            );
            break;
          case 4:
          case 5:
          case 6:
            await c.query(`UPDATE ${s} SET qty = qty + 1, notes = $2, updated_at = now() WHERE id = $1`, [id, `updated ${n}`]);
            break;
          case 7:
            await c.query(`DELETE FROM ${s} WHERE id = $1`, [id + 1]);
            break;
          case 8: {
            const other = `"${schemas[(n + 1) % schemas.length]}".orders`;
            await c.query('BEGIN');
            await c.query(`UPDATE ${s} SET shipped = NOT shipped WHERE id = $1`, [id]);
            await c.query(`INSERT INTO ${other} (customer, qty) VALUES ('two tenants', 2)`);
            await c.query('COMMIT');
            break;
          }
          default:
            await c.query(`UPDATE ${s} SET attrs = jsonb_set(coalesce(attrs, '{}'), '{n}', to_jsonb($2::int)) WHERE id = $1`, [id, n]);
        }
        txns++;
        n += 2;
        const wait = 1000 / perWorker - (performance.now() - t0);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    } finally {
      await c.end();
    }
  };
  const all = Promise.all([worker(0), worker(1)]);
  return {
    async stop() {
      stopping = true;
      await all;
      return { txns, seconds: (performance.now() - started) / 1000 };
    },
  };
}

function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: os.tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`oasys-migrate ${args[0]} exited ${code}: ${err.slice(-2000)}`))));
  });
}
