import type { Step } from '../plan/model.js';

/**
 * The copy units of a wave as tasks, each a list of units run one after another on one
 * connection. In one database a whale's chunks are one task, in order: inserts into the same
 * table from two connections contend (measured: 2 ctid halves on 2 connections took 17.3 s where
 * one INSERT … SELECT took 13.1 s), while other tenants' copies use the other connections. Into a
 * separate target each chunk is its own task and chunks run side by side (the COPY pipe is
 * bound by the client and the network as much as by the target's inserts).
 */
export function copyTasks(units: Step[][], sameDatabase: boolean): Step[][][] {
  if (!sameDatabase) return units.map((u) => [u]);
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
