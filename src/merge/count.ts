import type pg from 'pg';
import { ident } from '../db/ident.js';
import { tenantsAmong, type Plan } from '../plan/model.js';
import { mergeMap, naturalKeyOfRow } from '../plan/merge.js';
import { ProblemCode } from '../discover/problems.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * What each merge would do, read from the data (read-only, for `plan`): rows in the shared table,
 * tenant rows, how many find their natural key there, and how many new rows the tenants add
 * (distinct keys). Written into the merge's `counts` and its MERGE line.
 */
export async function countMerges(source: Queryable, target: Queryable, plan: Plan): Promise<void> {
  const merges = mergeMap(plan.merges);
  for (const m of merges.values()) {
    const copied = plan.shared.some((s) => s.schema === m.sharedSchema && s.table === m.table);
    const sharedDb = copied ? source : target;
    const shared = await sharedDb.query<{ k: string }>(
      `SELECT ${naturalKeyOfRow(merges, m, m.sharedSchema, 's')} AS k FROM ${ident(m.sharedSchema, m.table)} AS s`,
    );
    const keys = new Set(shared.rows.map((r) => r.k));
    const added = new Set<string>();
    let tenantRows = 0;
    let matched = 0;
    const tenants = tenantsAmong(plan, m.tenants);
    for (let i = 0; i < tenants.length; i += 200) {
      const sql = tenants
        .slice(i, i + 200)
        .map((t) => `SELECT ${naturalKeyOfRow(merges, m, t.schema, 's')} AS k FROM ${ident(t.schema, m.table)} AS s`)
        .join('\nUNION ALL\n');
      for (const r of (await source.query<{ k: string }>(sql)).rows) {
        tenantRows++;
        if (keys.has(r.k)) matched++;
        else added.add(r.k);
      }
    }
    m.counts = { sharedRows: keys.size, tenantRows, matched, added: added.size };
    const p = plan.problems.find((x) => x.code === ProblemCode.MERGE && x.table === m.table);
    if (p) {
      p.message +=
        `; ${m.sharedSchema}.${m.table} has ${keys.size} row${keys.size === 1 ? '' : 's'}, the tenants ${tenantRows}: ${matched} match, ` +
        `${tenantRows - matched} do not and add ${added.size} new row${added.size === 1 ? '' : 's'} (distinct keys) to it`;
    }
  }
}
