/**
 * Durations and throughput from the journal: each step records when it was
 * claimed (started_at) and when it committed (finished_at). Steps committed
 * together (a batch of tiny tenants' copies) share both times. A phase's time
 * is its wall time, from its first step's start to its last step's finish.
 */
import type pg from 'pg';
import { PHASES } from '../plan/model.js';
import type { StepRow } from './journal.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** A journal step (StepRow) with its times. */
export interface StepTiming extends Omit<StepRow, 'checksum'> {
  startedAt: Date | null;
  finishedAt: Date | null;
  seconds: number | null;
  rowsPerSecond: number | null;
}

export interface PhaseTiming {
  phase: string;
  steps: number;
  done: number;
  pending: number;
  failed: number;
  rows: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  seconds: number | null;
  rowsPerSecond: number | null;
}

export interface RunTimings {
  phases: PhaseTiming[];
  steps: StepTiming[];
}

const rate = (rows: number | null, seconds: number | null) => (rows && seconds && seconds > 0 ? Math.round(rows / seconds) : null);

export async function runTimings(db: Queryable, runId: number): Promise<RunTimings> {
  const r = await db.query<Omit<StepTiming, 'rowsPerSecond'>>(
    `SELECT step_id AS "stepId", phase, tenant, table_name AS "table", state, rows::float8 AS rows, started_at AS "startedAt", finished_at AS "finishedAt",
            EXTRACT(EPOCH FROM finished_at - started_at)::float8 AS seconds, error
       FROM oasys_migrate.step WHERE run_id = $1 ORDER BY ordinal`,
    [runId],
  );
  const steps: StepTiming[] = r.rows.map((s) => ({
    ...s,
    seconds: s.state === 'done' ? s.seconds : null,
    rowsPerSecond: s.state === 'done' ? rate(s.rows, s.seconds) : null,
  }));
  const byPhase = new Map<string, PhaseTiming>();
  for (const s of steps) {
    let p = byPhase.get(s.phase);
    if (!p) {
      p = { phase: s.phase, steps: 0, done: 0, pending: 0, failed: 0, rows: 0, startedAt: null, finishedAt: null, seconds: null, rowsPerSecond: null };
      byPhase.set(s.phase, p);
    }
    p.steps++;
    if (s.state === 'done') p.done++;
    else if (s.state === 'failed') p.failed++;
    else p.pending++;
    p.rows += s.rows ?? 0;
    if (s.startedAt && (!p.startedAt || s.startedAt < p.startedAt)) p.startedAt = s.startedAt;
    if (s.finishedAt && (!p.finishedAt || s.finishedAt > p.finishedAt)) p.finishedAt = s.finishedAt;
  }
  for (const p of byPhase.values()) {
    if (p.startedAt && p.finishedAt) p.seconds = Math.max(0, (p.finishedAt.getTime() - p.startedAt.getTime()) / 1000);
    p.rowsPerSecond = rate(p.rows, p.seconds);
  }
  const order = (x: string) => {
    const i = (PHASES as string[]).indexOf(x);
    return i < 0 ? PHASES.length : i;
  };
  return { phases: [...byPhase.values()].sort((a, b) => order(a.phase) - order(b.phase)), steps };
}
