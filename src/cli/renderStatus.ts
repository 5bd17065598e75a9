import type { StatusResult } from '../commands/status.js';
import { formatCount, table, type Output } from './output.js';

const secs = (s: number | null) => (s === null ? null : Number(s.toFixed(3)));
const runSeconds = (x: { startedAt: Date; finishedAt: Date | null }) => (x.finishedAt ? (x.finishedAt.getTime() - x.startedAt.getTime()) / 1000 : null);

export function statusDocument(r: StatusResult) {
  return {
    runs: r.runs.map((x) => ({
      runId: x.runId,
      state: x.state,
      startedAt: x.startedAt.toISOString(),
      finishedAt: x.finishedAt?.toISOString() ?? null,
      seconds: secs(runSeconds(x)),
      startedBy: x.startedBy,
      rowsCopied: x.rowsCopied,
      error: x.error,
    })),
    ...(r.online
      ? {
          online: {
            slot: r.online.slot,
            slotPresent: r.online.slotPresent,
            lagBytes: r.online.lag?.bytes ?? null,
            lagSeconds: r.online.lagSeconds,
            appliedLsn: r.online.appliedLsn,
            changesApplied: r.online.changesApplied,
            tenantsChanged: r.online.tenantsChanged,
            fenceLsn: r.online.fenceLsn,
          },
        }
      : {}),
    phases: r.phases.map((p) => ({
      phase: p.phase,
      steps: p.steps,
      done: p.done,
      pending: p.pending,
      failed: p.failed,
      rows: p.rows,
      startedAt: p.startedAt?.toISOString() ?? null,
      finishedAt: p.finishedAt?.toISOString() ?? null,
      seconds: secs(p.seconds),
      rowsPerSecond: p.rowsPerSecond,
    })),
    steps: r.steps.map((s) => ({
      id: s.stepId,
      phase: s.phase,
      tenant: s.tenant,
      table: s.table,
      state: s.state,
      rows: s.rows,
      startedAt: s.startedAt?.toISOString() ?? null,
      finishedAt: s.finishedAt?.toISOString() ?? null,
      seconds: secs(s.seconds),
      rowsPerSecond: s.rowsPerSecond,
      error: s.error,
    })),
  };
}

const fmtSecs = (s: number | null) => (s === null ? '' : s < 10 ? s.toFixed(2) : s.toFixed(1));
const fmtRate = (r: number | null) => (r === null ? '' : formatCount(r));

/** `status`: runs, then the latest run's phases with durations and rows/s, its slowest steps (every step with --steps) and failures. */
export function renderStatus(out: Output, r: StatusResult, opts: { allSteps?: boolean } = {}): void {
  const { c } = out;
  if (r.runs.length === 0) {
    out.line('No runs recorded in the target database.');
    return;
  }
  out.line(c.bold('Runs:'));
  out.line(
    table(
      ['run', 'state', 'started', 'finished', 'seconds', 'by', 'rows copied'],
      r.runs.map((x) => [
        `#${x.runId}`,
        x.state,
        x.startedAt.toISOString(),
        x.finishedAt?.toISOString() ?? '',
        fmtSecs(runSeconds(x)),
        x.startedBy,
        formatCount(x.rowsCopied),
      ]),
      ['l', 'l', 'l', 'l', 'r', 'l', 'r'],
    ),
  );
  if (!r.latest) return;
  if (r.online) renderOnline(out, r.online);
  out.line();
  out.line(c.bold(`Phases of run #${r.latest.runId}:`));
  out.line(
    table(
      ['phase', 'done', 'pending', 'failed', 'rows', 'seconds', 'rows/s'],
      r.phases.map((p) => [p.phase, p.done, p.pending, p.failed, formatCount(p.rows), fmtSecs(p.seconds), fmtRate(p.rowsPerSecond)]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  const timed = r.steps.filter((s) => s.seconds !== null);
  const shown = opts.allSteps ? r.steps : [...timed].sort((a, b) => (b.seconds ?? 0) - (a.seconds ?? 0)).slice(0, 10);
  if (shown.length > 0) {
    out.line();
    out.line(c.bold(opts.allSteps ? `Steps of run #${r.latest.runId}:` : `Slowest steps of run #${r.latest.runId} (every step: status --steps, or --json):`));
    out.line(
      table(
        ['step', 'state', 'rows', 'seconds', 'rows/s'],
        shown.map((s) => [s.stepId, s.state, s.rows === null ? '' : formatCount(s.rows), fmtSecs(s.seconds), fmtRate(s.rowsPerSecond)]),
        ['l', 'l', 'r', 'r', 'r'],
      ),
    );
  }
  const failed = r.steps.filter((s) => s.state === 'failed');
  if (failed.length > 0) {
    out.line();
    out.line(c.red.bold('Failed steps:'));
    for (const s of failed) out.line(`  ${s.stepId}: ${s.error ?? ''}`);
  }
  if (r.latest.error) out.line(c.red(`Run #${r.latest.runId} stopped: ${r.latest.error}`));
}

function renderOnline(out: Output, o: NonNullable<StatusResult['online']>): void {
  out.line();
  if (!o.slotPresent) {
    out.line(
      `Online: slot ${o.slot} is not on the source${o.cutoverAt ? ` (cut over ${o.cutoverAt.toISOString()})` : ''}; ${formatCount(o.changesApplied)} changes applied.`,
    );
    return;
  }
  const seconds = o.lagSeconds === null ? 'unknown' : `${o.lagSeconds.toFixed(1)} s${o.lagAt ? ` as of ${o.lagAt.toISOString()}` : ''}`;
  out.line(
    out.c.bold(`Online: slot ${o.slot} on the source, lag ${formatCount(o.lag?.bytes ?? 0)} bytes of WAL, ${seconds}; `) +
      `${formatCount(o.changesApplied)} changes applied (to ${o.appliedLsn ?? 'nothing yet'}) in ${o.tenantsChanged} tenants${o.fenceLsn ? `, fence at ${o.fenceLsn}` : ''}`,
  );
}
