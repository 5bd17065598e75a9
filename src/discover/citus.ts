import type pg from 'pg';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** Whether the target runs Citus, and its reference tables (a shared table must be one for tenant tables to reference it). */
export async function readCitusFacts(db: Queryable): Promise<{ version: string; reference: string[] } | undefined> {
  const v = await db.query<{ v: string }>(`SELECT extversion AS v FROM pg_catalog.pg_extension WHERE extname = 'citus'`);
  if (v.rows.length === 0) return undefined;
  // partmethod 'n' with repmodel 't': a reference table (a citus local table has repmodel 's').
  const r = await db.query<{ name: string }>(
    `SELECT n.nspname || '.' || c.relname AS name
       FROM pg_dist_partition p JOIN pg_catalog.pg_class c ON c.oid = p.logicalrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE p.partmethod = 'n' AND p.repmodel = 't'
      ORDER BY 1`,
  );
  return { version: v.rows[0].v, reference: r.rows.map((x) => x.name) };
}
