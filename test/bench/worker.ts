/**
 * Runs one tool command (plan, run or verify) through the library API in its
 * own Node process, so that the process's peak resident set size
 * (`process.resourceUsage().maxRSS`, getrusage RUSAGE_SELF) is the tool's and
 * nothing else's. Started by bench.ts with `child_process.fork`; the job comes
 * as a JSON argument, progress (phase changes) and the result go back over the
 * IPC channel. Nothing is written to stdout.
 */
import os from 'node:os';
import { loadConfig } from '../../src/config/load.js';
import { planCommand } from '../../src/commands/plan.js';
import { runCommand } from '../../src/commands/run.js';
import { verifyCommand } from '../../src/commands/verify.js';
import { silentLogger } from '../../src/log.js';
import { PHASES } from '../../src/plan/model.js';
import type { WorkerJob, WorkerMessage, WorkerResult } from './protocol.js';

function send(msg: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

function maxRssMb(): number {
  return process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as WorkerJob;
  const cfg = loadConfig(
    { source: job.source, target: job.target, concurrency: job.concurrency, chunkRows: job.chunkRows },
    {},
    os.tmpdir(), // never pick up an oasys-migrate.config.json from the working directory
  );
  const log = silentLogger();
  const t0 = performance.now();
  const now = () => (performance.now() - t0) / 1000;
  let result: WorkerResult;
  if (job.kind === 'plan') {
    const r = await planCommand(cfg, log);
    result = {
      kind: 'plan',
      seconds: now(),
      toolSeconds: r.seconds,
      queryCount: r.queryCount,
      tenants: r.plan.tenants.length,
      tables: r.plan.tables.length,
      steps: r.plan.steps.length,
      blocking: r.blocking,
      problems: r.plan.problems.length,
      maxRssMb: maxRssMb(),
      estimate: r.estimate ? { targetBytes: r.estimate.disk.targetBytes, runSeconds: r.estimate.time.seconds } : undefined,
    };
  } else if (job.kind === 'verify') {
    const r = await verifyCommand(cfg, log);
    result = {
      kind: 'verify',
      seconds: now(),
      toolSeconds: r.seconds,
      ok: r.ok,
      results: r.results.length,
      mismatches: r.results.filter((x) => !x.ok).length,
      maxRssMb: maxRssMb(),
    };
  } else {
    // Phase start times as the executor reports them (it reports each phase
    // once when it begins, then after every unit of work).
    const phaseStarts: { phase: string; at: number }[] = [];
    let lastRows = 0;
    // The executor reports the last unit of its last phase, then returns and
    // the run verifies: that report marks the end of execution.
    let lastPhase: string | undefined;
    let execEndSeen: number | undefined;
    const r = await runCommand(cfg, log, {
      onPlanned: (plan) => {
        const present = new Set(plan.steps.map((s) => s.phase));
        lastPhase = [...PHASES].reverse().find((ph) => present.has(ph)) ?? plan.steps[plan.steps.length - 1]?.phase;
      },
      onProgress: (p) => {
        lastRows = p.rowsDone;
        if (phaseStarts.length === 0 || phaseStarts[phaseStarts.length - 1].phase !== p.phase) {
          const at = now();
          phaseStarts.push({ phase: p.phase, at });
          void send({ type: 'phase', phase: p.phase, at });
        }
        if (p.phase === lastPhase && p.stepsDone >= p.stepsTotal && execEndSeen === undefined) {
          execEndSeen = now();
          void send({ type: 'phase', phase: 'verify', at: execEndSeen });
        }
      },
    });
    const end = now();
    const verifyInRun = r.verify.seconds;
    // Fallback when the end of execution was not seen: verifyPlan measures
    // itself, so execution ended at the run's end minus that.
    const execEnd = execEndSeen ?? Math.max(phaseStarts.length ? phaseStarts[phaseStarts.length - 1].at : 0, end - verifyInRun);
    const phases: Record<string, number> = {};
    phases['prepare'] = phaseStarts.length ? phaseStarts[0].at : end - verifyInRun;
    phaseStarts.forEach((p, i) => {
      const stop = i + 1 < phaseStarts.length ? phaseStarts[i + 1].at : execEnd;
      phases[p.phase] = stop - p.at;
    });
    // Verification and the run's last journal writes.
    phases['verify'] = end - execEnd;
    if (execEndSeen === undefined) void send({ type: 'phase', phase: 'verify', at: execEnd });
    result = {
      kind: 'run',
      seconds: end,
      toolSeconds: r.seconds,
      runId: r.runId,
      rowsCopied: r.rowsCopied,
      rowsReported: lastRows,
      verifyOk: r.verify.ok,
      verifySeconds: verifyInRun,
      steps: r.plan.steps.length,
      phases,
      maxRssMb: maxRssMb(),
    };
  }
  await send({ type: 'result', result });
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    const e = err as { message?: string; hint?: string; stack?: string };
    await send({ type: 'error', message: String(e?.message ?? err), hint: e?.hint, stack: e?.stack });
    process.exit(1);
  },
);
