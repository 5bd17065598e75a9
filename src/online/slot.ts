import pg from 'pg';
import { clientConfig } from '../db/connect.js';
type Queryable = Pick<pg.ClientBase, 'query'>;
import { EnvironmentError } from '../errors.js';

/**
 * SPEC §4 (Online mode): the one object online mode adds to the source. Slot names are
 * cluster-wide while run numbers are per target database: the source database's OID makes
 * two migrations on one server (or a test suite's parallel databases) never share a slot.
 */
export async function slotNameFor(source: Queryable, runId: number): Promise<string> {
  const r = await source.query<{ oid: string }>(`SELECT oid::text AS oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()`);
  return `oasys_migrate_${runId}_${r.rows[0].oid}`;
}

export interface ExportedSlot {
  slot: string;
  /** Every copy transaction imports it (SET TRANSACTION SNAPSHOT): rows copied + changes decoded after `consistentPoint` = the source. */
  snapshot: string;
  consistentPoint: string;
  /** Ends the replication connection; the snapshot can no longer be imported after this. */
  close(): Promise<void>;
}

/**
 * Creates the run's logical slot (test_decoding: ships with every server and needs no
 * publication) on a replication connection, with an exported snapshot. The connection must
 * stay open and idle while copies import the snapshot: `close()` once the copy phase is over.
 */
export async function createSlotWithSnapshot(url: string | undefined, slot: string, serverVersionNum: number): Promise<ExportedSlot> {
  if (!/^[a-z0-9_]+$/.test(slot)) throw new Error(`invalid slot name ${slot}`);
  const config = { ...clientConfig({ url, role: 'source', applicationName: `oasys-migrate ${slot}` }), replication: 'database' } as pg.ClientConfig;
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  try {
    await client.connect();
    // The option list form is 15+; 14 knows only the older keyword.
    const sql =
      serverVersionNum >= 150000
        ? `CREATE_REPLICATION_SLOT ${slot} LOGICAL test_decoding (SNAPSHOT 'export')`
        : `CREATE_REPLICATION_SLOT ${slot} LOGICAL test_decoding EXPORT_SNAPSHOT`;
    const r = await client.query<{ snapshot_name: string; consistent_point: string }>(sql);
    return {
      slot,
      snapshot: r.rows[0].snapshot_name,
      consistentPoint: r.rows[0].consistent_point,
      close: () => client.end().catch(() => undefined),
    };
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new EnvironmentError(
      `could not create the replication slot ${slot} on the source: ${(err as Error).message}`,
      'online mode needs wal_level = logical, a free replication slot and WAL sender, and a role with the REPLICATION attribute; `oasys-migrate plan --online` checks them',
      err,
    );
  }
}

export async function slotExists(db: Queryable, slot: string): Promise<boolean> {
  const r = await db.query(`SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND database = pg_catalog.current_database()`, [slot]);
  return r.rows.length > 0;
}

/**
 * Drops the slot if it exists (a forgotten slot keeps WAL on the source until its disk fills).
 * A slot still held by a dead session's walsender is released once that backend is gone: retried briefly.
 */
export async function dropSlot(db: Queryable, slot: string): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await db.query(
        `SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND database = pg_catalog.current_database()`,
        [slot],
      );
      return r.rows.length > 0;
    } catch (err) {
      // 55006 object_in_use: a session (a killed tool's replication connection) still holds it.
      if ((err as { code?: string }).code !== '55006' || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export interface SlotLag {
  /** WAL the source keeps for the slot beyond what was applied. */
  bytes: number;
  confirmedLsn: string | null;
  currentLsn: string;
}

export async function slotLag(db: Queryable, slot: string): Promise<SlotLag | undefined> {
  const r = await db.query<{ bytes: string | null; confirmed: string | null; current: string }>(
    `SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::text AS bytes,
            confirmed_flush_lsn::text AS confirmed, pg_catalog.pg_current_wal_lsn()::text AS current
       FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND database = pg_catalog.current_database()`,
    [slot],
  );
  if (r.rows.length === 0) return undefined;
  return { bytes: Math.max(0, Number(r.rows[0].bytes ?? 0)), confirmedLsn: r.rows[0].confirmed, currentLsn: r.rows[0].current };
}
