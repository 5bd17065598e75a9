import type { StopSignal } from '../copy/execute.js';

/**
 * First SIGINT/SIGTERM: stop taking new steps and let those in flight commit
 * or roll back (the command then exits 130). Second: exit at once — the
 * server rolls back whatever was open, and the journal stays consistent.
 */
export function installStopHandlers(onFirst: () => void, what = 'finishing the steps in flight, then stopping'): { stop: StopSignal; dispose: () => void } {
  const stop: StopSignal = { stopping: false };
  const handler = (sig: NodeJS.Signals) => {
    if (stop.stopping) {
      process.stderr.write(`\n${sig} again: exiting now; run \`oasys-migrate run\` to resume\n`);
      process.exit(130);
    }
    stop.stopping = true;
    onFirst();
    process.stderr.write(`\n${sig}: ${what} (again to exit at once)\n`);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    stop,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
