/**
 * Structured records for `--log-file` (JSON lines a log shipper can index):
 * every record has `event`, and, where they apply, `runId`, `phase`,
 * `tenant`, `table`, `rows`, `seconds` and `ok`. They go to the file only
 * (`fileOnly`), never to the terminal.
 *
 *   run.started     runId, tenants, tables, steps, resumed
 *   phase           runId, phase, steps, rows, seconds, ok (one per phase, when it completes; verify included)
 *   failure         command, tenant, table, message, hint, exitCode, ok=false (any command that fails)
 *   run.failed      runId, phase, tenant, table, message, hint, exitCode, ok=false (the phase it stopped in)
 *   step.failed     runId, phase, tenant, table, step, seconds, ok=false (each failed step, from the journal)
 *   run.completed   runId, rows, seconds, tenants, tables, mismatches, ok
 *   command.completed  command, exitCode, seconds, ok (every command, at the end)
 */
import type { Progress } from '../copy/execute.js';
import { OasysError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Plan } from '../plan/model.js';
import type { RunResult } from '../commands/run.js';
import type { ResolvedConfig } from '../config/load.js';
import { createPool } from '../db/connect.js';

export interface EventFields {
  event: string;
  runId?: number;
  phase?: string;
  tenant?: string;
  table?: string;
  rows?: number;
  seconds?: number;
  ok?: boolean;
  [key: string]: unknown;
}

export function logEvent(log: Logger, message: string, fields: EventFields): void {
  log.log({ level: fields.ok === false ? 'error' : 'info', message, ...fields, fileOnly: true });
}

const round = (s: number) => Number(s.toFixed(3));

/** Turns `run`'s hooks into phase records; `failed` and `completed` close the run's record. */
export function runEvents(log: Logger) {
  let runId: number | undefined;
  let current: { phase: string; started: number; rowsAtStart: number; steps: number; closed: boolean } | undefined;
  let rowsNow = 0;
  const close = (ok: boolean) => {
    if (!current || current.closed) return;
    current.closed = true;
    const seconds = round((performance.now() - current.started) / 1000);
    logEvent(log, `phase ${current.phase} ${ok ? 'completed' : 'stopped'} in ${seconds} s`, {
      event: 'phase',
      runId,
      phase: current.phase,
      steps: current.steps,
      rows: rowsNow - current.rowsAtStart,
      seconds,
      ok,
    });
  };
  return {
    planned(plan: Plan, resumed: boolean, id: number) {
      runId = id;
      logEvent(log, `run #${id} ${resumed ? 'resumed' : 'started'}`, {
        event: 'run.started',
        runId: id,
        tenants: plan.tenants.length,
        tables: plan.tables.length,
        steps: plan.steps.length,
        resumed,
        ok: true,
      });
    },
    progress(p: Progress) {
      rowsNow = p.rowsDone;
      if (!current || current.phase !== p.phase) {
        close(true);
        current = { phase: p.phase, started: performance.now(), rowsAtStart: p.rowsDone, steps: p.stepsTotal, closed: false };
      }
      if (p.stepsDone === p.stepsTotal) close(true);
    },
    completed(r: RunResult) {
      close(true);
      runId = r.runId;
      logEvent(log, `verification of run #${r.runId}: ${r.verify.ok ? 'matching' : 'mismatches'}`, {
        event: 'phase',
        runId: r.runId,
        phase: 'verify',
        steps: r.verify.results.length,
        rows: r.verify.results.reduce((a, x) => a + x.targetRows, 0),
        seconds: round(r.verify.seconds),
        ok: r.verify.ok,
      });
      logEvent(log, `run #${r.runId} completed: ${r.rowsCopied} rows in ${round(r.seconds)} s`, {
        event: 'run.completed',
        runId: r.runId,
        rows: r.rowsCopied,
        seconds: round(r.seconds),
        tenants: r.plan.tenants.length,
        tables: r.plan.tables.length,
        mismatches: r.verify.results.filter((x) => !x.ok).length,
        alreadyComplete: r.alreadyComplete === true,
        ok: r.verify.ok,
      });
    },
    /** After a failed run: one `step.failed` record per failed step of the run, from its journal (best effort). */
    async failedSteps(cfg: Pick<ResolvedConfig, 'source' | 'target' | 'sameDatabase'>) {
      if (runId === undefined) return;
      const pool = createPool({ url: cfg.sameDatabase ? cfg.source : cfg.target, role: 'target', max: 1, connectTimeoutMs: 3000 });
      try {
        const r = await pool.query<{
          step_id: string;
          phase: string;
          tenant: string | null;
          table_name: string | null;
          error: string | null;
          seconds: number | null;
        }>(
          `SELECT step_id, phase, tenant, table_name, error, EXTRACT(EPOCH FROM finished_at - started_at)::float8 AS seconds
             FROM oasys_migrate.step WHERE run_id = $1 AND state = 'failed' ORDER BY ordinal`,
          [runId],
        );
        for (const x of r.rows) {
          logEvent(log, `step ${x.step_id} failed: ${x.error ?? ''}`, {
            event: 'step.failed',
            runId,
            phase: x.phase,
            tenant: x.tenant ?? undefined,
            table: x.table_name ?? undefined,
            step: x.step_id,
            seconds: x.seconds === null ? undefined : round(x.seconds),
            ok: false,
          });
        }
      } catch {
        // The journal is out of reach (the error that stopped the run may be the connection itself): the run.failed record stands.
      } finally {
        await pool.end().catch(() => undefined);
      }
    },
    failed(err: unknown) {
      close(false);
      const o = err instanceof OasysError ? err : undefined;
      logEvent(log, err instanceof Error ? err.message : String(err), {
        event: 'run.failed',
        runId,
        phase: current?.phase,
        tenant: o?.context.tenant,
        table: o?.context.table,
        hint: o?.hint,
        exitCode: o?.exitCode,
        ok: false,
      });
    },
    get runId() {
      return runId;
    },
  };
}
