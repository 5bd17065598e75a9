import { ident, identList } from '../db/ident.js';
import { mergeMap, translatedCopySql } from './merge.js';
import { sourceRelation, type CopyRange, type CopyStep, type Plan, type SharedTable, type UnifiedColumn, type UnifiedTable } from './model.js';

/** How a source column of `s` is read for the unified table: a tenant-local type goes through its text. */
export function selectExpression(c: UnifiedColumn): string {
  return c.castViaText ? `s.${ident(c.name)}::text::${c.type}` : `s.${ident(c.name)}`;
}

/**
 * The statements that move tenants' rows of one table, rendered from the plan's
 * data when they run (steps carry no SQL: 10,000 tenants × 5 tables). Values
 * never pass through JavaScript types: same-database copies stay inside the
 * server, and cross-database copies stream COPY bytes untouched (node-postgres
 * would turn a timestamptz into a Date and drop its microseconds).
 */
type CopyContext = { targetSchema: string; tenantColumn: string };

/**
 * A chunk's rows (src/plan/chunks.ts): its integer bounds are rendered, not bound, because COPY
 * takes no parameters; they are checked to be digits here (and when a stored plan is read).
 */
export function rangeWhere(r: CopyRange | undefined, alias: string): string {
  if (!r) return '';
  const int = (v: string) => {
    if (!/^-?\d+$/.test(v)) throw new Error(`chunk bound is not an integer: ${JSON.stringify(v)}`);
    return `${v}::int8`;
  };
  const parts: string[] = [];
  if (r.from !== undefined) parts.push(`${alias}.${ident(r.column)} >= ${int(r.from)}`);
  if (r.to !== undefined) parts.push(`${alias}.${ident(r.column)} < ${int(r.to)}`);
  return parts.length ? ` WHERE ${parts.join(' AND ')}` : '';
}

export function copiedColumns(t: Pick<UnifiedTable, 'columns'>): UnifiedColumn[] {
  return t.columns.filter((c) => c.generatedExpr === null);
}

/** The INSERT of same-database copies into `t`: the tenant column, then the copied columns in plan order. */
export function insertHead(ctx: CopyContext, t: UnifiedTable): string {
  return `INSERT INTO ${ident(ctx.targetSchema, t.target)} (${identList([ctx.tenantColumn, ...copiedColumns(t).map((c) => c.name)])}) OVERRIDING SYSTEM VALUE`;
}

/**
 * Same database: one INSERT … SELECT for one or many tenants of `t`; the i-th
 * copy's tenant id is parameter $i+1. Many copies return per-tenant counts.
 */
export function insertSelectSql(
  ctx: CopyContext,
  t: UnifiedTable,
  copies: Pick<CopyStep, 'tenant' | 'range'>[],
  counted = true,
): { sql: string; counted: boolean } {
  const selectList = copiedColumns(t).map(selectExpression).join(', ');
  const head = insertHead(ctx, t);
  const selects = copies.map(
    (c, i) =>
      `SELECT $${i + 1}::${t.tenantColumnType}, ${selectList} FROM ${sourceRelation(ident(c.tenant, t.source), t.partitioned)} AS s${rangeWhere(c.range, 's')}`,
  );
  if (copies.length === 1 || !counted) return { sql: `${head}\n${selects.join('\nUNION ALL\n')}`, counted: false };
  return {
    sql: `WITH ins AS (${head}\n${selects.join('\nUNION ALL\n')}\nRETURNING ${ident(ctx.tenantColumn)} AS t)\nSELECT t::text AS t, count(*)::int8 AS n FROM ins GROUP BY 1`,
    counted: true,
  };
}

/** Separate target: what one tenant's COPY reads from the source. Text form where a local type is involved. */
export function copyOutSql(t: UnifiedTable, c: Pick<CopyStep, 'tenant' | 'binary' | 'range'>): string {
  // Binary enum arrays carry type OIDs that differ between databases: local types go as text.
  const outList = copiedColumns(t)
    .map((col) => (col.castViaText ? `s.${ident(col.name)}::text` : `s.${ident(col.name)}`))
    .join(', ');
  return `COPY (SELECT ${outList} FROM ${sourceRelation(ident(c.tenant, t.source), t.partitioned)} AS s${rangeWhere(c.range, 's')}) TO STDOUT${c.binary ? ' (FORMAT binary)' : ''}`;
}

/** Separate target: the COPY into the unified table (the tenant column is filled by its default). */
export function copyInSql(ctx: CopyContext, t: UnifiedTable, binary: boolean): string {
  return `COPY ${ident(ctx.targetSchema, t.target)} (${identList(copiedColumns(t).map((c) => c.name))}) FROM STDIN${binary ? ' (FORMAT binary)' : ''}`;
}

/** The copy step of one tenant of `t`: what to move, not how (see the renderers above). */
export function copyStep(t: UnifiedTable, tenant: { schema: string; tenantId: string }, builtinOnly: boolean, estimatedRows: number): CopyStep {
  let viaText = castsViaText.get(t);
  if (viaText === undefined) castsViaText.set(t, (viaText = copiedColumns(t).some((c) => c.castViaText)));
  return {
    tenant: tenant.schema,
    tenantId: tenant.tenantId,
    sourceTable: t.source,
    targetTable: t.target,
    estimatedRows,
    binary: builtinOnly && !viaText,
  };
}

/** Per unified table, worked out once for its 50,000 copy steps. */
const castsViaText = new WeakMap<UnifiedTable, boolean>();

/** The session setting that the tenant column's temporary default reads during a cross-database COPY. */
export const COPY_TENANT_SETTING = 'oasys_migrate.copy_tenant';

export function copyDefaultSql(ctx: { targetSchema: string; tenantColumn: string }, t: UnifiedTable): string {
  return `ALTER TABLE ${ident(ctx.targetSchema, t.target)} ALTER COLUMN ${ident(ctx.tenantColumn)} SET DEFAULT pg_catalog.current_setting('${COPY_TENANT_SETTING}')::${t.tenantColumnType}`;
}

/** A shared table copied whole into a separate target (no tenant column). */
export function sharedCopyStep(st: SharedTable, builtinOnly: boolean, estimatedRows: number): CopyStep {
  return { shared: true, tenant: st.schema, tenantId: '', sourceTable: st.table, targetTable: st.table, estimatedRows, binary: builtinOnly };
}

export function sharedCopyOutSql(st: SharedTable, binary: boolean): string {
  const cols = st.columns.filter((c) => c.generatedExpr === null).map((c) => c.name);
  return `COPY (SELECT ${identList(cols)} FROM ${sourceRelation(ident(st.schema, st.table), st.partitioned)}) TO STDOUT${binary ? ' (FORMAT binary)' : ''}`;
}

export function sharedCopyInSql(st: SharedTable, binary: boolean): string {
  const cols = st.columns.filter((c) => c.generatedExpr === null).map((c) => c.name);
  return `COPY ${ident(st.schema, st.table)} (${identList(cols)}) FROM STDIN${binary ? ' (FORMAT binary)' : ''}`;
}

/** What one copy step runs: an INSERT … SELECT, or a COPY pair (through a staging table when columns are translated). */
export interface CopySql {
  insertSelect?: string;
  copyOut?: string;
  copyIn?: string;
  stage?: { create: string; insert: string };
}

/** Every statement a copy step runs, for the executor and for printing. */
export function copyStatements(plan: Pick<Plan, 'targetSchema' | 'tenantColumn' | 'sameDatabase' | 'tables' | 'shared' | 'merges'>, c: CopyStep): CopySql {
  if (c.shared) {
    const st = plan.shared.find((x) => x.schema === c.tenant && x.table === c.sourceTable)!;
    return { copyOut: sharedCopyOutSql(st, c.binary), copyIn: sharedCopyInSql(st, c.binary) };
  }
  const t = plan.tables.find((x) => x.target === c.targetTable)!;
  if (t.translations?.length) return translatedCopySql(t, mergeMap(plan.merges), plan, c.tenant, plan.sameDatabase);
  if (plan.sameDatabase) return { insertSelect: insertSelectSql(plan, t, [c]).sql };
  return { copyOut: copyOutSql(t, c), copyIn: copyInSql(plan, t, c.binary) };
}
