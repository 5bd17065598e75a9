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
  return Object.fromEntries(Object.entries(await tenantTableStats(db, plan)).map(([k, v]) => [k, v.bytes]));
}

/** Per unified table, the tenant tables' catalog figures summed (what the estimate of the target needs). */
export interface TableStats {
  bytes: number;
  relations: number;
  rows: number;
  /** Rows of tables never vacuumed nor analyzed (from the statistics counter; their pages are not known). */
  unmeasuredRows: number;
  heapPages: number;
  toastPages: number;
  indexPages: number;
  indexFiles: number;
  unmeasured: number;
  denseRows: number;
  denseHeapPages: number;
  denseIndexPages: number;
}

/** A table no tenant has rows or pages for (also the base of the estimate's unit tests). */
export const EMPTY_STATS: Readonly<TableStats> = {
  bytes: 0,
  relations: 0,
  rows: 0,
  unmeasuredRows: 0,
  heapPages: 0,
  toastPages: 0,
  indexPages: 0,
  indexFiles: 0,
  unmeasured: 0,
  denseRows: 0,
  denseHeapPages: 0,
  denseIndexPages: 0,
};

export async function tenantTableStats(db: Pick<pg.Pool, 'query'>, plan: Plan): Promise<Record<string, TableStats>> {
  if (plan.tables.length === 0 || plan.tenants.length === 0) return {};
  const r = await db.query<Record<string, number | string | null> & { table: string }>(sqlFile('catalog/table_sizes'), [
    plan.tenants.map((t) => t.schema),
    plan.tables.map((t) => t.source),
  ]);
  const n = (v: unknown) => Number(v ?? 0);
  const bySource = new Map(
    r.rows.map((x) => [
      x.table,
      {
        bytes: n(x.bytes),
        relations: n(x.relations),
        rows: n(x.rows),
        unmeasuredRows: n(x.unmeasured_rows),
        heapPages: n(x.heap_pages),
        toastPages: n(x.toast_pages),
        indexPages: n(x.index_pages),
        indexFiles: n(x.index_files),
        unmeasured: n(x.unmeasured),
        denseRows: n(x.dense_rows),
        denseHeapPages: n(x.dense_heap_pages),
        denseIndexPages: n(x.dense_index_pages),
      },
    ]),
  );
  return Object.fromEntries(plan.tables.map((t) => [t.target, bySource.get(t.source) ?? EMPTY_STATS]));
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
