import type pg from 'pg';
import { pipeline } from 'node:stream/promises';
import copyStreams from 'pg-copy-streams';
import type { CopySql } from '../plan/copySql.js';

/**
 * COPY out of the source straight into COPY into the target, bytes untouched, with
 * back-pressure. The source side reads in one REPEATABLE READ transaction whose
 * snapshot is returned: source rows written after it are found by `sourceWrites`.
 * Translated columns (merged lookup tables) go through a staging table, then one
 * INSERT … SELECT through the mappings ($1 = `tenantId`).
 */
export async function streamCopy(
  src: pg.PoolClient,
  tgt: pg.PoolClient,
  c: CopySql,
  tenantId: string,
  importSnapshot?: string,
  check?: { sql: string; schema: string },
): Promise<{ rows: number; snapshot: string; checksum?: string }> {
  await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  // Online mode: every copy reads the replication slot's exported snapshot (the name is the server's, not the user's).
  if (importSnapshot) await src.query(`SET TRANSACTION SNAPSHOT '${importSnapshot.replace(/[^0-9A-Fa-f-]/g, '')}'`);
  const snapshot = (await src.query<{ s: string }>('SELECT pg_catalog.pg_current_snapshot()::text AS s')).rows[0].s;
  if (c.stage) {
    await tgt.query('DROP TABLE IF EXISTS pg_temp.oasys_stage');
    await tgt.query(c.stage.create);
  }
  const into = tgt.query(copyStreams.from(c.copyIn!));
  const out = src.query(copyStreams.to(c.copyOut!));
  await pipeline(out, into);
  // The closing verification's source checksum, in the snapshot the rows were copied from.
  const sum = check ? (await src.query<{ n: string; h: string }>(check.sql, [check.schema])).rows[0] : undefined;
  await src.query('COMMIT');
  if (c.stage) {
    const r = await tgt.query(c.stage.insert, [tenantId]);
    await tgt.query('DROP TABLE pg_temp.oasys_stage');
    return { rows: r.rowCount ?? 0, snapshot };
  }
  const rows = Number((into as unknown as { rowCount: number }).rowCount ?? 0);
  // A count that differs from the rows COPY wrote is left to the verification: no checksum journaled.
  return { rows, snapshot, checksum: sum && Number(sum.n) === rows ? sum.h : undefined };
}
