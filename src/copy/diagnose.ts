import type pg from 'pg';
import { ident } from '../db/ident.js';
import { pgFields } from '../errors.js';
import type { CopyStep, UnifiedTable } from '../plan/model.js';
import { selectExpression } from '../plan/copySql.js';
import { sourceRelation } from '../plan/model.js';

/**
 * After a same-database copy failed on its data, finds the offending row and
 * column so the error can name them: the copy is retried on ranges of the
 * source's pages (a TID range scan), halving the range until one page, then
 * row by row; then each column's value is assigned to a scratch column of its
 * target type. All of it in one transaction that is rolled back: nothing is
 * written, the tenant schema is only read.
 */
export interface Diagnosis {
  /** e.g. `(id)=(42)`, or the row's text when the table has no primary key. */
  rowKey?: string;
  column?: string;
}

const MAX_PROBES = 400;

export async function diagnoseCopyFailure(
  pool: pg.Pool,
  table: UnifiedTable,
  copy: CopyStep,
  /** The copy's INSERT … SELECT for this tenant alone ($1 = tenant id). */
  insertSelect: string,
  sourcePrimaryKey: string[] | undefined,
  err: unknown,
): Promise<Diagnosis | undefined> {
  const code = pgFields(err)?.code ?? '';
  if (!/^2[23]/.test(code)) return undefined; // data exceptions and integrity violations only
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL statement_timeout = '60s'`);
    const qualified = ident(copy.tenant, copy.sourceTable);
    const source = sourceRelation(qualified, table.partitioned);
    let probes = 0;
    const fails = async (where: string, params: unknown[]): Promise<boolean> => {
      if (++probes > MAX_PROBES) throw new Error('diagnosis gave up');
      await client.query('SAVEPOINT probe');
      try {
        await client.query(`${insertSelect} WHERE ${where}`, [copy.tenantId, ...params]);
        return false;
      } catch {
        return true;
      } finally {
        await client.query('ROLLBACK TO SAVEPOINT probe');
      }
    };
    const pages = Number(
      (await client.query<{ n: string }>(`SELECT (pg_catalog.pg_relation_size($1::regclass) / current_setting('block_size')::int)::int8 AS n`, [qualified]))
        .rows[0]?.n ?? 0,
    );
    let lo = 0;
    let hi = Math.max(1, pages) + 1;
    if (!(await fails(`s.ctid >= $2::tid AND s.ctid < $3::tid`, [`(${lo},0)`, `(${hi},0)`]))) return undefined;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (await fails(`s.ctid >= $2::tid AND s.ctid < $3::tid`, [`(${lo},0)`, `(${mid},0)`])) hi = mid;
      else lo = mid;
    }
    const tids = await client.query<{ t: string }>(`SELECT s.ctid::text AS t FROM ${source} AS s WHERE s.ctid >= $1::tid AND s.ctid < $2::tid`, [
      `(${lo},0)`,
      `(${hi},0)`,
    ]);
    let bad: string | undefined;
    for (const { t } of tids.rows) {
      if (await fails(`s.ctid = $2::tid`, [t])) {
        bad = t;
        break;
      }
    }
    if (!bad) return undefined;
    const result: Diagnosis = {};
    if (sourcePrimaryKey && sourcePrimaryKey.length > 0) {
      const k = await client.query<{ v: string }>(
        `SELECT ROW(${sourcePrimaryKey.map((c) => `s.${ident(c)}`).join(', ')})::text AS v FROM ${source} AS s WHERE s.ctid = $1::tid`,
        [bad],
      );
      result.rowKey = `(${sourcePrimaryKey.join(', ')})=${k.rows[0]?.v ?? '?'}`;
    } else {
      const k = await client.query<{ v: string }>(`SELECT left(s::text, 200) AS v FROM ${source} AS s WHERE s.ctid = $1::tid`, [bad]);
      result.rowKey = `${k.rows[0]?.v ?? '?'} (no primary key; ctid ${bad})`;
    }
    result.column = pgFields(err)?.column;
    if (!result.column) {
      // Assign each value to a scratch column of the target type: the same assignment cast the copy does.
      for (const c of table.columns.filter((x) => x.generatedExpr === null)) {
        await client.query('SAVEPOINT col');
        try {
          await client.query(`CREATE TEMP TABLE oasys_probe (v ${c.type}) ON COMMIT DROP`);
          await client.query(`INSERT INTO oasys_probe (v) SELECT ${selectExpression(c)} FROM ${source} AS s WHERE s.ctid = $1::tid`, [bad]);
          await client.query('ROLLBACK TO SAVEPOINT col');
        } catch {
          await client.query('ROLLBACK TO SAVEPOINT col');
          result.column = c.name;
          break;
        }
      }
    }
    return result;
  } catch {
    return undefined;
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}
