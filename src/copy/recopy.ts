import type pg from 'pg';
import { ident } from '../db/ident.js';
import { withLockedTransaction, type LockPolicy } from '../db/locks.js';
import { liftForce, restoreForce } from '../db/rlsAccess.js';
import { COPY_TENANT_SETTING, copyDefaultSql, copyStatements } from '../plan/copySql.js';
import type { Plan, Step, UnifiedTable } from '../plan/model.js';
import type { Session } from '../db/session.js';
import { addEvent } from '../state/journal.js';
import { streamCopy } from './stream.js';

/**
 * Depth of each unified table in the tenant foreign-key graph: parents 0, their
 * children 1, … Rows go in by increasing depth and out by decreasing depth, so
 * even foreign keys that cannot be deferred hold at every statement.
 */
export function tableDepths(plan: Pick<Plan, 'tables' | 'targetSchema'>): Map<string, number> {
  const byQualified = new Map(plan.tables.map((t) => [ident(plan.targetSchema, t.target), t.target]));
  const parents = new Map(
    plan.tables.map((t) => [
      t.target,
      new Set([
        ...(t.copyAfter ?? []),
        ...t.foreignKeys
          .filter((f) => f.tenantScoped)
          .map((f) => byQualified.get(f.refTable))
          .filter((x): x is string => x !== undefined),
      ]),
    ]),
  );
  const depth = new Map<string, number>();
  const of = (t: string, seen: Set<string>): number => {
    const known = depth.get(t);
    if (known !== undefined) return known;
    seen.add(t);
    let d = 0;
    for (const p of parents.get(t) ?? []) if (p !== t && !seen.has(p)) d = Math.max(d, of(p, seen) + 1);
    depth.set(t, d);
    return d;
  };
  for (const t of plan.tables) of(t.target, new Set());
  return depth;
}

/**
 * Replaces one tenant's rows in every unified table of the run, in ONE
 * transaction with its journal entries: deleted children first, copied again
 * parents first, with the plan's own copy statements. A kill at any moment
 * leaves the old rows or the new ones, never a mix; doing it again is harmless.
 * `only`: just these unified tables (online mode's frozen tables, copied again at the cut-over).
 */
export async function recopyTenant(session: Session, runId: number, plan: Plan, schema: string, lock: LockPolicy, only?: Set<string>): Promise<number> {
  const tenant = plan.tenants.find((t) => t.schema === schema)!;
  const steps = plan.steps.filter(
    (s): s is Step & { copy: NonNullable<Step['copy']> } => s.phase === 'copy' && s.tenant === schema && s.copy !== undefined && (!only || only.has(s.table!)),
  );
  const depth = tableDepths(plan);
  const tables = new Map(plan.tables.map((t) => [t.target, t]));
  const ordered = [...steps].sort((a, b) => depth.get(a.table!)! - depth.get(b.table!)!);
  return withLockedTransaction(session.target, `recopy of tenant "${schema}"`, lock, async (c) => {
    const qualified = (t: UnifiedTable) => ident(plan.targetSchema, t.target);
    const lifted = await liftForce(
      c,
      ordered.map((s) => qualified(tables.get(s.table!)!)),
    );
    // A separate target stamps the tenant column through a default that reads the bound setting.
    // Set before any row changes: ALTER TABLE refuses while deferred checks are pending.
    const defaults = new Map<UnifiedTable, string | null>();
    if (!plan.sameDatabase) {
      for (const s of ordered) {
        const t = tables.get(s.table!)!;
        defaults.set(
          t,
          (
            await c.query<{ d: string | null }>(
              `SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS d FROM pg_catalog.pg_attrdef d
             JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
            WHERE d.adrelid = $1::regclass AND a.attname = $2`,
              [qualified(t), plan.tenantColumn],
            )
          ).rows[0]?.d ?? null,
        );
        await c.query(copyDefaultSql(plan, t));
      }
    }
    await c.query('SET CONSTRAINTS ALL DEFERRED');
    for (const s of [...ordered].reverse()) {
      const t = tables.get(s.table!)!;
      await c.query(`DELETE FROM ${qualified(t)} WHERE ${ident(plan.tenantColumn)} = $1::${t.tenantColumnType}`, [tenant.tenantId]);
    }
    let total = 0;
    const src = plan.sameDatabase ? undefined : await session.source.connect();
    let broken = false;
    try {
      if (!plan.sameDatabase) await c.query('SELECT pg_catalog.set_config($1, $2, true)', [COPY_TENANT_SETTING, tenant.tenantId]);
      for (const s of ordered) {
        let rows: number;
        let snapshot: string;
        if (src) {
          try {
            ({ rows, snapshot } = await streamCopy(src, c, copyStatements(plan, s.copy), tenant.tenantId));
          } catch (err) {
            broken = true;
            throw err;
          }
        } else {
          snapshot = (await c.query<{ s: string }>('SELECT pg_catalog.pg_current_snapshot()::text AS s')).rows[0].s;
          rows = (await c.query(copyStatements(plan, s.copy).insertSelect!, [tenant.tenantId])).rowCount ?? 0;
        }
        await c.query(
          `UPDATE oasys_migrate.step SET rows = $3, source_snapshot = $4, source_checksum = NULL, finished_at = clock_timestamp() WHERE run_id = $1 AND step_id = $2`,
          [runId, s.id, rows, snapshot],
        );
        total += rows;
      }
    } finally {
      src?.release(broken);
    }
    await c.query('SET CONSTRAINTS ALL IMMEDIATE');
    for (const [t, was] of defaults) {
      await c.query(`ALTER TABLE ${qualified(t)} ALTER COLUMN ${ident(plan.tenantColumn)} ${was ? `SET DEFAULT ${was}` : 'DROP DEFAULT'}`);
    }
    await restoreForce(c, lifted);
    await addEvent(c, runId, 'recopied', { tenant: schema, rows: total });
    return total;
  });
}

/** The run's sequence steps again (they only move forward), seeing every row: recopied rows may carry higher ids. */
export async function resetSequences(session: Session, plan: Plan, lock: LockPolicy): Promise<void> {
  await withLockedTransaction(session.target as pg.Pool, 'sequence reset after the recopy', lock, async (c) => {
    const lifted = await liftForce(
      c,
      plan.tables.map((t) => ident(plan.targetSchema, t.target)),
    );
    for (const s of plan.steps.filter((x) => x.phase === 'sequences')) for (const sql of s.sql) await c.query(sql);
    await restoreForce(c, lifted);
  });
}
