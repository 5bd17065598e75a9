import type pg from 'pg';
import type { Catalog } from './model.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** A whale table's integer key and its statistics' histogram bounds (equal-frequency, ascending). */
export interface KeyBounds {
  column: string;
  bounds: string[];
}

const INTEGER = new Set(['smallint', 'integer', 'bigint']);

/**
 * For the tenant tables estimated above `chunkRows` rows whose primary key is one integer
 * column (Django's `id`): that column's histogram bounds from pg_stats, in one query — the
 * chunk boundaries of their copy (src/plan/chunks.ts), read from the catalog, not the data.
 * Key `<schema>.<table>`; a table without statistics is absent (copied in one step).
 */
export async function readKeyBounds(db: Queryable, source: Catalog, chunkRows: number): Promise<Map<string, KeyBounds>> {
  const wanted: { schema: string; table: string; column: string }[] = [];
  for (const [schema, tables] of source.tables) {
    for (const t of tables.values()) {
      if (t.kind !== 'r' || t.estimate <= chunkRows) continue;
      const pk = t.constraints.find((c) => c.kind === 'p');
      const col = pk?.columns.length === 1 ? t.columns.find((c) => c.name === pk.columns[0]) : undefined;
      if (col && INTEGER.has(col.type)) wanted.push({ schema, table: t.name, column: col.name });
    }
  }
  const out = new Map<string, KeyBounds>();
  if (wanted.length === 0) return out;
  const r = await db.query<{ schemaname: string; tablename: string; attname: string; bounds: string[] }>(
    `SELECT s.schemaname, s.tablename, s.attname, s.histogram_bounds::text::text[] AS bounds
       FROM pg_catalog.pg_stats AS s
       JOIN unnest($1::text[], $2::text[], $3::text[]) AS w(schema, tab, col) ON s.schemaname = w.schema AND s.tablename = w.tab AND s.attname = w.col
      WHERE s.histogram_bounds IS NOT NULL AND NOT s.inherited`,
    [wanted.map((w) => w.schema), wanted.map((w) => w.table), wanted.map((w) => w.column)],
  );
  for (const x of r.rows) out.set(`${x.schemaname}.${x.tablename}`, { column: x.attname, bounds: x.bounds });
  return out;
}
