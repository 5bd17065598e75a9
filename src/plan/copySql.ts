import { ident, identList } from '../db/ident.js';
import { sourceRelation, type CopyStep, type SharedTable, type UnifiedColumn, type UnifiedTable } from './model.js';

/** How a source column of `s` is read for the unified table: a tenant-local type goes through its text. */
export function selectExpression(c: UnifiedColumn): string {
  return c.castViaText ? `s.${ident(c.name)}::text::${c.type}` : `s.${ident(c.name)}`;
}

/**
 * The statements that move one tenant's rows of one table. Values never pass
 * through JavaScript types: same-database copies stay inside the server, and
 * cross-database copies stream COPY bytes untouched (node-postgres would turn
 * a timestamptz into a Date and drop its microseconds).
 */
export function copyStatements(
  ctx: { targetSchema: string; tenantColumn: string },
  t: UnifiedTable,
  tenant: { schema: string; tenantId: string },
  builtinOnly: boolean,
  estimatedRows: number,
): CopyStep {
  const cols = t.columns.filter((c) => c.generatedExpr === null);
  const source = sourceRelation(ident(tenant.schema, t.source), t.partitioned);
  const target = ident(ctx.targetSchema, t.target);
  const selectList = cols.map(selectExpression).join(', ');
  // Text form where a local type is involved: binary enum arrays carry type OIDs that differ between databases.
  const outList = cols.map((c) => (c.castViaText ? `s.${ident(c.name)}::text` : `s.${ident(c.name)}`)).join(', ');
  const binary = builtinOnly && !cols.some((c) => c.castViaText);
  const fmt = binary ? ' (FORMAT binary)' : '';
  return {
    tenant: tenant.schema,
    tenantId: tenant.tenantId,
    sourceTable: t.source,
    targetTable: t.target,
    estimatedRows,
    insertSelect:
      `INSERT INTO ${target} (${identList([ctx.tenantColumn, ...cols.map((c) => c.name)])}) OVERRIDING SYSTEM VALUE\n` +
      `SELECT $1::${t.tenantColumnType}, ${selectList} FROM ${source} AS s`,
    copyOut: `COPY (SELECT ${outList} FROM ${source} AS s) TO STDOUT${fmt}`,
    copyIn: `COPY ${target} (${identList(cols.map((c) => c.name))}) FROM STDIN${fmt}`,
    binary,
  };
}

/** The session setting that the tenant column's temporary default reads during a cross-database COPY. */
export const COPY_TENANT_SETTING = 'oasys_migrate.copy_tenant';

export function copyDefaultSql(ctx: { targetSchema: string; tenantColumn: string }, t: UnifiedTable): string {
  return `ALTER TABLE ${ident(ctx.targetSchema, t.target)} ALTER COLUMN ${ident(ctx.tenantColumn)} SET DEFAULT pg_catalog.current_setting('${COPY_TENANT_SETTING}')::${t.tenantColumnType}`;
}

/** A shared table copied whole into a separate target (no tenant column). */
export function sharedCopyStatements(st: SharedTable, builtinOnly: boolean, estimatedRows: number): CopyStep {
  const cols = st.columns.filter((c) => c.generatedExpr === null).map((c) => c.name);
  const fmt = builtinOnly ? ' (FORMAT binary)' : '';
  const qualified = ident(st.schema, st.table);
  return {
    shared: true, tenant: '', tenantId: '', sourceTable: st.table, targetTable: st.table, estimatedRows,
    insertSelect: '',
    copyOut: `COPY (SELECT ${identList(cols)} FROM ${sourceRelation(qualified, st.partitioned)}) TO STDOUT${fmt}`,
    copyIn: `COPY ${qualified} (${identList(cols)}) FROM STDIN${fmt}`,
    binary: builtinOnly,
  };
}
