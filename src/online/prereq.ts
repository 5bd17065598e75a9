import type pg from 'pg';
import type { Problem } from '../discover/problems.js';
import type { Plan } from '../plan/model.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

const HINT_SETTINGS = "set it in postgresql.conf (or the managed service's parameter group) and restart the source server";

/**
 * What `run --online` needs from the source, as problems `plan --online` prints and `run --online`
 * enforces: logical WAL, a free slot and WAL sender, a role that may replicate, and tables whose
 * changes can be applied (a primary key as replica identity; a key column translated through a merged lookup table is not).
 */
export async function onlineProblems(source: Queryable, plan: Plan): Promise<Problem[]> {
  const out: Problem[] = [];
  const s = (
    await source.query<{ wal_level: string; slots: number; slots_used: number; senders: number; senders_used: number; replication: boolean; role: string }>(
      `SELECT pg_catalog.current_setting('wal_level') AS wal_level,
              pg_catalog.current_setting('max_replication_slots')::int AS slots,
              (SELECT count(*)::int FROM pg_catalog.pg_replication_slots) AS slots_used,
              pg_catalog.current_setting('max_wal_senders')::int AS senders,
              (SELECT count(*)::int FROM pg_catalog.pg_stat_replication) AS senders_used,
              (SELECT rolreplication OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS replication,
              current_user AS role`,
    )
  ).rows[0];
  const prereq = (message: string, hint: string) => out.push({ severity: 'error', code: 'ONLINE_PREREQUISITE', message, hint });
  if (s.wal_level !== 'logical') prereq(`the source has wal_level = ${s.wal_level}; online mode decodes the WAL and needs wal_level = logical`, HINT_SETTINGS);
  if (s.slots - s.slots_used < 1)
    prereq(
      `the source has no free replication slot (max_replication_slots = ${s.slots}, ${s.slots_used} in use); online mode needs one`,
      `raise max_replication_slots (${HINT_SETTINGS}) or drop an unused slot`,
    );
  if (s.senders - s.senders_used < 1)
    prereq(
      `the source has no free WAL sender (max_wal_senders = ${s.senders}, ${s.senders_used} in use); the slot is created on a replication connection`,
      `raise max_wal_senders (${HINT_SETTINGS})`,
    );
  if (!s.replication)
    prereq(
      `role "${s.role}" lacks the REPLICATION attribute, which creating and reading a replication slot requires`,
      `ALTER ROLE ${JSON.stringify(s.role)} REPLICATION (on a managed service: the provider's replication role or flag), and allow it in pg_hba.conf for replication connections`,
    );

  for (const t of plan.tables) {
    if (!t.sourceKey?.length) {
      out.push({
        severity: 'warning',
        code: 'ONLINE_FROZEN',
        table: t.source,
        message:
          `table ${t.source} has no primary key: its UPDATEs and DELETEs carry no key and cannot be applied while the application writes; ` +
          `it goes into the write freeze: copied again for every tenant during the cut-over, after the writes stopped (about ${t.estimatedRows} rows: the downtime grows with them)`,
        hint: 'add a primary key to the tenant tables to follow it online instead',
      });
    }
    // A key column translated through a merged table: the source's key would not find the unified row.
    const keyed = (t.translations ?? []).filter((x) => t.sourceKey?.includes(x.column));
    if (keyed.length > 0) {
      out.push({
        severity: 'error',
        code: 'ONLINE_UNSUPPORTED',
        table: t.source,
        message: `table ${t.source} has key columns translated through a merged lookup table (${keyed.map((x) => x.column).join(', ')}); online mode finds rows by the source's key`,
        hint: 'migrate without --online with writes stopped',
      });
    }
  }
  if (plan.merges?.length) {
    out.push({
      severity: 'warning',
      code: 'ONLINE_MERGED',
      message: `lookup tables merged by natural key (${plan.merges.map((m) => m.table).join(', ')}) are mapped once, before the copy: a tenant's copy of one changing during the online run (a Django migration) stops it; references to them in changed rows are translated as the copy translates them`,
      hint: 'run no migrations between `run --online` and `cutover`',
    });
  }
  // Replica identity other than the primary key: DELETEs and key UPDATEs would not carry the key. One query for every tenant table.
  const keyed = plan.tables.filter((t) => t.sourceKey?.length);
  if (keyed.length > 0) {
    const r = await source.query<{ schema: string; table: string; ident: string }>(
      `SELECT n.nspname AS schema, c.relname AS table, c.relreplident::text AS ident
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY ($1::text[]) AND c.relname = ANY ($2::text[]) AND c.relreplident IN ('n', 'i')`,
      [plan.tenants.map((t) => t.schema), keyed.map((t) => t.source)],
    );
    for (const row of r.rows.slice(0, 50)) {
      out.push({
        severity: 'error',
        code: 'ONLINE_UNSUPPORTED',
        tenant: row.schema,
        table: row.table,
        message: `tenant "${row.schema}" table ${row.table} has REPLICA IDENTITY ${row.ident === 'n' ? 'NOTHING' : 'USING INDEX'}: its DELETEs do not carry the primary key`,
        hint: 'ALTER TABLE … REPLICA IDENTITY DEFAULT on the tenant table (a catalog change only), or migrate without --online',
      });
    }
  }
  if (!plan.sameDatabase && plan.shared.length > 0) {
    out.push({
      severity: 'warning',
      code: 'ONLINE_SHARED',
      message: `shared tables copied to the separate target once: ${plan.shared.map((x) => `${x.schema}.${x.table}`).join(', ')}; a write to one of them on the source during the online run stops it (their changes are not carried over)`,
      hint: 'keep writes to these tables stopped until the cut-over (e.g. no sign-ups), or migrate in place',
    });
  }
  out.push({
    severity: 'info',
    code: 'ONLINE_FOOTPRINT',
    message:
      'online mode adds one logical replication slot to the source (oasys_migrate_<run>_<database oid>, test_decoding, no publication, trigger or catalog row in any schema); ' +
      'while it lags the source keeps the WAL it has not applied, and during the copy its exported snapshot holds back vacuum; ' +
      'the slot is dropped at cutover, at revert and when the run fails (SPEC §4, Online mode: the one carve-out from "the source is only read")',
  });
  return out;
}
