import type pg from 'pg';
import type { Plan } from '../plan/model.js';
import { ident } from '../db/ident.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * What `run` will need, checked before it writes anything, so that a missing
 * privilege is named up front (with the GRANT that fixes it) instead of
 * surfacing half-way as "permission denied".
 */
export interface MissingPrivilege {
  side: 'source' | 'target';
  what: string;
  grant: string;
}

export async function targetPrivileges(db: Queryable, plan: Plan): Promise<MissingPrivilege[]> {
  const missing: MissingPrivilege[] = [];
  const r = await db.query<{
    ro: boolean;
    recovery: boolean;
    usr: string;
    has_state: boolean;
    db_create: boolean;
    state_create: boolean;
    schema_exists: boolean;
    schema_create: boolean;
  }>(
    `SELECT current_setting('transaction_read_only')::bool AS ro, pg_catalog.pg_is_in_recovery() AS recovery, current_user AS usr,
            to_regnamespace('oasys_migrate') IS NOT NULL AS has_state,
            has_database_privilege(current_database(), 'CREATE') AS db_create,
            COALESCE(to_regnamespace('oasys_migrate') IS NOT NULL AND has_schema_privilege('oasys_migrate', 'CREATE')
                     AND has_schema_privilege('oasys_migrate', 'USAGE'), false) AS state_create,
            to_regnamespace($1) IS NOT NULL AS schema_exists,
            COALESCE(to_regnamespace($1) IS NOT NULL AND has_schema_privilege(to_regnamespace($1)::oid, 'CREATE')
                     AND has_schema_privilege(to_regnamespace($1)::oid, 'USAGE'), false) AS schema_create`,
    [ident(plan.targetSchema)],
  );
  const p = r.rows[0];
  if (p.ro || p.recovery) {
    missing.push({
      side: 'target',
      what: `the target database is read-only (${p.recovery ? 'a standby in recovery' : 'default_transaction_read_only is on'})`,
      grant: 'point --target at the primary, or turn default_transaction_read_only off for the migration',
    });
    return missing;
  }
  if (!p.has_state && !p.db_create) {
    missing.push({
      side: 'target',
      what: `role "${p.usr}" lacks the CREATE privilege on the target database (needed once, for the oasys_migrate state schema)`,
      grant: `GRANT CREATE ON DATABASE <db> TO "${p.usr}"`,
    });
  }
  if (p.has_state && !p.state_create) {
    missing.push({
      side: 'target',
      what: `role "${p.usr}" lacks the CREATE and USAGE privileges on schema oasys_migrate`,
      grant: `GRANT USAGE, CREATE ON SCHEMA oasys_migrate TO "${p.usr}"`,
    });
  }
  const creates = plan.tables.some((t) => t.action === 'create') || plan.types.some((t) => t.action === 'create');
  if (!p.schema_exists) {
    missing.push({
      side: 'target',
      what: `the target schema "${plan.targetSchema}" does not exist`,
      grant: `CREATE SCHEMA "${plan.targetSchema}" (or set targetSchema to an existing schema)`,
    });
  } else if (creates && !p.schema_create) {
    missing.push({
      side: 'target',
      what: `role "${p.usr}" lacks the CREATE privilege on schema "${plan.targetSchema}" (needed to create the unified tables and types)`,
      grant: `GRANT USAGE, CREATE ON SCHEMA "${plan.targetSchema}" TO "${p.usr}"`,
    });
  }
  const fills = plan.tables.filter((t) => t.action === 'fill').map((t) => ident(plan.targetSchema, t.target));
  if (fills.length > 0) {
    const f = await db.query<{ t: string; owner: boolean; ins: boolean }>(
      `SELECT t, pg_catalog.pg_has_role((SELECT relowner FROM pg_catalog.pg_class WHERE oid = t::regclass), 'USAGE') AS owner,
              has_table_privilege(t, 'INSERT') AND has_table_privilege(t, 'SELECT') AND has_table_privilege(t, 'DELETE') AS ins
         FROM unnest($1::text[]) AS t`,
      [fills],
    );
    for (const x of f.rows) {
      if (!x.owner)
        missing.push({
          side: 'target',
          what: `role "${p.usr}" does not own ${x.t} (needed to enable row-level security on it)`,
          grant: `ALTER TABLE ${x.t} OWNER TO "${p.usr}", or run as its owner`,
        });
      else if (!x.ins)
        missing.push({
          side: 'target',
          what: `role "${p.usr}" lacks the INSERT, SELECT or DELETE privilege on ${x.t}`,
          grant: `GRANT INSERT, SELECT, DELETE ON ${x.t} TO "${p.usr}"`,
        });
    }
  }
  const refs = [...new Set(plan.tables.flatMap((t) => t.foreignKeys.filter((fk) => !fk.tenantScoped).map((fk) => fk.refTable)))].filter(
    (ref) => !(plan.shared ?? []).some((st) => ident(st.schema, st.table) === ref),
  );
  if (refs.length > 0) {
    const f = await db.query<{ t: string; ok: boolean | null }>(
      `SELECT t, CASE WHEN to_regclass(t) IS NULL THEN NULL ELSE has_table_privilege(t, 'REFERENCES') END AS ok FROM unnest($1::text[]) AS t`,
      [refs],
    );
    for (const x of f.rows) {
      if (x.ok === false)
        missing.push({
          side: 'target',
          what: `role "${p.usr}" lacks the REFERENCES privilege on ${x.t} (tenant foreign keys point at it)`,
          grant: `GRANT REFERENCES ON ${x.t} TO "${p.usr}"`,
        });
    }
  }
  return missing;
}

export async function sourcePrivileges(db: Queryable, plan: Plan): Promise<MissingPrivilege[]> {
  // By OID over the catalog, not by parsing 50,000 qualified names.
  const r = await db.query<{ usr: string; schema: string; tbl: string }>(
    `SELECT current_user AS usr, n.nspname AS schema, c.relname AS tbl
       FROM unnest($1::text[], $2::text[]) AS w(schema, tbl)
       JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema
       JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.tbl
      WHERE NOT (has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT'))
      LIMIT 11`,
    [plan.tables.flatMap((t) => t.tenants), plan.tables.flatMap((t) => t.tenants.map(() => t.source))],
  );
  return r.rows.slice(0, 10).map((x) => ({
    side: 'source' as const,
    what: `role "${x.usr}" lacks USAGE on schema ${ident(x.schema)} or SELECT on ${ident(x.schema, x.tbl)}${r.rows.length > 10 ? ' (and more tenant tables)' : ''}`,
    grant: `GRANT USAGE ON SCHEMA ${ident(x.schema)} TO "${x.usr}"; GRANT SELECT ON ALL TABLES IN SCHEMA ${ident(x.schema)} TO "${x.usr}"`,
  }));
}
