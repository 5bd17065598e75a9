import { xid32 } from '../db/xid.js';

/**
 * What a copy could not see of its source: the row versions its snapshot (pg_current_snapshot()
 * text, `xmin:xmax:xip,…`, 64-bit xids) did not include — made at or after its xmax, or by a
 * transaction in progress then. A row's xmin is a 32-bit xid, so they are compared through age(),
 * which counts from one reference point (stable within a transaction).
 */
export function snapshotLimits(snapshot: string): { xmax: string; inProgress: string[] } {
  const [, xmax, xip] = snapshot.split(':');
  return { xmax: xid32(xmax), inProgress: xip ? xip.split(',').filter(Boolean).map(xid32) : [] };
}

/**
 * SQL that is true for a row of `alias` the snapshot could not see: `xmaxAge` is age(xmax), an
 * expression or a bound number; `inProgress` the parameter holding the in-progress xids, if any
 * (most snapshots have none: then no per-row text comparison).
 */
export function unseenSql(alias: string, xmaxAge: string, inProgress?: string): string {
  return `pg_catalog.age(${alias}.xmin) <= ${xmaxAge}${inProgress ? ` OR ${alias}.xmin::text = ANY (${inProgress}::text[])` : ''}`;
}
