import { ident } from '../db/ident.js';
import type { Index, TableDef } from '../discover/model.js';
import { ProblemCode } from '../discover/problems.js';
import type { TableContext } from './context.js';
import type { TableGroup } from './drift.js';
import type { IndexDef } from './model.js';
import { freeName } from './names.js';

function indexColumnSql(idx: Index, table: TableDef, k: number): string {
  const def = idx.columnDefs[k];
  const isColumn = table.columns.some((c) => def === c.name || def === ident(c.name));
  let sql = isColumn ? def : `(${def})`;
  if (k < idx.keyCount) {
    const opc = idx.opclasses[k];
    if (opc) sql += ` ${opc}`;
    const opt = idx.options[k] ?? 0;
    const desc = (opt & 1) !== 0;
    const nullsFirst = (opt & 2) !== 0;
    if (desc) sql += nullsFirst ? ' DESC' : ' DESC NULLS LAST';
    else if (nullsFirst) sql += ' NULLS FIRST';
  }
  return sql;
}

export function buildIndexes(ctx: TableContext, group: TableGroup, target: string): IndexDef[] {
  const ref = group.reference;
  const out: IndexDef[] = [];
  for (const idx of ref.indexes) {
    if (idx.backsConstraint) continue; // the constraint recreates it
    if (idx.usesLocalObjects) {
      ctx.problems.push({
        severity: 'warning',
        code: ProblemCode.INDEX_SKIPPED,
        table: group.name,
        message: `index "${idx.name}" on "${group.name}" uses a function or type of the tenant schema and is not recreated`,
        hint: 'recreate it by hand on the unified table after the migration',
      });
      continue;
    }
    const name = freeName(ctx, idx.name, target, idx.name);
    const keys: string[] = [];
    for (let k = 0; k < idx.keyCount; k++) keys.push(indexColumnSql(idx, ref, k));
    const include = idx.columnDefs.slice(idx.keyCount).map((_, i) => indexColumnSql(idx, ref, idx.keyCount + i));
    const tenantLeading = idx.method === 'btree';
    if (!tenantLeading) {
      ctx.problems.push({
        severity: 'warning',
        code: ProblemCode.INDEX_NOT_TENANT_LEADING,
        table: group.name,
        message: `index "${idx.name}" on "${group.name}" uses ${idx.method}, which cannot lead with ${ctx.tenantColumn} here; it is recreated as it was`,
        hint:
          idx.method === 'gin' || idx.method === 'gist'
            ? `install btree_${idx.method} and add ${ctx.tenantColumn} to the index by hand if queries need it`
            : undefined,
      });
    }
    const cols = tenantLeading ? [ident(ctx.tenantColumn), ...keys] : keys;
    let sql = `CREATE ${idx.unique ? 'UNIQUE ' : ''}INDEX ${ident(name)} ON ${ident(ctx.targetSchema, target)} USING ${idx.method} (${cols.join(', ')})`;
    if (include.length > 0) sql += ` INCLUDE (${include.join(', ')})`;
    if (idx.unique && idx.nullsNotDistinct) sql += ' NULLS NOT DISTINCT';
    if (idx.predicate) sql += ` WHERE ${idx.predicate}`;
    out.push({ name, sql, tenantLeading });
  }
  return out;
}
