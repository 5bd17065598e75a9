import type { Step } from '../plan/model.js';

/**
 * The copy units of a wave as tasks, each a list of units run one after another on one
 * connection. A whale's chunks are one task, in order, while other tenants' copies use the other
 * connections: in one database, inserts into the same table from two connections contend (the
 * issue's measurement: 2 ctid halves on 2 connections 17.3 s, one INSERT … SELECT 13.1 s); across
 * databases on 2 connections, chunks side by side were no faster than one COPY stream (20.2 s
 * against 19.5 s for 3M rows, BENCHMARKS.md). Only across databases with more than 2 connections
 * (cores to spare on both ends) does each chunk become its own task, side by side.
 */
export function copyTasks(units: Step[][], sameDatabase: boolean, concurrency = 2): Step[][][] {
  if (!sameDatabase && concurrency > 2) return units.map((u) => [u]);
  const tasks: Step[][][] = [];
  const chains = new Map<string, Step[][]>();
  for (const u of units) {
    const c = u[0].copy;
    if (u.length === 1 && c?.range) {
      const k = `${c.tenant}\u0000${c.targetTable}`;
      const chain = chains.get(k);
      if (chain) {
        chain.push(u);
        continue;
      }
      const fresh = [u];
      chains.set(k, fresh);
      tasks.push(fresh);
    } else tasks.push([u]);
  }
  for (const chain of chains.values()) chain.sort((a, b) => a[0].copy!.range!.chunk - b[0].copy!.range!.chunk);
  return tasks;
}
