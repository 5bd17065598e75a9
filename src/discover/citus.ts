import type pg from 'pg';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** A Citus target's reference tables (`schema.table`): a shared table must be one for tenant tables to reference it. */
export async function readReferenceTables(db: Queryable): Promise<string[]> {
  // partmethod 'n' with repmodel 't': a reference table (a citus local table has repmodel 's').
  const r = await db.query<{ name: string }>(
    `SELECT n.nspname || '.' || c.relname AS name
       FROM pg_dist_partition p JOIN pg_catalog.pg_class c ON c.oid = p.logicalrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE p.partmethod = 'n' AND p.repmodel = 't'
      ORDER BY 1`,
  );
  return r.rows.map((x) => x.name);
}
