import cliProgress from 'cli-progress';
import type { Progress } from '../copy/execute.js';
import type { Logger } from '../log.js';

/**
 * Renders the executor's progress callbacks: bars on a terminal (stderr),
 * a plain line every few seconds otherwise (CI logs stay readable).
 */
export function progressRenderer(interactive: boolean, log: Logger, quiet: boolean): { update: (p: Progress) => void; stop: () => void } {
  if (quiet) return { update: () => undefined, stop: () => undefined };
  const started = Date.now();
  if (interactive) {
    const bar = new cliProgress.SingleBar(
      {
        format: '{phase} |{bar}| {value}/{total} steps | {rows} rows | {rate} rows/s | ETA {eta_formatted}',
        hideCursor: true,
        stream: process.stderr,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    let current = '';
    return {
      update(p) {
        const rate = Math.round(p.rowsDone / Math.max(0.001, (Date.now() - started) / 1000));
        const payload = { phase: p.phase.padEnd(12), rows: p.rowsDone.toLocaleString('en-US'), rate: rate.toLocaleString('en-US') };
        if (current !== p.phase) {
          if (current) bar.stop();
          current = p.phase;
          bar.start(p.stepsTotal, p.stepsDone, payload);
        } else bar.update(p.stepsDone, payload);
      },
      stop() {
        if (current) bar.stop();
      },
    };
  }
  let last = Date.now();
  return {
    update(p) {
      const now = Date.now();
      const finished = p.stepsDone === p.stepsTotal;
      // A line when a phase completes, and every 5 s within a long one.
      if (!finished && now - last < 5000) return;
      if (finished && p.stepsTotal === 0) return;
      last = now;
      const secs = (now - started) / 1000;
      const rate = Math.round(p.rowsDone / Math.max(0.001, secs));
      const rows =
        p.phase === 'copy' || p.phase === 'shared' ? `, ${p.rowsDone.toLocaleString('en-US')} rows copied (${rate.toLocaleString('en-US')} rows/s)` : '';
      log.info(`${p.phase}: ${p.stepsDone}/${p.stepsTotal} steps${finished ? ' done' : ''}${rows}, ${secs.toFixed(1)} s`);
    },
    stop: () => undefined,
  };
}
