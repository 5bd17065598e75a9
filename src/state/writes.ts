import type pg from 'pg';
import { ident } from '../db/ident.js';
import { liftForce } from '../db/rlsAccess.js';
import { xid32 } from '../db/xid.js';
import { tenantsAmong, type Plan } from '../plan/model.js';
import { citusWritesSinceRun } from './citusWrites.js';
import { loadSnapshot } from './snapshot.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** Committed writes to a unified table after its run completed: what a revert would throw away. */
export interface WritesSinceRun {
  table: string;
  /** Rows inserted or updated since (their row version is newer than the run's last transaction). */
  writtenRows: number;
  /** Rows the run left that are gone since: deleted, or replaced by an update. */
  removedRows: number;
}

/**
 * Finds committed writes made after the run completed, in the caller's
 * transaction (revert's): a row version newer than the completing
 * transaction was inserted or updated since; rows missing from the count the
 * run verified were deleted or replaced. Rolled-back writes leave no visible
 * row version, so they do not count. Scope: the whole table for tables the run
 * created (revert drops them), the run's tenants for tables it filled.
 */
export async function writesSinceRun(db: Queryable, runId: number, finishedXid: string): Promise<WritesSinceRun[]> {
  const { plan, verify } = (
    await db.query<{ plan: Plan; verify: { results?: { table: string; tenantId?: string; targetRows: number; targetChecksum?: unknown }[] } | null }>(
      'SELECT plan, verify FROM oasys_migrate.run WHERE run_id = $1',
      [runId],
    )
  ).rows[0];
  const snapshot = await loadSnapshot(db, runId);
  const created = new Set(snapshot.filter((e) => e.kind === 'created_table').map((e) => e.object));
  const saved = new Map(snapshot.flatMap((e) => (e.kind === 'existing_table' ? [[e.object, e.detail.rowsTable] as const] : [])));
  // An owner without BYPASSRLS sees no row of a FORCEd table: lifted for this transaction only.
  const tables = plan.tables.map((t) => ({ t, q: ident(plan.targetSchema, t.target) }));
  await liftForce(
    db,
    tables.map((x) => x.q).filter((q) => created.has(q) || saved.has(q)),
  );
  if (plan.citus) return citusWritesSinceRun(db, plan, verify, created);
  // age() of a 32-bit xid, relative to one reference: a row is newer than the run iff its age is smaller.
  const xid = xid32(finishedXid);
  const out: WritesSinceRun[] = [];
  for (const { t, q } of tables) {
    if (!created.has(q) && !saved.has(q)) continue;
    const ids = tenantsAmong(plan, t.tenants).map((x) => x.tenantId);
    const scope = created.has(q) ? '' : `WHERE ${ident(plan.tenantColumn)} = ANY ($2::${t.tenantColumnType}[])`;
    const r = await db.query<{ n: string; k: string }>(
      `SELECT count(*)::text AS n, count(*) FILTER (WHERE pg_catalog.age(xmin) < pg_catalog.age($1::text::xid))::text AS k FROM ${q} ${scope}`,
      created.has(q) ? [xid] : [xid, ids],
    );
    let before = (verify?.results ?? []).filter((x) => x.table === t.target).reduce((a, x) => a + Number(x.targetRows), 0);
    const rowsTable = saved.get(q);
    if (rowsTable) before += Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM oasys_migrate.${ident(rowsTable)}`)).rows[0].n);
    const now = Number(r.rows[0].n);
    const written = Number(r.rows[0].k);
    const removed = Math.max(0, before - (now - written));
    if (written > 0 || removed > 0) out.push({ table: q, writtenRows: written, removedRows: removed });
  }
  return out;
}
