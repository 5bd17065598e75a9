/** Messages between bench.ts and worker.ts (one tool command in a child process). */

export interface WorkerJob {
  kind: 'plan' | 'run' | 'verify';
  source: string;
  target?: string;
  concurrency?: number;
  /** The tool's --chunk-rows. */
  chunkRows?: number;
}

export interface PlanWorkerResult {
  kind: 'plan';
  /** Wall time in the worker, from the first call to the return. */
  seconds: number;
  /** What planCommand itself reports. */
  toolSeconds: number;
  queryCount: number;
  tenants: number;
  tables: number;
  steps: number;
  blocking: boolean;
  problems: number;
  maxRssMb: number;
  /** What `plan` estimated: disk the target needs (bytes) and the run's seconds (null: unknown). */
  estimate?: { targetBytes: number | null; runSeconds: number | null };
}

export interface VerifyWorkerResult {
  kind: 'verify';
  seconds: number;
  toolSeconds: number;
  ok: boolean;
  results: number;
  mismatches: number;
  maxRssMb: number;
}

export interface RunWorkerResult {
  kind: 'run';
  seconds: number;
  toolSeconds: number;
  runId: number;
  rowsCopied: number;
  rowsReported: number;
  verifyOk: boolean;
  /** The verification at the end of the run (verifyPlan's own timing). */
  verifySeconds: number;
  steps: number;
  /** Seconds per phase: prepare (session, plan, lock, snapshot), each executor phase, verify. */
  phases: Record<string, number>;
  maxRssMb: number;
}

export type WorkerResult = PlanWorkerResult | VerifyWorkerResult | RunWorkerResult;

export type WorkerMessage =
  { type: 'phase'; phase: string; at: number } | { type: 'result'; result: WorkerResult } | { type: 'error'; message: string; hint?: string; stack?: string };
