import { derivedName, ident } from '../db/ident.js';
import { ownSchema, type Column, type Constraint, type TableDef } from '../discover/model.js';
import { ProblemCode } from '../discover/problems.js';
import type { TableContext } from './context.js';
import type { TableGroup } from './drift.js';
import { buildIndexes } from './indexes.js';
import type { ForeignKeyDef, IndexDef, KeyDef, UnifiedColumn, UnifiedTable } from './model.js';
import { freeName } from './names.js';
import { comparableTypeName } from './types.js';

export type { TableContext };
export { unifiedTypes } from './types.js';

/*
 * Turns each table group (the tenants' copies of one table) into the definition of its unified
 * table: columns, keys with the tenant column in front, foreign keys, tenant-leading indexes
 * (indexes.ts), local types (types.ts). Pure: no database access.
 */
import { MIN_VERSION, supports, versionName, type VersionFeature } from './targetVersion.js';

/** Does a default/generated expression refer to the tenant's own schema (a function, sequence or type there)? */
function mentionsSchema(expr: string, schema: string): boolean {
  return expr.includes(ident(schema) + '.') || expr.includes(schema + '.');
}

/** quote_ident as the server prints names in expressions: quoted only when needed (keywords aside). */
function serverQuoted(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : ident(name);
}

/** Points casts to the tenant's own enum/domain types (`'red'::acme.color`) at the unified types. */
function retargetLocalTypes(expr: string, schema: string, types: string[], targetSchema: string): string {
  let out = expr;
  for (const t of types) out = out.split(`${serverQuoted(schema)}.${serverQuoted(t)}`).join(ident(targetSchema, t));
  return out;
}

function localTypeSql(ctx: TableContext, c: Column): string {
  return ident(ctx.targetSchema, c.localType!.name) + (c.localType!.array ? '[]' : '');
}

export function unifiedColumns(ctx: TableContext, group: Pick<TableGroup, 'name' | 'reference' | 'notNullEverywhere'>): UnifiedColumn[] {
  const ref = group.reference;
  const localTypes = [...new Set(ref.columns.filter((c) => c.localType).map((c) => c.localType!.name))];
  return ref.columns.map((c) => {
    const isSerial = c.identity === '' && c.defaultExpr !== null && /^nextval\(/.test(c.defaultExpr);
    let defaultExpr: string | null = null;
    let generatedExpr: string | null = null;
    let generatedVirtual = false;
    if (c.generated === 's' || c.generated === 'v') {
      if (c.defaultExpr && !mentionsSchema(c.defaultExpr, ownSchema(ref))) {
        generatedExpr = c.defaultExpr;
        generatedVirtual = c.generated === 'v' && supports(ctx.targetVersionNum, 'virtualGenerated');
        // Same values, computed on write instead of on read: the nearest an older target has.
        if (c.generated === 'v' && !generatedVirtual)
          ctx.problems.push({
            severity: 'warning',
            code: ProblemCode.TARGET_VERSION,
            table: group.name,
            column: c.name,
            message: `virtual generated column "${c.name}" of "${group.name}" becomes STORED: the target is ${versionName(ctx.targetVersionNum)}, virtual columns need ${versionName(MIN_VERSION.virtualGenerated)}`,
          });
      } else
        ctx.problems.push({
          severity: 'warning',
          code: ProblemCode.DEFAULT_DROPPED,
          table: group.name,
          column: c.name,
          message: `generated column "${c.name}" of "${group.name}" uses objects of the tenant schema; it becomes a plain column filled with the tenants' values`,
        });
    } else if (c.defaultExpr && !isSerial && c.identity === '') {
      const retargeted = retargetLocalTypes(c.defaultExpr, ownSchema(ref), localTypes, ctx.targetSchema);
      if (!mentionsSchema(retargeted, ownSchema(ref))) defaultExpr = retargeted;
      else
        ctx.problems.push({
          severity: 'warning',
          code: ProblemCode.DEFAULT_DROPPED,
          table: group.name,
          column: c.name,
          message: `the default of "${group.name}"."${c.name}" (${c.defaultExpr}) refers to objects of the tenant schema; the unified column has no default`,
          hint: "add the default in the application's next migration if it is needed",
        });
    }
    return {
      name: c.name,
      type: c.localType ? localTypeSql(ctx, c) : c.type + (c.collation ? ` COLLATE ${ident(c.collation)}` : ''),
      notNull: group.notNullEverywhere.has(c.name),
      identity: c.identity,
      serial: isSerial,
      defaultExpr,
      castViaText: c.localType !== undefined,
      generatedExpr: generatedExpr !== null ? generatedExpr : null,
      ...(generatedVirtual ? { generatedVirtual } : {}),
    };
  });
}

/** The source's ON DELETE SET NULL/DEFAULT (columns) list, only when it has one (plans stay as they were otherwise). */
/** What a foreign key keeps of its tenant definition, wherever it points. */
function keyOf(con: Constraint): Omit<ForeignKeyDef, 'refTable' | 'refSchema' | 'refTableName' | 'tenantScoped'> {
  return {
    name: con.name,
    columns: con.columns,
    refColumns: con.ref!.columns,
    onUpdate: con.onUpdate,
    onDelete: con.onDelete,
    ...setColumns(con),
    matchFull: con.matchType === 'f',
    deferrable: con.deferrable,
    deferred: con.deferred,
  };
}

function setColumns(con: Constraint): Pick<ForeignKeyDef, 'onDeleteSetColumns'> {
  return con.onDeleteSetColumns?.length ? { onDeleteSetColumns: con.onDeleteSetColumns } : {};
}

/** A table that uses `feature`, which the target's major does not have: a blocking problem naming both versions. */
function targetLacks(ctx: TableContext, feature: VersionFeature, table: string, what: string, hint: string): void {
  ctx.problems.push({
    severity: 'error',
    code: ProblemCode.TARGET_VERSION,
    table,
    message: `${what} of "${table}" needs ${versionName(MIN_VERSION[feature])} or later; the target is ${versionName(ctx.targetVersionNum)}`,
    hint,
  });
}

/**
 * Keys and indexes of `group` that the target's major cannot create: found
 * by planning, so that `run` never stops half-way on a syntax error.
 */
function versionProblems(ctx: TableContext, group: TableGroup, foreignKeys: ForeignKeyDef[]): void {
  const newer = (feature: VersionFeature) => `migrate into a ${versionName(MIN_VERSION[feature])}+ target`;
  if (!supports(ctx.targetVersionNum, 'nullsNotDistinct')) {
    for (const idx of group.reference.indexes.filter((i) => i.unique && i.nullsNotDistinct)) {
      targetLacks(
        ctx,
        'nullsNotDistinct',
        group.name,
        `UNIQUE NULLS NOT DISTINCT ("${idx.name}")`,
        `${newer('nullsNotDistinct')}, or drop NULLS NOT DISTINCT from "${idx.name}" in the tenant schemas first`,
      );
    }
  }
  if (!supports(ctx.targetVersionNum, 'onDeleteSetColumns')) {
    for (const fk of foreignKeys.filter((f) => (f.onDelete === 'n' || f.onDelete === 'd') && (f.tenantScoped || f.onDeleteSetColumns?.length))) {
      // A composite (tenant_id, …) key would set tenant_id too, which is NOT NULL: every such delete would fail.
      targetLacks(
        ctx,
        'onDeleteSetColumns',
        group.name,
        `foreign key "${fk.name}" ON DELETE ${fk.onDelete === 'n' ? 'SET NULL' : 'SET DEFAULT'} (columns)`,
        `${newer('onDeleteSetColumns')}, or change the foreign key's ON DELETE action in the tenant schemas first`,
      );
    }
  }
}

function buildForeignKeys(ctx: TableContext, group: TableGroup): ForeignKeyDef[] {
  const ref = group.reference;
  const out: ForeignKeyDef[] = [];
  for (const con of ref.constraints.filter((c): c is Constraint & { ref: NonNullable<Constraint['ref']> } => c.kind === 'f' && !!c.ref)) {
    const sameTenant = con.ref.schema === ownSchema(ref);
    if (sameTenant && ctx.merged?.has(con.ref.table)) {
      // The tenant's copy of a merged table is not migrated: its rows are in the shared table, and the
      // column is translated to the shared ids while copied, so the key points there (not tenant-scoped).
      out.push({
        name: con.name,
        columns: con.columns,
        refTable: ident('public', con.ref.table),
        refColumns: con.ref.columns,
        refSchema: 'public',
        refTableName: con.ref.table,
        tenantScoped: false,
        onUpdate: con.onUpdate,
        onDelete: con.onDelete,
        matchFull: con.matchType === 'f',
        deferrable: con.deferrable,
        deferred: con.deferred,
      });
    } else if (sameTenant) {
      const refTarget = ctx.targetNames.get(con.ref.table);
      if (!refTarget) {
        ctx.problems.push({
          severity: 'warning',
          code: ProblemCode.FK_DROPPED,
          table: group.name,
          message: `foreign key "${con.name}" of "${group.name}" references "${con.ref.table}", which is not migrated; the unified table has no such foreign key`,
          hint: `migrate "${con.ref.table}" too (tables.include / tables.exclude) to keep the constraint`,
        });
        continue;
      }
      out.push({ ...keyOf(con), refTable: ident(ctx.targetSchema, refTarget), tenantScoped: true });
    } else if (ctx.tenantSchemas.has(con.ref.schema)) {
      ctx.problems.push({
        severity: 'warning',
        code: ProblemCode.FK_DROPPED,
        table: group.name,
        message: `foreign key "${con.name}" of "${group.name}" in tenant "${ref.schema}" points into another tenant's schema "${con.ref.schema}"; it is not recreated`,
      });
    } else {
      out.push({ ...keyOf(con), refTable: ident(con.ref.schema, con.ref.table), refSchema: con.ref.schema, refTableName: con.ref.table, tenantScoped: false });
    }
  }
  return out;
}

/** The unified table for a group whose target does not exist yet. */
export function tableToCreate(ctx: TableContext, group: TableGroup, target: string): UnifiedTable {
  const ref = group.reference;
  ctx.usedNames.add(target);
  const columns = unifiedColumns(ctx, group);
  const pk = ref.constraints.find((c) => c.kind === 'p');
  const primaryKey: KeyDef | undefined = pk ? { name: freeName(ctx, pk.name, target, 'pkey'), columns: pk.columns } : undefined;
  const uniqueIdx = new Map(ref.indexes.map((i) => [i.name, i]));
  const uniques: KeyDef[] = ref.constraints
    .filter((c) => c.kind === 'u')
    .map((c) => ({
      name: freeName(ctx, c.name, target, c.name),
      columns: c.columns,
      nullsNotDistinct: uniqueIdx.get(c.name)?.nullsNotDistinct ?? false,
      deferrable: c.deferrable,
      deferred: c.deferred,
    }));
  const checks: { name: string; definition: string }[] = [];
  for (const c of ref.constraints.filter((c) => c.kind === 'c')) {
    if (c.usesLocalObjects) {
      ctx.problems.push({
        severity: 'warning',
        code: ProblemCode.CHECK_SKIPPED,
        table: group.name,
        message: `check constraint "${c.name}" of "${group.name}" uses objects of the tenant schema and is not recreated (${c.definition})`,
      });
    } else if (/ NOT ENFORCED$/.test(c.definition) && !supports(ctx.targetVersionNum, 'notEnforced')) {
      // Recreating it enforced could reject the very rows it was not enforced against; it checks nothing as it is.
      ctx.problems.push({
        severity: 'warning',
        code: ProblemCode.TARGET_VERSION,
        table: group.name,
        message: `check constraint "${c.name}" of "${group.name}" is NOT ENFORCED, which the target (${versionName(ctx.targetVersionNum)}) cannot express (${versionName(MIN_VERSION.notEnforced)}+); it is not recreated`,
      });
    } else checks.push({ name: c.name, definition: c.definition });
  }
  for (const x of ref.constraints.filter((c) => c.kind === 'x')) {
    ctx.problems.push({
      severity: 'warning',
      code: ProblemCode.EXCLUSION_SKIPPED,
      table: group.name,
      message: `exclusion constraint "${x.name}" of "${group.name}" is not recreated on the unified table`,
      hint: `recreate it by hand with ${ctx.tenantColumn} first, e.g. EXCLUDE USING gist (${ctx.tenantColumn} WITH =, …) (needs btree_gist)`,
    });
  }
  const indexes = buildIndexes(ctx, group, target);
  if (!pk) {
    ctx.problems.push({
      severity: 'info',
      code: ProblemCode.NO_PRIMARY_KEY,
      table: group.name,
      message: `"${group.name}" has no primary key; its rows are copied as they are (duplicates included) and verified by count and checksum`,
    });
  }
  const leads = pk !== undefined || ref.constraints.some((c) => c.kind === 'u') || indexes.some((i) => i.tenantLeading);
  if (!leads) {
    const name = freeName(ctx, derivedName(target, ctx.tenantColumn, 'idx'), target, ctx.tenantColumn, 'idx');
    indexes.push({ name, sql: `CREATE INDEX ${ident(name)} ON ${ident(ctx.targetSchema, target)} (${ident(ctx.tenantColumn)})`, tenantLeading: true });
  }
  const foreignKeys = buildForeignKeys(ctx, group);
  versionProblems(ctx, group, foreignKeys);
  return {
    source: group.name,
    target,
    action: 'create',
    partitioned: ref.kind === 'p',
    tenants: [...group.byTenant.keys()],
    estimatedRows: group.estimatedRows,
    columns,
    tenantColumnType: ctx.tenantColumnType,
    primaryKey,
    sourceKey: pk?.columns,
    uniques,
    checks,
    foreignKeys,
    indexes,
    sequenceColumns: columns.filter((c) => c.serial || c.identity !== '').map((c) => c.name),
    types: [...new Set(ref.columns.filter((c) => c.localType).map((c) => c.localType!.name))],
  };
}

/**
 * The unified table for a group whose target already exists with the tenant
 * column (e.g. created by the application's own migrations): rows are filled
 * in by column name; its keys are the application's and are left as they are.
 */
export function tableToFill(ctx: TableContext, group: TableGroup, target: string, existing: TableDef): UnifiedTable {
  const byName = new Map(existing.columns.map((c) => [c.name, c]));
  const tenantCol = byName.get(ctx.tenantColumn)!;
  const refCols = group.reference.columns.filter((c) => c.generated === '');
  const columns: UnifiedColumn[] = [];
  for (const c of refCols) {
    const tc = byName.get(c.name);
    if (!tc) {
      ctx.problems.push({
        severity: 'error',
        code: ProblemCode.TARGET_MISSING_COLUMN,
        table: group.name,
        column: c.name,
        message: `the existing table ${ctx.targetSchema}.${target} has no column "${c.name}", which the tenants' "${group.name}" has; its data would be lost`,
        hint: `add the column to ${ctx.targetSchema}.${target} (an application migration), or map the table elsewhere with tables.map`,
      });
      continue;
    }
    columns.push({
      name: c.name,
      type: tc.type,
      notNull: tc.notNull,
      identity: tc.identity,
      serial: tc.identity === '' && /^nextval\(/.test(tc.defaultExpr ?? ''),
      defaultExpr: tc.defaultExpr,
      castViaText: c.localType !== undefined || tc.localType !== undefined,
      generatedExpr: null,
    });
    if (comparableTypeName(c) !== comparableTypeName(tc) && !c.localType) {
      ctx.problems.push({
        severity: 'warning',
        code: ProblemCode.TARGET_TYPE_CONFLICT,
        table: group.name,
        column: c.name,
        message: `column "${c.name}" is ${c.type} in the tenants but ${tc.type} in the existing ${ctx.targetSchema}.${target}; values are converted on insert`,
      });
    }
  }
  for (const tc of existing.columns) {
    if (tc.name === ctx.tenantColumn || refCols.some((c) => c.name === tc.name)) continue;
    if (tc.notNull && tc.defaultExpr === null && tc.identity === '' && tc.generated === '') {
      ctx.problems.push({
        severity: 'error',
        code: ProblemCode.TARGET_REQUIRED_COLUMN,
        table: group.name,
        column: tc.name,
        message: `the existing table ${ctx.targetSchema}.${target} has a NOT NULL column "${tc.name}" without a default that the tenants' "${group.name}" does not have`,
        hint: `give ${ctx.targetSchema}.${target}."${tc.name}" a default or make it nullable`,
      });
    }
  }
  const otherPermissive = (ctx.target.permissivePolicies.get(ctx.targetSchema)?.get(target) ?? []).filter((p) => p !== 'tenant_isolation');
  if (otherPermissive.length > 0) {
    ctx.problems.push({
      severity: 'error',
      code: ProblemCode.TARGET_POLICY_CONFLICT,
      table: group.name,
      message: `the existing table ${ctx.targetSchema}.${target} has permissive polic${otherPermissive.length > 1 ? 'ies' : 'y'} ${otherPermissive.map((p) => `"${p}"`).join(', ')}; permissive policies are ORed with tenant_isolation, so tenants would see each other's rows`,
      hint: 'drop them, or make them RESTRICTIVE (AS RESTRICTIVE), before the migration',
    });
  }
  if ((ctx.target.policies.get(ctx.targetSchema)?.get(target) ?? []).includes('tenant_isolation')) {
    ctx.problems.push({
      severity: 'warning',
      code: ProblemCode.TARGET_POLICY_CONFLICT,
      table: group.name,
      message: `the existing table ${ctx.targetSchema}.${target} already has a policy "tenant_isolation"; it is kept as it is, not replaced`,
      hint: 'prove it isolates tenants with `oasys-migrate check-rls --role <app role>` after the run',
    });
  }
  const hasTenantIndex = existing.indexes.some((i) => i.method === 'btree' && i.firstColumn === ctx.tenantColumn);
  const indexes: IndexDef[] = [];
  if (!hasTenantIndex) {
    const name = freeName(ctx, derivedName(target, ctx.tenantColumn, 'idx'), target, ctx.tenantColumn, 'idx');
    indexes.push({ name, sql: `CREATE INDEX ${ident(name)} ON ${ident(ctx.targetSchema, target)} (${ident(ctx.tenantColumn)})`, tenantLeading: true });
  }
  return {
    source: group.name,
    target,
    action: 'fill',
    partitioned: group.reference.kind === 'p',
    tenants: [...group.byTenant.keys()],
    estimatedRows: group.estimatedRows,
    columns,
    tenantColumnType: tenantCol.type,
    sourceKey: group.reference.constraints.find((c) => c.kind === 'p')?.columns,
    uniques: [],
    checks: [],
    foreignKeys: [],
    indexes,
    sequenceColumns: columns.filter((c) => c.serial || c.identity !== '').map((c) => c.name),
    types: [],
  };
}
