import type pg from 'pg';
import { ident } from '../db/ident.js';
import { sourceRelation, type PlanFacts } from '../plan/model.js';
import type { VerifyResult } from './checksum.js';
import { snapshotLimits, unseenSql } from './unseen.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** A (tenant, table) whose source rows changed after the run copied them: the application was still writing. */
export interface SourceWrite {
  tenant: string;
  table: string;
  /** Source rows inserted or updated after the copy's snapshot. */
  changedRows: number;
  rowsCopied: number;
  rowsNow: number;
}

/**
 * For the (tenant, table) pairs that verification found different, tells
 * whether the source itself changed since its copy: rows whose version the
 * copy's snapshot could not see, or a row count other than the one copied.
 * Only the mismatched pairs are read again, so this costs nothing on success.
 */
export async function sourceWrites(source: Queryable, target: Queryable, runId: number, plan: PlanFacts, mismatches: VerifyResult[]): Promise<SourceWrite[]> {
  const pairs = mismatches.filter((m) => m.tenant !== '(shared)');
  if (pairs.length === 0) return [];
  // A whale's chunks (copy:<tenant>:<table>#<n>) count together, under the oldest of their snapshots.
  const steps = await target.query<{ tenant: string; table_name: string; rows: string | null; source_snapshot: string | null }>(
    `SELECT s.tenant, s.table_name, sum(s.rows)::text AS rows,
            (array_agg(s.source_snapshot ORDER BY pg_catalog.split_part(s.source_snapshot, ':', 2)::int8))[1] AS source_snapshot
       FROM oasys_migrate.step AS s JOIN unnest($2::text[], $3::text[]) AS p(tenant, tab) ON s.tenant = p.tenant AND s.table_name = p.tab
      WHERE s.run_id = $1 AND s.phase = 'copy'
      GROUP BY 1, 2`,
    [runId, pairs.map((p) => p.tenant), pairs.map((p) => p.table)],
  );
  const byId = new Map(steps.rows.map((s) => [`${s.tenant}\u0000${s.table_name}`, s]));
  const out: SourceWrite[] = [];
  for (const p of pairs) {
    const step = byId.get(`${p.tenant}\u0000${p.table}`);
    const t = plan.tables.find((x) => x.target === p.table);
    if (!step?.source_snapshot || !t) continue;
    const { xmax, inProgress } = snapshotLimits(step.source_snapshot);
    const r = await source.query<{ n: string; changed: string }>(
      `SELECT count(*)::text AS n, count(*) FILTER (WHERE ${unseenSql('s', 'pg_catalog.age($1::text::xid)', '$2')})::text AS changed
         FROM ${sourceRelation(ident(p.tenant, t.source), t.partitioned)} AS s`,
      [xmax, inProgress],
    );
    const rowsNow = Number(r.rows[0].n);
    const changed = Number(r.rows[0].changed);
    const rowsCopied = Number(step.rows ?? 0);
    if (changed > 0 || rowsNow !== rowsCopied) out.push({ tenant: p.tenant, table: p.table, changedRows: changed, rowsCopied, rowsNow });
  }
  return out;
}

export function describeSourceWrites(w: SourceWrite[]): string {
  const shown = w
    .slice(0, 10)
    .map(
      (x) =>
        `tenant "${x.tenant}" table ${x.table}: ${x.changedRows} row${x.changedRows === 1 ? '' : 's'} inserted or updated after its copy, ${x.rowsCopied} rows copied, ${x.rowsNow} now`,
    );
  return shown.join('; ') + (w.length > 10 ? `; … ${w.length - 10} more` : '');
}
