import type pg from 'pg';
import { pipeline } from 'node:stream/promises';
import copyStreams from 'pg-copy-streams';

/**
 * COPY out of the source straight into COPY into the target, bytes untouched, with
 * back-pressure. The source side reads in one REPEATABLE READ transaction whose
 * snapshot is returned: source rows written after it are found by `sourceWrites`.
 */
export async function streamCopy(src: pg.PoolClient, tgt: pg.PoolClient, c: { copyOut: string; copyIn: string }): Promise<{ rows: number; snapshot: string }> {
  await src.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const snapshot = (await src.query<{ s: string }>('SELECT pg_catalog.pg_current_snapshot()::text AS s')).rows[0].s;
  const into = tgt.query(copyStreams.from(c.copyIn));
  const out = src.query(copyStreams.to(c.copyOut));
  await pipeline(out, into);
  await src.query('COMMIT');
  return { rows: Number((into as unknown as { rowCount: number }).rowCount ?? 0), snapshot };
}
