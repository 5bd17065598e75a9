import type { StatusResult } from '../commands/status.js';
import { formatCount, table, type Output } from './output.js';

export function statusDocument(r: StatusResult) {
  return {
    runs: r.runs.map((x) => ({
      runId: x.runId, state: x.state, startedAt: x.startedAt.toISOString(), finishedAt: x.finishedAt?.toISOString() ?? null,
      startedBy: x.startedBy, rowsCopied: x.rowsCopied, error: x.error,
    })),
    steps: r.steps.map((s) => ({ id: s.stepId, phase: s.phase, tenant: s.tenant, table: s.table, state: s.state, rows: s.rows, error: s.error })),
  };
}

export function renderStatus(out: Output, r: StatusResult): void {
  const { c } = out;
  if (r.runs.length === 0) {
    out.line('No runs recorded in the target database.');
    return;
  }
  out.line(c.bold('Runs:'));
  out.line(table(
    ['run', 'state', 'started', 'finished', 'by', 'rows copied'],
    r.runs.map((x) => [`#${x.runId}`, x.state, x.startedAt.toISOString(), x.finishedAt?.toISOString() ?? '', x.startedBy, formatCount(x.rowsCopied)]),
    ['l', 'l', 'l', 'l', 'l', 'r'],
  ));
  if (!r.latest) return;
  out.line();
  out.line(c.bold(`Steps of run #${r.latest.runId} by phase:`));
  const phases = new Map<string, { pending: number; done: number; failed: number; rows: number }>();
  for (const s of r.steps) {
    const e = phases.get(s.phase) ?? { pending: 0, done: 0, failed: 0, rows: 0 };
    e[s.state as 'pending' | 'done' | 'failed']++;
    e.rows += s.rows ?? 0;
    phases.set(s.phase, e);
  }
  out.line(table(['phase', 'done', 'pending', 'failed', 'rows'], [...phases].map(([p, e]) => [p, e.done, e.pending, e.failed, formatCount(e.rows)]), ['l', 'r', 'r', 'r', 'r']));
  const failed = r.steps.filter((s) => s.state === 'failed');
  if (failed.length > 0) {
    out.line();
    out.line(c.red.bold('Failed steps:'));
    for (const s of failed) out.line(`  ${s.stepId}: ${s.error ?? ''}`);
  }
  if (r.latest.error) out.line(c.red(`Run #${r.latest.runId} stopped: ${r.latest.error}`));
}
