import type pg from 'pg';
import { ident } from '../db/ident.js';
import type { MergeTable } from '../plan/model.js';
import { mapTableSql, naturalKeyExpr, naturalKeyOfRow } from '../plan/merge.js';
import type { VerifyResult } from '../verify/result.js';

/** One (tenant, merged table) result, as verify reports every pair. */
export type MergedResult = VerifyResult;

/**
 * Verification of a merged lookup table, per tenant: the source side is the tenant's rows, each
 * hashed by its natural key; the target side is the tenant's mapping rows, each hashed by the
 * natural key of the shared row its new id names. Equal counts and sums mean every tenant row
 * has a shared row with the same natural key — a wrong translation changes the sum.
 */
export async function verifyMerged(
  source: Pick<pg.Pool, 'query'>,
  target: Pick<pg.Pool, 'query'>,
  merges: Map<string, MergeTable>,
  m: MergeTable,
  tenants: { schema: string; tenantId: string }[],
): Promise<MergedResult[]> {
  const hash = (text: string) => `COALESCE(pg_catalog.hashtextextended(${text}, 0), 0)`;
  const src = (part: typeof tenants) =>
    part
      .map(
        (t, i) =>
          `SELECT $${i + 1}::text AS tenant, count(*)::int8 AS n, COALESCE(sum(${hash(naturalKeyOfRow(merges, m, t.schema, 's'))}), 0)::text AS h FROM ${ident(t.schema, m.table)} AS s`,
      )
      .join('\nUNION ALL\n');
  const chunks: (typeof tenants)[] = [];
  for (let i = 0; i < tenants.length; i += 200) chunks.push(tenants.slice(i, i + 200));
  const tgt = `SELECT x.tenant, count(*)::int8 AS n, COALESCE(sum(${hash(naturalKeyExpr(merges, m.table, m.sharedSchema, `x.new_id::${m.idType}`))}), 0)::text AS h
       FROM ${mapTableSql(m)} AS x WHERE x.tenant = ANY ($1::text[]) GROUP BY 1`;
  const sa = new Map<string, { n: string; h: string }>();
  for (const part of chunks) {
    for (const r of (
      await source.query<{ tenant: string; n: string; h: string }>(
        src(part),
        part.map((t) => t.tenantId),
      )
    ).rows)
      sa.set(r.tenant, r);
  }
  const b = await target.query<{ tenant: string; n: string; h: string }>(tgt, [tenants.map((t) => t.tenantId)]);
  const sb = new Map(b.rows.map((r) => [r.tenant, r]));
  return tenants.map((t) => {
    const x = sa.get(t.tenantId) ?? { n: '0', h: '0' };
    const y = sb.get(t.tenantId) ?? { n: '0', h: '0' };
    return {
      tenant: t.schema,
      tenantId: t.tenantId,
      table: `${m.table} (merged into ${m.sharedSchema}.${m.table})`,
      sourceRows: Number(x.n),
      targetRows: Number(y.n),
      sourceChecksum: x.h,
      targetChecksum: y.h,
      ok: x.n === y.n && x.h === y.h,
    };
  });
}
