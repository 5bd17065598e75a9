import { ident, literal } from '../db/ident.js';
import type { UnifiedTable } from './model.js';

/**
 * The tenant column's default (SPEC §4 "Tenant column default"): the current tenant as the
 * application's transaction set it in `rls.setting`. An unchanged application INSERT, which
 * does not name the tenant column, then gets the right tenant; with no tenant set (unset or
 * '') the default is NULL and NOT NULL rejects the row, instead of stamping a wrong one.
 *
 * No sub-select (a column default cannot hold one, and Citus needs none); the cast is the
 * column's own type. The separate-target COPY sets the same setting per tenant transaction,
 * so this one default also stamps the copied rows (no temporary default to take away).
 */
export function tenantDefaultExpr(setting: string, type: string): string {
  return `NULLIF(pg_catalog.current_setting(${literal(setting)}, true), '')::${type}`;
}

export function tenantDefaultSql(
  ctx: { targetSchema: string; tenantColumn: string; rls: { setting: string } },
  t: Pick<UnifiedTable, 'target' | 'tenantColumnType'>,
): string {
  return `ALTER TABLE ${ident(ctx.targetSchema, t.target)} ALTER COLUMN ${ident(ctx.tenantColumn)} SET DEFAULT ${tenantDefaultExpr(ctx.rls.setting, t.tenantColumnType)}`;
}
