import type pg from 'pg';
import { ident, identList } from '../db/ident.js';
import { WantingError } from '../errors.js';
import { tenantsAmong, type MergeTable, type Plan } from '../plan/model.js';
import { CONTENT_TYPES, MERGE_OBJECTS, mapTableSql, mergeMap } from '../plan/merge.js';
import { sequenceResetSql } from '../plan/steps.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** Tenants read from the source per query (one UNION ALL). */
const CHUNK = 200;

/** The mapping table: which shared id each tenant row of a merged table became, and whether the run added it. */
export function createMapTableSql(m: Pick<MergeTable, 'mapTable'>): string {
  return `CREATE TABLE IF NOT EXISTS ${mapTableSql(m)} (
  tenant text NOT NULL, old_id text NOT NULL, new_id text NOT NULL, added boolean NOT NULL, run_id integer NOT NULL,
  PRIMARY KEY (tenant, old_id)
)`;
}

/**
 * The merge step of one table (SPEC §4, Django's lookup tables), in the caller's target
 * transaction (it commits with its journal entry): every tenant's rows are read from the source
 * (small lookup tables: their text goes through here), their references to other merged tables
 * translated, matched to the shared table by the natural key; rows without a match are added to
 * the shared table once per key; the mapping is recorded for the copies and for revert.
 * Returns the number of tenant rows mapped.
 */
export async function runMerge(tgt: Queryable, source: Queryable, plan: Plan, table: string, runId: number): Promise<number> {
  const merges = mergeMap(plan.merges);
  const m = merges.get(table)!;
  const cols = m.columns.map((c) => c.name);
  const tenants = tenantsAmong(plan, m.tenants);
  await tgt.query(createMapTableSql(m));
  // A shared table this run copied into a separate target has its sequence reset only later (sequences
  // phase): move it past the copied ids now, or the rows added here would collide with them.
  if (plan.shared.some((s) => s.schema === m.sharedSchema && s.table === m.table)) await tgt.query(sequenceResetSql(m.sharedSchema, m.table, m.idColumn));
  await tgt.query('DROP TABLE IF EXISTS pg_temp.oasys_merge_in');
  await tgt.query(
    `CREATE TEMP TABLE oasys_merge_in (tenant text NOT NULL, schema text NOT NULL, old_id text NOT NULL, ${cols.map((c) => `${ident(c)} text`).join(', ')}, new_id text, added boolean NOT NULL DEFAULT false) ON COMMIT DROP`,
  );
  // Read every tenant's rows (as text) from the source, a chunk of tenants per query.
  for (let i = 0; i < tenants.length; i += CHUNK) {
    const part = tenants.slice(i, i + CHUNK);
    const sql = part
      .map(
        (t, k) =>
          `SELECT $${2 * k + 1}::text AS tenant, $${2 * k + 2}::text AS schema, s.${ident(m.idColumn)}::text AS old_id, ${cols.map((c) => `s.${ident(c)}::text AS ${ident(c)}`).join(', ')} FROM ${ident(t.schema, m.table)} AS s`,
      )
      .join('\nUNION ALL\n');
    const r = await source.query<Record<string, string | null>>(
      sql,
      part.flatMap((t) => [t.tenantId, t.schema]),
    );
    if (r.rows.length === 0) continue;
    const names = ['tenant', 'schema', 'old_id', ...cols];
    await tgt.query(
      `INSERT INTO oasys_merge_in (${identList(names)}) SELECT * FROM unnest(${names.map((_, k) => `$${k + 1}::text[]`).join(', ')})`,
      names.map((n) => r.rows.map((row) => row[n])),
    );
  }
  // References to merged tables merged before this one (auth_permission.content_type_id) take the shared ids.
  for (const [col, other] of Object.entries(m.keyRefs)) {
    const om = merges.get(other)!;
    await tgt.query(
      `UPDATE oasys_merge_in i SET ${ident(col)} = x.new_id FROM ${mapTableSql(om)} AS x WHERE x.tenant = i.tenant AND x.old_id = i.${ident(col)}`,
    );
  }
  const shared = ident(m.sharedSchema, m.table);
  const typeOf = new Map(m.columns.map((c) => [c.name, c.type]));
  const keyMatch = (a: string, b: string) => m.key.map((k) => `${a}.${ident(k)} = ${b}.${ident(k)}::${typeOf.get(k)}`).join(' AND ');
  await tgt.query(`UPDATE oasys_merge_in i SET new_id = p.${ident(m.idColumn)}::text FROM ${shared} AS p WHERE ${keyMatch('p', 'i')}`);
  // One shared row per natural key that no shared row has: the first tenant's (in tenant order) values.
  await tgt.query(
    `WITH ins AS (
       INSERT INTO ${shared} (${identList(cols)})
       SELECT DISTINCT ON (${m.key.map((k) => `i.${ident(k)}`).join(', ')}) ${cols.map((c) => `i.${ident(c)}::${typeOf.get(c)}`).join(', ')}
         FROM oasys_merge_in i WHERE i.new_id IS NULL
        ORDER BY ${m.key.map((k) => `i.${ident(k)}`).join(', ')}, i.schema, i.old_id
       RETURNING ${ident(m.idColumn)}::text AS id, ${identList(m.key)}
     )
     UPDATE oasys_merge_in i SET new_id = ins.id, added = true FROM ins WHERE ${keyMatch('ins', 'i')} AND i.new_id IS NULL`,
  );
  const unmatched = await tgt.query<{ schema: string; old_id: string }>(`SELECT schema, old_id FROM oasys_merge_in WHERE new_id IS NULL LIMIT 1`);
  if (unmatched.rows.length > 0) {
    const u = unmatched.rows[0];
    throw new WantingError(
      `tenant "${u.schema}", table "${m.table}": the row with ${m.idColumn} ${u.old_id} has a NULL in its natural key (${m.key.join(', ')}); it can be neither matched nor added to ${m.sharedSchema}.${m.table}`,
      'fix that row in the tenant schema (or choose another key in tables.merge), then run again; nothing of this step was written',
      { tenant: u.schema, table: m.table },
    );
  }
  const r = await tgt.query(
    `INSERT INTO ${mapTableSql(m)} (tenant, old_id, new_id, added, run_id) SELECT tenant, old_id, new_id, added, $1 FROM oasys_merge_in`,
    [runId],
  );
  if (m.table !== CONTENT_TYPES && merges.has(CONTENT_TYPES)) {
    // Generic foreign keys may point at rows of this table: keyed by the model's shared content type,
    // found by Django's default table name (app_label + '_' + model). No such content type: no row.
    await tgt.query(createMergeObjectsSql());
    await tgt.query(
      `INSERT INTO ${MERGE_OBJECTS} (tenant, ct, old_id, new_id, run_id)
       SELECT i.tenant, ct.id::text, i.old_id, i.new_id, $1 FROM oasys_merge_in i
         JOIN ${ident(merges.get(CONTENT_TYPES)!.sharedSchema, CONTENT_TYPES)} AS ct ON ct.app_label || '_' || ct.model = $2`,
      [runId, m.table],
    );
  }
  await tgt.query('DROP TABLE pg_temp.oasys_merge_in');
  return r.rowCount ?? 0;
}

export function createMergeObjectsSql(): string {
  return `CREATE TABLE IF NOT EXISTS ${MERGE_OBJECTS} (
  tenant text NOT NULL, ct text NOT NULL, old_id text NOT NULL, new_id text NOT NULL, run_id integer NOT NULL,
  PRIMARY KEY (tenant, ct, old_id)
)`;
}

/** Deletes exactly the shared rows a run added to a merged table, and the run's mapping (revert). */
export async function unmerge(
  db: Queryable,
  runId: number,
  e: { schema: string; table: string; idColumn: string; idType: string; mapTable: string },
): Promise<number> {
  const map = mapTableSql(e);
  const exists = await db.query<{ map: boolean; shared: boolean }>(
    `SELECT pg_catalog.to_regclass($1) IS NOT NULL AS map, pg_catalog.to_regclass($2) IS NOT NULL AS shared`,
    [map, ident(e.schema, e.table)],
  );
  if (!exists.rows[0].map) return 0;
  let n = 0;
  if (exists.rows[0].shared) {
    const r = await db.query(
      `DELETE FROM ${ident(e.schema, e.table)} WHERE ${ident(e.idColumn)} IN (SELECT DISTINCT new_id::${e.idType} FROM ${map} WHERE run_id = $1 AND added)`,
      [runId],
    );
    n = r.rowCount ?? 0;
  }
  await db.query(`DELETE FROM ${map} WHERE run_id = $1`, [runId]);
  if ((await db.query<{ ok: boolean }>(`SELECT pg_catalog.to_regclass($1) IS NOT NULL AS ok`, [MERGE_OBJECTS])).rows[0].ok) {
    await db.query(`DELETE FROM ${MERGE_OBJECTS} WHERE run_id = $1`, [runId]);
    if ((await db.query(`SELECT 1 FROM ${MERGE_OBJECTS} LIMIT 1`)).rows.length === 0) await db.query(`DROP TABLE ${MERGE_OBJECTS}`);
  }
  // The mapping table goes with its last run.
  const left = await db.query(`SELECT 1 FROM ${map} LIMIT 1`);
  if (left.rows.length === 0) await db.query(`DROP TABLE ${map}`);
  return n;
}
