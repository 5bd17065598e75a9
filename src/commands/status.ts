import type { ResolvedConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import { listRuns, stateSchemaExists, type RunRow } from '../state/journal.js';
import { runTimings, type PhaseTiming, type StepTiming } from '../state/timings.js';
import { openSession } from '../db/session.js';
import { onlineStatus, type OnlineStatus } from '../online/cutover.js';

export interface StatusResult {
  runs: RunRow[];
  latest?: RunRow;
  /** Every step of the latest run, with its duration and rows/s. */
  steps: StepTiming[];
  /** The latest run's phases: steps by state, rows, wall time and rows/s. */
  phases: PhaseTiming[];
  /** The latest run is online: its slot and lag. */
  online?: OnlineStatus;
}

/** The recorded runs and, for the latest, every step and phase with timings. Read-only. */
export async function statusCommand(cfg: ResolvedConfig, log: Logger): Promise<StatusResult> {
  const s = await openSession(cfg, log);
  try {
    if (!(await stateSchemaExists(s.target))) return { runs: [], steps: [], phases: [] };
    const runs = await listRuns(s.target);
    const latest = runs[runs.length - 1];
    const t = latest ? await runTimings(s.target, latest.runId) : { steps: [], phases: [] };
    const online = latest ? await onlineStatus(s.source, s.target, latest.runId) : undefined;
    return { runs, latest, steps: t.steps, phases: t.phases, ...(online ? { online } : {}) };
  } finally {
    await s.close();
  }
}
