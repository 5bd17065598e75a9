import type { Catalog, Column, TableDef, Tenant, TypeDef } from '../discover/model.js';
import { ProblemCode, type Problem } from './problems.js';

/** A column's type as compared across tenants: a type local to the tenant schema is compared by name. */
export function comparableType(c: Column): string {
  if (c.localType) return `@local.${c.localType.name}${c.localType.array ? '[]' : ''}`;
  return c.type;
}

function signature(t: TableDef): string {
  return t.columns
    .map((c) => `${c.name}:${comparableType(c)}`)
    .sort()
    .join('|');
}

export interface TableGroup {
  name: string;
  /** The definition most tenants share (ties: the first tenant in order). */
  reference: TableDef;
  /** Tenant schema → its definition (tenants that have the table). */
  byTenant: Map<string, TableDef>;
  /** Columns NOT NULL in every tenant (the unified column is nullable otherwise). */
  notNullEverywhere: Set<string>;
  estimatedRows: number;
}

export interface DriftResult {
  groups: TableGroup[];
  /** Local type name → reference definition (from the reference tenant of the first table using it). */
  types: Map<string, TypeDef>;
  problems: Problem[];
}

/**
 * Groups the tenants' tables by name, picks each table's reference
 * definition, and reports every tenant whose table differs from it. Drift is
 * blocking: migrating it would lose or mangle data.
 */
export function analyseDrift(
  catalog: Catalog,
  tenants: Tenant[],
  tableFilter: (name: string) => boolean,
): DriftResult {
  const problems: Problem[] = [];
  const names = new Map<string, Map<string, TableDef>>();
  for (const t of tenants) {
    for (const [name, def] of catalog.tables.get(t.schema) ?? []) {
      if (!tableFilter(name)) continue;
      let m = names.get(name);
      if (!m) names.set(name, (m = new Map()));
      m.set(t.schema, def);
    }
  }

  const groups: TableGroup[] = [];
  const types = new Map<string, TypeDef>();
  for (const [name, byTenant] of [...names].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const counts = new Map<string, { n: number; def: TableDef }>();
    for (const t of tenants) {
      const def = byTenant.get(t.schema);
      if (!def) continue;
      const sig = signature(def);
      const e = counts.get(sig);
      if (e) e.n++;
      else counts.set(sig, { n: 1, def });
    }
    let best: { n: number; def: TableDef } | undefined;
    for (const e of counts.values()) if (!best || e.n > best.n) best = e;
    const reference = best!.def;
    const refCols = new Map(reference.columns.map((c) => [c.name, c]));
    const notNullEverywhere = new Set(reference.columns.filter((c) => c.notNull).map((c) => c.name));
    let estimatedRows = 0;

    for (const t of tenants) {
      const def = byTenant.get(t.schema);
      if (!def) {
        problems.push({
          severity: 'error', code: ProblemCode.DRIFT_MISSING_TABLE, tenant: t.schema, table: name,
          message: `tenant "${t.schema}" has no table "${name}", which ${byTenant.size} other tenant${byTenant.size > 1 ? 's have' : ' has'}`,
          hint: `finish the tenant's schema migrations (migrate_schemas), or exclude the table (tables.exclude) or the tenant (tenants.exclude)`,
        });
        continue;
      }
      estimatedRows += def.estimate;
      const cols = new Map(def.columns.map((c) => [c.name, c]));
      for (const rc of reference.columns) {
        const c = cols.get(rc.name);
        if (!c) {
          problems.push({
            severity: 'error', code: ProblemCode.DRIFT_MISSING_COLUMN, tenant: t.schema, table: name, column: rc.name,
            message: `tenant "${t.schema}" table "${name}" has no column "${rc.name}" (${comparableType(rc).replace('@local.', '')}) that the other tenants have`,
            hint: 'bring the tenant schema up to date (migrate_schemas), or exclude the table or the tenant',
          });
        } else if (comparableType(c) !== comparableType(rc)) {
          problems.push({
            severity: 'error', code: ProblemCode.DRIFT_COLUMN_TYPE, tenant: t.schema, table: name, column: rc.name,
            message: `tenant "${t.schema}" table "${name}" column "${rc.name}" is ${comparableType(c).replace('@local.', '')}, the other tenants have ${comparableType(rc).replace('@local.', '')}`,
            hint: 'bring the tenant schema up to date (migrate_schemas), or exclude the table or the tenant',
          });
        } else if (c.notNull !== rc.notNull) {
          if (!c.notNull) notNullEverywhere.delete(rc.name);
          problems.push({
            severity: 'warning', code: ProblemCode.DRIFT_NULLABILITY, tenant: t.schema, table: name, column: rc.name,
            message: `tenant "${t.schema}" table "${name}" column "${rc.name}" is ${c.notNull ? 'NOT NULL' : 'nullable'} where the reference is ${rc.notNull ? 'NOT NULL' : 'nullable'}; the unified column will be nullable`,
          });
        }
      }
      for (const c of def.columns) {
        if (!refCols.has(c.name)) {
          problems.push({
            severity: 'error', code: ProblemCode.DRIFT_EXTRA_COLUMN, tenant: t.schema, table: name, column: c.name,
            message: `tenant "${t.schema}" table "${name}" has a column "${c.name}" that the other tenants do not; its data would be lost`,
            hint: 'bring the tenant schema in line with the others, or exclude the table or the tenant',
          });
        }
      }
    }
    // Re-check nullability for tenants whose signature matched but nullability differs in the other direction.
    for (const def of byTenant.values()) for (const c of def.columns) if (!c.notNull) notNullEverywhere.delete(c.name);

    for (const c of reference.columns) {
      if (c.localType && !types.has(c.localType.name)) {
        const td = catalog.types.get(reference.schema)?.get(c.localType.name);
        if (td) types.set(c.localType.name, td);
      }
    }
    groups.push({ name, reference, byTenant, notNullEverywhere, estimatedRows });
  }

  // Enum labels: a tenant with a label the unified type lacks could not load its rows.
  for (const [typeName, ref] of types) {
    if (ref.kind !== 'e') continue;
    const allowed = new Set(ref.labels);
    for (const t of tenants) {
      const td = catalog.types.get(t.schema)?.get(typeName);
      if (!td || td.kind !== 'e') continue;
      const extra = td.labels.filter((l) => !allowed.has(l));
      if (extra.length > 0) {
        problems.push({
          severity: 'error', code: ProblemCode.DRIFT_ENUM_LABELS, tenant: t.schema,
          message: `tenant "${t.schema}" enum type "${typeName}" has label${extra.length > 1 ? 's' : ''} ${extra.map((l) => JSON.stringify(l)).join(', ')} that the unified type (from tenant "${ref.schema}") lacks`,
          hint: 'align the enum in every tenant schema (ALTER TYPE … ADD VALUE in the reference tenants), or exclude this tenant',
        });
      }
    }
  }
  return { groups, types, problems };
}
