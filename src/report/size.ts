import type pg from 'pg';
import { sqlFile } from '../db/sqlFiles.js';
import type { Plan } from '../plan/model.js';

/**
 * What `plan` estimates besides rows: the tenant tables' size on disk (heap,
 * TOAST, indexes), per unified table, from the catalog's page counts (as
 * current as the last VACUUM/ANALYZE, like the row estimates; read without
 * taking any table lock). An in-place run writes about as much again (plus
 * WAL); a separate target receives about as much.
 */
export async function tenantTableSizes(db: Pick<pg.Pool, 'query'>, plan: Plan): Promise<Record<string, number>> {
  if (plan.tables.length === 0 || plan.tenants.length === 0) return {};
  const r = await db.query<{ table: string; bytes: number }>(sqlFile('catalog/table_sizes'), [
    plan.tenants.map((t) => t.schema),
    plan.tables.map((t) => t.source),
  ]);
  const bySource = new Map(r.rows.map((x) => [x.table, Number(x.bytes)]));
  return Object.fromEntries(plan.tables.map((t) => [t.target, bySource.get(t.source) ?? 0]));
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} bytes` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
