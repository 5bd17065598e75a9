import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { withTransaction } from '../db/connect.js';
import { ident } from '../db/ident.js';
import type { Plan, UnifiedTable } from '../plan/model.js';
import { ProblemCode } from '../discover/problems.js';
import { stateSchemaExists } from '../state/journal.js';
import { formatBytes, type TableStats } from './size.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * What `plan` says before the night: the disk the unified tables will take, the free space where
 * the server lets it be seen, and how long `run` should take on this server. Every figure says
 * where it comes from; what cannot be known is null with the reason, never a guess dressed as a fact.
 */
export interface Estimate {
  disk: DiskEstimate;
  freeSpace: FreeSpace;
  time: TimeEstimate;
}

export interface DiskEstimate {
  /** The unified tables' heap and TOAST, and their indexes, once every selected tenant is in. */
  tableBytes: number;
  indexBytes: number;
  targetBytes: number;
  /** What the run writes besides: WAL (bounded by max_wal_size between checkpoints). */
  walBytes: number;
  /** What should be free where the unified tables go: targetBytes + walBytes. */
  neededBytes: number;
  /** The tenant tables on disk now (what the catalog's page counts say). */
  sourceBytes: number;
  /** Tenant tables never vacuumed nor analyzed: their pages are unknown, their rows are counted at the row width of the columns' types. */
  unmeasuredTables: number;
}

export interface FreeSpace {
  /** Free bytes for the server's user on the filesystem of the target's tablespace; null: unknown. */
  bytes: number | null;
  /** That directory (when known). */
  path: string | null;
  /** How it was learnt, or why it could not be. */
  how: string;
  /** True when it looks short of neededBytes; null when unknown. */
  short: boolean | null;
}

export interface TimeEstimate {
  seconds: number | null;
  /** measured: scaled from the last completed run on this target; calibrated: from a timed read of a sample now. */
  basis: 'measured' | 'calibrated' | 'unknown';
  detail: string;
}

/**
 * The whole estimate for `plan`; a free space that looks short becomes a DISK_SPACE_SHORT warning
 * in the plan's problems (not blocking: the figure is an estimate).
 */
export async function estimatePlan(source: pg.Pool, target: pg.Pool, plan: Plan, stats: Record<string, TableStats>, planSeconds: number): Promise<Estimate> {
  // Read-only like the rest of `plan`: the database guarantees the estimate writes nothing.
  return withTransaction(
    target,
    async (t) => {
      const s = await t.query<{ block: number; wal: number }>(
        `SELECT pg_catalog.current_setting('block_size')::int AS block, pg_catalog.pg_size_bytes(pg_catalog.current_setting('max_wal_size'))::float8 AS wal`,
      );
      const disk = diskEstimate(plan, stats, s.rows[0].block, s.rows[0].wal);
      const free = await freeSpace(t, disk.neededBytes);
      if (free.short) {
        plan.problems.push({
          severity: 'warning',
          code: ProblemCode.DISK_SPACE_SHORT,
          message: `${formatBytes(free.bytes!)} free in ${free.path}, and the run needs about ${formatBytes(disk.neededBytes)} there (unified tables and indexes ${formatBytes(disk.targetBytes)}, WAL ${formatBytes(disk.walBytes)})`,
          hint: 'free space on that filesystem (or put the target schema on another tablespace) before `run`; a full disk stops the run mid-way (it resumes, but the server may stop too)',
        });
      }
      return { disk, freeSpace: free, time: await timeEstimate(source, t, plan, planSeconds) };
    },
    { readOnly: true },
  );
}

/** Bytes of a heap tuple's header and line pointer; of an index tuple's header and line pointer. */
const HEAP_ROW_OVERHEAD = 28;
const INDEX_ROW_OVERHEAD = 12;

const TYPE_WIDTH: [RegExp, number][] = [
  [/^(smallint)$/, 2],
  [/^(integer|real|date)$/, 4],
  [/^(bigint|double precision|timestamp|time |money)/, 8],
  [/^boolean$/, 1],
  [/^uuid$/, 16],
  [/^numeric/, 10],
];

/** A column's width from its type when nothing better is known: variable-length values counted at 24 bytes. */
export function typeWidth(type: string): number {
  for (const [re, w] of TYPE_WIDTH) if (re.test(type)) return w;
  return 24;
}

/**
 * The unified table's size from the tenant tables' catalog figures: rows × the width of a row
 * and of its index entries, plus the tenant column in every row and index entry, plus TOAST as it
 * is. The widths come from the tenants big enough for their pages to say it (8+ pages: a tiny
 * tenant's page is mostly empty, so summing pages overestimates many small tenants tenfold), else
 * from the columns' types.
 */
export function unifiedTableBytes(
  t: Pick<UnifiedTable, 'columns' | 'indexes' | 'primaryKey' | 'uniques' | 'tenantColumnType'>,
  s: TableStats,
  blockSize: number,
) {
  const tenantWidth = typeWidth(t.tenantColumnType);
  const typed = HEAP_ROW_OVERHEAD + t.columns.reduce((a, c) => a + typeWidth(c.type), 0);
  // Only tables of 8+ pages say how wide a row is: a tiny tenant's one page is mostly empty.
  const rowBytes = s.denseRows > 0 ? (s.denseHeapPages * blockSize) / s.denseRows : typed;
  const heap = s.rows * (rowBytes + tenantWidth) + s.toastPages * blockSize;
  const nIndexes = 1 + t.uniques.length + t.indexes.length - (t.primaryKey ? 0 : 1);
  const indexRowBytes = s.denseRows > 0 && s.denseIndexPages > 0 ? (s.denseIndexPages * blockSize) / s.denseRows : nIndexes * (INDEX_ROW_OVERHEAD + 8);
  const index = s.rows * (indexRowBytes + nIndexes * tenantWidth);
  // Every relation has at least one page; an index a meta page and a root.
  return { heap: Math.max(heap, blockSize), index: Math.max(index, nIndexes * 2 * blockSize) };
}

export function diskEstimate(plan: Plan, stats: Record<string, TableStats>, blockSize: number, maxWalBytes: number): DiskEstimate {
  let tableBytes = 0;
  let indexBytes = 0;
  let sourceBytes = 0;
  let unmeasuredTables = 0;
  for (const t of plan.tables) {
    const s = stats[t.target];
    if (!s) continue;
    const b = unifiedTableBytes(t, s, blockSize);
    tableBytes += b.heap;
    indexBytes += b.index;
    sourceBytes += s.bytes;
    unmeasuredTables += s.unmeasured;
  }
  const targetBytes = Math.round(tableBytes + indexBytes);
  // Every new page is WAL-logged; checkpoints recycle WAL past max_wal_size (a replication slot or a
  // failing archive_command would keep more: the free-space line says so).
  const walBytes = Math.round(Math.min(targetBytes, maxWalBytes));
  return {
    tableBytes: Math.round(tableBytes),
    indexBytes: Math.round(indexBytes),
    targetBytes,
    walBytes,
    neededBytes: targetBytes + walBytes,
    sourceBytes: Math.round(sourceBytes),
    unmeasuredTables,
  };
}

/**
 * Free space where the target's tables go. SQL has no function for it, so it is known only when
 * the server runs on this machine: the role may read data_directory (pg_read_all_settings), the
 * connection is local, and that directory here holds this server's PG_VERSION.
 */
export async function freeSpace(target: Queryable, neededBytes: number): Promise<FreeSpace> {
  const unknown = (how: string): FreeSpace => ({ bytes: null, path: null, how, short: null });
  const r = await target.query<{ datadir: string | null; local: boolean; major: string; spc: string; loc: string | null }>(
    `SELECT (SELECT setting FROM pg_catalog.pg_settings WHERE name = 'data_directory') AS datadir,
            coalesce(host(pg_catalog.inet_server_addr()) IN ('127.0.0.1', '::1'), true) AS local,
            (pg_catalog.current_setting('server_version_num')::int / 10000)::text AS major,
            ts.spcname AS spc,
            CASE WHEN ts.spcname IN ('pg_default', 'pg_global') THEN NULL ELSE pg_catalog.pg_tablespace_location(ts.oid) END AS loc
       FROM pg_catalog.pg_tablespace ts
      WHERE ts.oid = coalesce(
              (SELECT oid FROM pg_catalog.pg_tablespace WHERE spcname = nullif(pg_catalog.current_setting('default_tablespace'), '')),
              (SELECT dattablespace FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))`,
  );
  const row = r.rows[0];
  if (!row) return unknown('unknown: the target database has no tablespace the role can see');
  if (!row.local) return unknown('unknown: the server is on another machine and PostgreSQL does not tell free disk space through SQL; check it there (df)');
  if (!row.datadir) return unknown('unknown: the role may not read data_directory (pg_read_all_settings); check the server (df)');
  const dir = row.loc ?? path.join(row.datadir, 'base');
  let version: string;
  try {
    version = fs.readFileSync(path.join(row.datadir, 'PG_VERSION'), 'utf8').trim();
  } catch {
    return unknown(`unknown: the server's data directory ${row.datadir} is not on this machine (or not readable here); check the server (df)`);
  }
  if (version !== row.major) return unknown(`unknown: ${row.datadir} here belongs to another server (PostgreSQL ${version}); check the server (df)`);
  try {
    const st = fs.statfsSync(dir);
    const bytes = st.bavail * st.bsize;
    return { bytes, path: dir, how: `statfs of tablespace ${row.spc} (${dir}) on this machine`, short: bytes < neededBytes };
  } catch (err) {
    return unknown(`unknown: cannot stat ${dir} (${(err as Error).message}); check the server (df)`);
  }
}

/** A step's fixed cost in a run, and a row's when the sample is too small to say (benchmark: 10,000 tenants × 5 tiny tables; 1M rows). */
const STEP_SECONDS = 0.0003;
const ROW_SECONDS = 0.0000035;
/**
 * A whole run (copy, keys, indexes, ANALYZE, verification) per row, in timed reads of the same row
 * (count and hashtext of the row's text): 2.35 s for 90,000 rows that read at 16.5 µs a row (1.6×),
 * and the benchmark's 3.5 µs a row for a whole run against ~1.4 µs for such a read (2.5×).
 */
const RUN_PER_READ = 2;
const SAMPLE_ROWS = 100_000;
const MIN_SAMPLE = 10_000;

/**
 * How long `run` should take: scaled from the last completed run on this target when there is one
 * (a canary run measures the server best), else from a timed read of the biggest tenant table's
 * first rows now, with the benchmark's ratio of a whole run to a read of the same rows.
 */
export async function timeEstimate(source: pg.Pool, target: Queryable, plan: Plan, planSeconds: number): Promise<TimeEstimate> {
  const copies = plan.steps.filter((s) => s.copy);
  const rows = copies.reduce((a, s) => a + Math.max(0, s.copy!.estimatedRows), 0);
  const steps = plan.steps.length;
  const round = (x: number) => Math.round(x * 10) / 10;
  if (await stateSchemaExists(target)) {
    const r = await target.query<{ run: string; seconds: number; rows: number; steps: number }>(
      `SELECT r.run_id::text AS run, EXTRACT(EPOCH FROM r.finished_at - r.started_at)::float8 AS seconds, r.rows_copied::float8 AS rows,
              (SELECT count(*) FROM oasys_migrate.step s WHERE s.run_id = r.run_id)::float8 AS steps
         FROM oasys_migrate.run r WHERE r.state = 'completed' AND r.finished_at IS NOT NULL ORDER BY r.run_id DESC LIMIT 1`,
    );
    const last = r.rows[0];
    if (last && last.seconds > 0 && last.steps > 0) {
      // Split the measured run into per-step and per-row costs in the benchmark's proportion.
      const model = last.rows * ROW_SECONDS + last.steps * STEP_SECONDS;
      const seconds = (last.seconds * (rows * ROW_SECONDS + steps * STEP_SECONDS)) / model;
      return {
        seconds: round(seconds),
        basis: 'measured',
        detail: `measured: run #${last.run} on this target took ${last.seconds.toFixed(1)} s for ${Math.round(last.rows)} rows in ${last.steps} steps; scaled to ≈ ${Math.round(rows)} rows in ${steps} steps`,
      };
    }
  }
  const biggest = copies.reduce<(typeof copies)[number] | undefined>((a, s) => (!a || s.copy!.estimatedRows > a.copy!.estimatedRows ? s : a), undefined);
  if (!biggest || rows === 0)
    return { seconds: round(planSeconds + steps * STEP_SECONDS), basis: 'calibrated', detail: 'no rows to copy: planning plus the steps' };
  const name = `${biggest.copy!.tenant}.${biggest.copy!.sourceTable}`;
  const client = await source.connect();
  let n = 0;
  let sampleSeconds = 0;
  let failed: string | undefined;
  try {
    await client.query('BEGIN READ ONLY');
    // Never queue behind the application's locks for a calibration.
    await client.query(`SET LOCAL lock_timeout = '300ms'`);
    const l0 = performance.now();
    await client.query('SELECT 1');
    const latency = (performance.now() - l0) / 1000;
    const t0 = performance.now();
    const c = await client.query<{ n: number }>(
      `SELECT count(*)::float8 AS n, sum(pg_catalog.hashtext(t::text)) FROM (SELECT * FROM ${ident(biggest.copy!.tenant, biggest.copy!.sourceTable)} LIMIT $1) t`,
      [SAMPLE_ROWS],
    );
    sampleSeconds = Math.max(0, (performance.now() - t0) / 1000 - latency);
    n = c.rows[0].n;
  } catch (err) {
    failed = (err as Error).message;
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
  const perRow = n >= MIN_SAMPLE ? (sampleSeconds / n) * RUN_PER_READ : ROW_SECONDS;
  const seconds = planSeconds + rows * perRow + steps * STEP_SECONDS;
  return {
    seconds: round(seconds),
    basis: 'calibrated',
    detail:
      n >= MIN_SAMPLE
        ? `calibrated: read ${n} rows of ${name} in ${sampleSeconds.toFixed(3)} s now; a run costs about ${RUN_PER_READ}× such a read per row, plus ${STEP_SECONDS * 1000} ms per step and planning (${planSeconds.toFixed(1)} s) (benchmark ratios)`
        : `calibrated on the benchmark's rates (${failed ? `the timed read of ${name} failed: ${failed}` : `the biggest tenant table, ${name}, has only ${n} rows to time`}): ${ROW_SECONDS * 1e6} µs per row, ${STEP_SECONDS * 1000} ms per step, plus planning (${planSeconds.toFixed(1)} s)`,
  };
}
