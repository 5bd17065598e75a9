import type pg from 'pg';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * Which of these tables hide rows from the current role through row-level
 * security: RLS is enabled and the role is neither superuser nor BYPASSRLS,
 * and either does not own the table or the table FORCEs it. A managed
 * service's owner role (NOSUPERUSER NOBYPASSRLS) is in the second case on
 * every unified table once the run is finished.
 */
export async function restrictedTables(db: Queryable, qualified: string[]): Promise<Map<string, { forced: boolean; owned: boolean }>> {
  if (qualified.length === 0) return new Map();
  const r = await db.query<{ t: string; forced: boolean; owned: boolean }>(
    `SELECT q.t, c.relforcerowsecurity AS forced, pg_catalog.pg_has_role(c.relowner, 'USAGE') AS owned
       FROM unnest($1::text[]) AS q(t)
       JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(q.t)
      WHERE c.relrowsecurity
        AND NOT (SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user)
        AND (c.relforcerowsecurity OR NOT pg_catalog.pg_has_role(c.relowner, 'USAGE'))`,
    [qualified],
  );
  return new Map(r.rows.map((x) => [x.t, { forced: x.forced, owned: x.owned }]));
}

/**
 * Lifts FORCE ROW LEVEL SECURITY, in the caller's transaction, on the tables
 * the current role owns and is hidden from by FORCE alone: the owner then sees
 * every row, the application's role (never the owner) still sees only its
 * tenant. Callers put FORCE back before committing, or roll back.
 */
export async function liftForce(db: Queryable, qualified: string[]): Promise<string[]> {
  const hidden = await restrictedTables(db, qualified);
  const lifted: string[] = [];
  for (const [t, x] of hidden) {
    if (!x.forced || !x.owned) continue;
    await db.query(`ALTER TABLE ${t} NO FORCE ROW LEVEL SECURITY`);
    lifted.push(t);
  }
  return lifted;
}

/** Puts FORCE back on tables `liftForce` lifted in this transaction. */
export async function restoreForce(db: Queryable, lifted: string[]): Promise<void> {
  for (const t of lifted) await db.query(`ALTER TABLE ${t} FORCE ROW LEVEL SECURITY`);
}
