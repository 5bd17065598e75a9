import { ident, literal } from '../db/ident.js';
import type { UnifiedTable } from '../plan/model.js';

/** Row-level security: the setting is read once per statement (an InitPlan), so the tenant index is usable. */
export function rlsSql(ctx: { targetSchema: string; tenantColumn: string; rls: { setting: string; force: boolean } }, t: UnifiedTable): string[] {
  const qualified = ident(ctx.targetSchema, t.target);
  const current = `(SELECT NULLIF(pg_catalog.current_setting(${literal(ctx.rls.setting)}, true), '')::${t.tenantColumnType})`;
  const predicate = `${ident(ctx.tenantColumn)} = ${current}`;
  const stmts = [`ALTER TABLE ${qualified} ENABLE ROW LEVEL SECURITY`];
  if (ctx.rls.force) stmts.push(`ALTER TABLE ${qualified} FORCE ROW LEVEL SECURITY`);
  stmts.push(`CREATE POLICY tenant_isolation ON ${qualified} AS PERMISSIVE FOR ALL USING (${predicate}) WITH CHECK (${predicate})`);
  return stmts;
}

