/**
 * One whale table (one tenant, `rows` rows of orders) migrated in place with the tool's default
 * chunking: the run is killed (SIGKILL of the worker) once its first chunk is done and the next is
 * half-way, then resumed. `redoRowsAfterKill` = the rows the killed run had inserted but not
 * committed (pg_stat_user_tables.n_tup_ins of the unified table, which counts aborted inserts
 * too, less the rows of the chunks the journal has done): what the resumed run must copy again.
 * Also the whole run without a kill, chunked and in one step (--chunk-rows above the table), on
 * fresh copies: what chunking costs in one database.
 */
import { withClient, type BenchServer } from './db.js';
import type { RunWorkerResult, WorkerJob } from './protocol.js';

export interface WhaleResult {
  rows: number;
  chunkRows: number;
  chunks: number;
  redoRowsAfterKill: number;
  chunksDoneAtKill: number;
  resumedRunSeconds: number;
  chunkedRunSeconds: number;
  chunkedCopySeconds: number;
  oneStepRunSeconds: number;
  oneStepCopySeconds: number;
  /** Into a separate target: chunks side by side vs one COPY stream. */
  crossChunkedCopySeconds: number;
  crossOneStepCopySeconds: number;
}

export async function measureWhale(o: {
  server: BenchServer;
  template: string;
  rows: number;
  chunkRows: number;
  dbName: (n: string) => string;
  runTool: (job: WorkerJob, onChild?: (kill: () => void) => void) => Promise<RunWorkerResult | undefined>;
  progress: (m: string) => void;
}): Promise<WhaleResult> {
  const name = o.dbName('whale_kill');
  const url = await o.server.createDatabase(name, o.template);
  o.progress(`whale: run with --chunk-rows ${o.chunkRows}, killed after its first chunk`);
  let killed = false;
  let chunkMs = 0;
  let timer: NodeJS.Timeout | undefined;
  await o
    .runTool({ kind: 'run', source: url, chunkRows: o.chunkRows }, (kill) => {
      // Poll the journal; once the first chunk is done, kill half a chunk later.
      const started = performance.now();
      timer = setInterval(() => {
        void withClient(url, async (c) => {
          const r = await c
            .query<{ n: number }>(`SELECT count(*)::int AS n FROM oasys_migrate.step WHERE phase = 'copy' AND state = 'done'`)
            .catch(() => ({ rows: [{ n: 0 }] }));
          if (r.rows[0].n >= 1 && !killed) {
            killed = true;
            clearInterval(timer);
            chunkMs = performance.now() - started;
            setTimeout(kill, Math.min(chunkMs / 2, 5000));
          }
        }).catch(() => undefined);
      }, 50);
    })
    .catch(() => undefined);
  // A killed client's backend finishes its statement, then notices and exits (flushing its statistics).
  for (let i = 0; i < 600; i++) {
    const n = Number(await o.server.scalar(`SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [name]));
    if (n === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const facts = await withClient(url, async (c) => {
    const ins = await c.query<{ n: string }>(`SELECT n_tup_ins::text AS n FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname = 'orders'`);
    const done = await c.query<{ rows: string; n: number; total: number }>(
      `SELECT COALESCE(sum(rows) FILTER (WHERE state = 'done'), 0)::text AS rows, count(*) FILTER (WHERE state = 'done')::int AS n, count(*)::int AS total
         FROM oasys_migrate.step WHERE phase = 'copy'`,
    );
    return { inserted: Number(ins.rows[0]?.n ?? 0), committed: Number(done.rows[0].rows), done: done.rows[0].n, chunks: done.rows[0].total };
  });
  o.progress(`  killed with ${facts.done}/${facts.chunks} chunks done; ${facts.inserted - facts.committed} rows inserted and lost`);
  const resumed = await o.runTool({ kind: 'run', source: url, chunkRows: o.chunkRows });
  if (!resumed?.verifyOk) throw new Error('whale: the resumed run did not verify');
  await o.server.dropDatabase(name);

  const plain = async (chunkRows: number, label: string) => {
    const n = o.dbName('whale_run');
    const u = await o.server.createDatabase(n, o.template);
    await o.server.checkpoint();
    o.progress(`whale: run ${label}`);
    const r = (await o.runTool({ kind: 'run', source: u, chunkRows }))!;
    o.progress(`  copy ${(r.phases.copy ?? NaN).toFixed(2)} s, whole run ${r.seconds.toFixed(2)} s`);
    await o.server.dropDatabase(n);
    return r;
  };
  const chunked = await plain(o.chunkRows, `in chunks of ${o.chunkRows}`);
  const whole = await plain(Math.max(o.rows * 2, 1000), 'in one step');
  const across = async (chunkRows: number, label: string) => {
    const s = o.dbName('whale_xsrc');
    const t = o.dbName('whale_xtgt');
    const su = await o.server.createDatabase(s, o.template);
    const tu = await o.server.createDatabase(t);
    await o.server.checkpoint();
    o.progress(`whale: run --target <empty database> ${label}`);
    const r = (await o.runTool({ kind: 'run', source: su, target: tu, chunkRows }))!;
    o.progress(`  copy ${(r.phases.copy ?? NaN).toFixed(2)} s, whole run ${r.seconds.toFixed(2)} s`);
    await o.server.dropDatabase(s);
    await o.server.dropDatabase(t);
    return r;
  };
  const crossChunked = await across(o.chunkRows, `in chunks of ${o.chunkRows}`);
  const crossWhole = await across(Math.max(o.rows * 2, 1000), 'in one step');
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    rows: o.rows,
    chunkRows: o.chunkRows,
    chunks: facts.chunks,
    redoRowsAfterKill: Math.max(0, facts.inserted - facts.committed),
    chunksDoneAtKill: facts.done,
    resumedRunSeconds: r3(resumed.seconds),
    chunkedRunSeconds: r3(chunked.seconds),
    chunkedCopySeconds: r3(chunked.phases.copy ?? NaN),
    oneStepRunSeconds: r3(whole.seconds),
    oneStepCopySeconds: r3(whole.phases.copy ?? NaN),
    crossChunkedCopySeconds: r3(crossChunked.phases.copy ?? NaN),
    crossOneStepCopySeconds: r3(crossWhole.phases.copy ?? NaN),
  };
}
