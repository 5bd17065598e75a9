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
  let last = 0;
  let lastPhase = '';
  return {
    update(p) {
      const now = Date.now();
      const finished = p.stepsDone === p.stepsTotal;
      if (p.phase !== lastPhase || finished || now - last >= 5000) {
        if (p.phase === lastPhase && finished && now - last < 200) return;
        last = now;
        lastPhase = p.phase;
        const secs = (now - started) / 1000;
        const rate = Math.round(p.rowsDone / Math.max(0.001, secs));
        log.info(`${p.phase}: ${p.stepsDone}/${p.stepsTotal} steps, ${p.rowsDone.toLocaleString('en-US')} rows copied (${rate.toLocaleString('en-US')} rows/s), ${secs.toFixed(1)} s`);
      }
    },
    stop: () => undefined,
  };
}
