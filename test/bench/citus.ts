/**
 * `npm run bench -- --citus <coordinator URL>` (issue 15): the migration of 1M rows (10 tenants ×
 * 100,000 orders by default, --tenants/--rows change it) into a Citus cluster, against what a DBA
 * would do by hand in the same run: create the distributed table, then a per-tenant binary COPY pipe
 * into it through the coordinator. Key `citus`: ratio = baseline seconds / the tool's copy phase.
 * The coordinator URL's user must be a superuser (or own the database); the cluster is left as found:
 * the tool's run is reverted and its state schema dropped.
 */
import { execFileSync } from 'node:child_process';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { ident, literal } from '../../src/db/ident.js';
import { generateWideTenants } from '../../fixtures/bulk.js';
import { registryTenants } from './baselines.js';
import type { BenchServer } from './db.js';
import { connectedClient, withClient } from './db.js';
import type { RunWorkerResult, WorkerJob } from './protocol.js';

export interface CitusBench {
  coordinator: string;
  workers: number;
  tenants: number;
  rows: number;
  /** The tool's copy phase (data into the distributed tables). */
  toolSeconds: number;
  /** The whole `run`: tables, distribution, copy, keys, indexes, RLS, verification. */
  toolRunSeconds: number;
  baselineSeconds: number;
  ratio: number;
  rowsCopied: number;
  phases: Record<string, number>;
  peakRssMb: number;
}

export interface CitusBenchContext {
  server: BenchServer;
  coordinator: string;
  tenants: number;
  rows: number;
  concurrency?: number;
  /** A database name on the bench server, unique to this run. */
  db: (name: string) => string;
  run: (job: WorkerJob & { kind: 'run' }, label: string) => Promise<RunWorkerResult>;
  progress: (m: string) => void;
}

const BIN = fileURLToPath(new URL('../../../bin/oasys-migrate.js', import.meta.url));
const BASELINE = 'oasys_bench_citus_baseline';
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** --citus alone measures only the Citus migration, at 1M rows unless --tenants/--rows say otherwise. */
export function citusDefaults(url: string | undefined, argv: string[], only: Set<string>): { tenants?: number; rows?: number; only: Set<string> } {
  if (!url || !/^postgres(ql)?:\/\//.test(url)) throw new Error('--citus needs the coordinator as a postgres:// URL');
  const given = (flag: string) => argv.some((a) => a === flag || a.startsWith(flag + '='));
  return {
    ...(given('--tenants') ? {} : { tenants: 10 }),
    ...(given('--rows') ? {} : { rows: 100_000 }),
    only: given('--only') ? only : new Set(),
  };
}

/** The bench table's rows for the Citus measurement. */
export function citusRows(d: CitusBench): string[][] {
  const s = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)} s` : '—');
  return [
    [`citus copy (${d.rows.toLocaleString('en-US')} rows, ${d.workers} workers)`, s(d.toolSeconds), s(d.baselineSeconds), d.ratio.toFixed(2), ''],
    ['citus whole run (distribution, keys, RLS, verify)', s(d.toolRunSeconds), '', '', ''],
  ];
}

/** The coordinator URL without its password, for the report. */
function shown(url: string): string {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

export async function measureCitus(o: CitusBenchContext): Promise<CitusBench> {
  const { coordinator, progress } = o;
  const facts = await withClient(coordinator, async (c) => {
    const ext = await c.query(`SELECT 1 FROM pg_extension WHERE extname = 'citus'`);
    if (ext.rowCount === 0) throw new Error(`--citus ${shown(coordinator)}: the database has no citus extension`);
    const busy = await c.query(
      `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE (n.nspname = 'public' AND c.relname IN ('orders', 'customers_client', ${literal(BASELINE)})) OR n.nspname = 'oasys_migrate'`,
    );
    if (busy.rowCount) throw new Error(`--citus: the coordinator already has ${busy.rows.map((r) => r.name).join(', ')}; the benchmark needs them absent`);
    return { workers: Number((await c.query(`SELECT count(*) AS n FROM pg_dist_node WHERE groupid <> 0`)).rows[0].n) };
  });

  const srcName = o.db('citus_src');
  const src = await o.server.createDatabase(srcName);
  progress(`citus: generating ${o.tenants} tenants × ${o.rows.toLocaleString('en-US')} rows of orders`);
  await generateWideTenants(src, { tenants: o.tenants, rows: o.rows });
  await o.server.exec('VACUUM (FREEZE, ANALYZE)', srcName);

  try {
    progress(`citus baseline: create_distributed_table, then a binary COPY pipe per tenant into it (${facts.workers} workers)`);
    const base = await copyIntoDistributed(src, coordinator);
    progress(`  ${base.seconds.toFixed(2)} s, ${base.rows.toLocaleString('en-US')} rows`);

    progress('citus: oasys-migrate run --target <coordinator>');
    const run = await o.run({ kind: 'run', source: src, target: coordinator, concurrency: o.concurrency }, 'citus run');
    const copy = run.phases.copy ?? NaN;
    progress(`  copy ${copy.toFixed(2)} s, whole run ${run.seconds.toFixed(2)} s, peak RSS ${run.maxRssMb.toFixed(0)} MB`);
    if (!run.verifyOk) throw new Error('citus: the run did not verify');
    return {
      coordinator: shown(coordinator),
      workers: facts.workers,
      tenants: o.tenants,
      rows: o.tenants * o.rows,
      toolSeconds: r3(copy),
      toolRunSeconds: r3(run.seconds),
      baselineSeconds: r3(base.seconds),
      ratio: r3(base.seconds / copy),
      rowsCopied: run.rowsCopied,
      phases: Object.fromEntries(Object.entries(run.phases).map(([k, v]) => [k, r3(v)])),
      peakRssMb: Math.round(run.maxRssMb),
    };
  } finally {
    // Leave the cluster as found: undo the tool's run (its tables, their distribution), then its state.
    progress('citus: revert, and drop the state schema');
    try {
      execFileSync(process.execPath, [BIN, 'revert', '--yes', '--quiet', '--source', src, '--target', coordinator], { stdio: ['ignore', 'ignore', 'inherit'] });
    } catch {
      progress('  (no run to revert)');
    }
    await withClient(coordinator, (c) => c.query(`DROP TABLE IF EXISTS public.${ident(BASELINE)}; DROP SCHEMA IF EXISTS oasys_migrate CASCADE`));
    await o.server.dropDatabase(srcName);
  }
}

/** The hand-made load: the tool's distributed table without keys or indexes, filled tenant by tenant with binary COPY. */
async function copyIntoDistributed(sourceUrl: string, coordinator: string): Promise<{ seconds: number; rows: number }> {
  const src = await connectedClient(sourceUrl);
  const tgt = await connectedClient(coordinator);
  const table = `public.${ident(BASELINE)}`;
  try {
    const reg = await registryTenants(src);
    const defs = (
      await src.query<{ defs: string }>(
        `SELECT string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) AS defs
           FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
        [ident(reg.tenants[0].schema, 'orders')],
      )
    ).rows[0].defs;
    await tgt.query(`CREATE TABLE ${table} (tenant_id ${reg.idType} NOT NULL, ${defs})`);
    await tgt.query(`SELECT create_distributed_table(${literal(table)}, 'tenant_id')`);
    let rows = 0;
    const started = performance.now();
    for (const t of reg.tenants) {
      const into = tgt.query(copyStreams.from(`COPY ${table} FROM STDIN (FORMAT binary)`));
      const out = src.query(copyStreams.to(`COPY (SELECT ${literal(t.id)}::${reg.idType}, * FROM ${ident(t.schema, 'orders')}) TO STDOUT (FORMAT binary)`));
      await pipeline(out, into);
      rows += Number((into as unknown as { rowCount?: number }).rowCount ?? 0);
    }
    return { seconds: (performance.now() - started) / 1000, rows };
  } finally {
    await tgt.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await src.end().catch(() => undefined);
    await tgt.end().catch(() => undefined);
  }
}
