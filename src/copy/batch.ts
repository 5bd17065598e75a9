import type { Plan, Step } from '../plan/model.js';

/**
 * Copy units in waves: a table whose tenant foreign keys already exist in the target comes
 * after the tables it references. One wave when no filled table has such keys.
 */
export function copyWaves(plan: Pick<Plan, 'tables'>, units: Step[][]): Step[][][] {
  if (!plan.tables.some((t) => t.copyAfter?.length)) return [units];
  const byTarget = new Map(plan.tables.map((t) => [t.target, t]));
  const level = new Map<string, number>();
  const levelOf = (target: string, seen: Set<string>): number => {
    const known = level.get(target);
    if (known !== undefined) return known;
    seen.add(target);
    let l = 0;
    for (const parent of byTarget.get(target)?.copyAfter ?? []) {
      if (!seen.has(parent)) l = Math.max(l, levelOf(parent, seen) + 1);
    }
    level.set(target, l);
    return l;
  };
  const waves: Step[][][] = [];
  for (const u of units) (waves[levelOf(u[0].table!, new Set())] ??= []).push(u);
  return waves.filter((w) => w !== undefined);
}

/** Groups small same-table copies so that 10,000 tiny tenants do not cost 10,000 transactions per table. */
export function batchCopies(steps: Step[], maxRows: number, maxSteps: number): Step[][] {
  const byTable = new Map<string, Step[]>();
  for (const s of steps) {
    const list = byTable.get(s.table!) ?? [];
    list.push(s);
    byTable.set(s.table!, list);
  }
  const units: Step[][] = [];
  for (const list of byTable.values()) {
    let cur: Step[] = [];
    let rows = 0;
    for (const s of list) {
      const est = s.copy!.estimatedRows;
      if (est >= maxRows) {
        units.push([s]);
        continue;
      }
      if (cur.length >= maxSteps || rows + est > maxRows) {
        units.push(cur);
        cur = [];
        rows = 0;
      }
      cur.push(s);
      rows += est;
    }
    if (cur.length > 0) units.push(cur);
  }
  // Largest first, so one big tenant does not start last and stretch the phase.
  return units.sort((a, b) => sumRows(b) - sumRows(a));
}

const sumRows = (u: Step[]) => u.reduce((a, s) => a + (s.copy?.estimatedRows ?? 0), 0);
