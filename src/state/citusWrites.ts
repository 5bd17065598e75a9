import type pg from 'pg';
import { ident } from '../db/ident.js';
import type { Plan } from '../plan/model.js';
import { rowHashSql } from '../verify/checksum.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** As src/state/writes.ts's WritesSinceRun (not imported: that module calls this one). */
interface WritesSinceRun {
  table: string;
  writtenRows: number;
  removedRows: number;
}

/**
 * On Citus the rows live on the workers, whose transaction ids say nothing about the coordinator's
 * completing transaction: writes since the run are found by comparing each tenant's count and
 * checksum now with what the verification that completed the run found (the same row hash).
 */
export async function citusWritesSinceRun(
  db: Queryable,
  plan: Plan,
  verify: { results?: { table: string; tenantId?: string; targetRows: number; targetChecksum?: unknown }[] } | null,
  created: Set<string>,
): Promise<WritesSinceRun[]> {
  const out: WritesSinceRun[] = [];
  for (const t of plan.tables) {
    const q = ident(plan.targetSchema, t.target);
    if (!created.has(q)) continue;
    const before = new Map((verify?.results ?? []).filter((x) => x.table === t.target).map((x) => [String(x.tenantId), x]));
    const r = await db.query<{ tenant: string | null; n: string; h: string }>(
      `SELECT t.${ident(plan.tenantColumn)}::text AS tenant, count(*)::int8::text AS n, COALESCE(sum(${rowHashSql(t, 't')}), 0)::text AS h FROM ${q} AS t GROUP BY 1`,
    );
    let written = 0;
    let removed = 0;
    const seen = new Set<string>();
    for (const row of r.rows) {
      const b = row.tenant === null ? undefined : before.get(row.tenant);
      const n = Number(row.n);
      if (row.tenant !== null) seen.add(row.tenant);
      if (!b) written += n;
      else if (n !== Number(b.targetRows) || row.h !== String(b.targetChecksum)) {
        // Changed content with the same count: at least one row was updated (or replaced).
        written += Math.max(n - Number(b.targetRows), 0) || 1;
        removed += Math.max(Number(b.targetRows) - n, 0);
      }
    }
    for (const [id, b] of before) if (!seen.has(id)) removed += Number(b.targetRows);
    if (written > 0 || removed > 0) out.push({ table: q, writtenRows: written, removedRows: removed });
  }
  return out;
}
