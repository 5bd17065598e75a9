import { UsageError } from '../errors.js';
import type { Problem, Severity } from '../discover/problems.js';

/** `plan --fail-on <level>`: the least severity that fails the plan (exit 1). */
export type FailOn = 'error' | 'warning';
export const FAIL_ON_LEVELS: readonly FailOn[] = ['error', 'warning'];

const RANK: Record<Severity, number> = { info: 0, warning: 1, error: 2 };

export function parseFailOn(raw: unknown): FailOn {
  if (raw === undefined) return 'error';
  const v = String(raw).trim().toLowerCase();
  if (v === 'error' || v === 'warning') return v;
  throw new UsageError(
    `--fail-on: ${JSON.stringify(String(raw))} is not a severity`,
    'give --fail-on error (the default: blocking problems fail) or --fail-on warning (warnings fail too)',
    { keyPath: '--fail-on' },
  );
}

/** The problems at `level` or worse: a non-empty list fails the gate. */
export function gateFailures(problems: readonly Problem[], level: FailOn): Problem[] {
  return problems.filter((p) => RANK[p.severity] >= RANK[level]);
}
