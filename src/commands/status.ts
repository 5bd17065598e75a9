import type { ResolvedConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import { listRuns, stateSchemaExists, stepsOf, type RunRow, type StepRow } from '../state/journal.js';
import { openSession } from '../db/session.js';

export interface StatusResult {
  runs: RunRow[];
  latest?: RunRow;
  steps: StepRow[];
}

/** The recorded runs and, for the latest, every step. Read-only. */
export async function statusCommand(cfg: ResolvedConfig, log: Logger): Promise<StatusResult> {
  const s = await openSession(cfg, log);
  try {
    if (!(await stateSchemaExists(s.target))) return { runs: [], steps: [] };
    const runs = await listRuns(s.target);
    const latest = runs[runs.length - 1];
    const steps = latest ? await stepsOf(s.target, latest.runId) : [];
    return { runs, latest, steps };
  } finally {
    await s.close();
  }
}
