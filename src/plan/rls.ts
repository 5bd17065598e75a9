import { ident, literal } from '../db/ident.js';
import type { UnifiedTable } from './model.js';

/** Which parts of row-level security a table still needs (a filled table may have some already). */
export interface RlsParts {
  enable: boolean;
  force: boolean;
  policy: boolean;
}

/**
 * Row-level security: the setting is read once per statement (an InitPlan), so the tenant index is usable.
 * Citus rejects sub-selects in policies on distributed tables: there (`direct`) the setting is compared
 * as it is, which the workers evaluate with the SET LOCAL the coordinator propagates.
 */
export function rlsSql(
  ctx: { targetSchema: string; tenantColumn: string; rls: { setting: string }; policy?: 'direct' },
  t: UnifiedTable,
  parts: RlsParts,
): string[] {
  const qualified = ident(ctx.targetSchema, t.target);
  const setting = `NULLIF(pg_catalog.current_setting(${literal(ctx.rls.setting)}, true), '')::${t.tenantColumnType}`;
  const current = ctx.policy === 'direct' ? setting : `(SELECT ${setting})`;
  const predicate = `${ident(ctx.tenantColumn)} = ${current}`;
  const stmts: string[] = [];
  if (parts.enable) stmts.push(`ALTER TABLE ${qualified} ENABLE ROW LEVEL SECURITY`);
  if (parts.force) stmts.push(`ALTER TABLE ${qualified} FORCE ROW LEVEL SECURITY`);
  if (parts.policy) stmts.push(`CREATE POLICY tenant_isolation ON ${qualified} AS PERMISSIVE FOR ALL USING (${predicate}) WITH CHECK (${predicate})`);
  return stmts;
}

/**
 * What the rls phase must do to a table, from what it already has: a created
 * table gets everything; a filled one what it lacks. FORCE lifted for the run
 * (liftForce) is put back whatever rls.force says: revert's snapshot expects it.
 */
export function rlsPartsFor(
  rls: { force: boolean },
  t: Pick<UnifiedTable, 'liftForce'>,
  existing: { rlsEnabled: boolean; rlsForced: boolean; hasPolicy: boolean } | undefined,
): RlsParts {
  const forcedNow = existing?.rlsForced === true && !t.liftForce;
  return {
    enable: !existing?.rlsEnabled,
    force: (rls.force || t.liftForce === true) && !forcedNow,
    policy: !existing?.hasPolicy,
  };
}
