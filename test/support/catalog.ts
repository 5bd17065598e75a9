/**
 * Catalog objects built by hand, for planner tests that need no PostgreSQL:
 * the same plain data discovery reads (src/discover/model.ts).
 */
import type { Discovery } from '../../src/discover/discover.js';
import type { Catalog, Column, Constraint, TableDef } from '../../src/discover/model.js';
import type { PlanSettings } from '../../src/plan/model.js';

export function col(name: string, type = 'integer', extra: Partial<Column> = {}): Column {
  return { name, num: 0, type, notNull: false, identity: '', generated: '', defaultExpr: null, builtinType: true, ...extra };
}

export function pk(columns: string[], name = 'pk'): Constraint {
  return {
    name,
    kind: 'p',
    columns,
    onUpdate: 'a',
    onDelete: 'a',
    onDeleteSetColumns: [],
    matchType: 's',
    deferrable: false,
    deferred: false,
    noInherit: false,
    definition: '',
    usesLocalObjects: false,
  };
}

export function fk(columns: string[], ref: { schema: string; table: string; columns: string[] }, name = `fk_${columns.join('_')}`): Constraint {
  return { ...pk(columns, name), kind: 'f', ref };
}

export function table(schema: string, name: string, columns: Column[], constraints: Constraint[] = [], extra: Partial<TableDef> = {}): TableDef {
  return {
    schema,
    name,
    kind: 'r',
    estimate: 10,
    columns: columns.map((c, i) => ({ ...c, num: i + 1 })),
    constraints,
    indexes: [],
    rlsEnabled: false,
    rlsForced: false,
    ...extra,
  };
}

export function catalog(tables: TableDef[], policies: [string, string, string[]][] = []): Catalog {
  const c: Catalog = {
    tables: new Map(),
    nonTables: new Map(),
    relationNames: new Map(),
    types: new Map(),
    policies: new Map(),
    permissivePolicies: new Map(),
    other: [],
    queryCount: 0,
  };
  for (const t of tables) {
    if (!c.tables.has(t.schema)) c.tables.set(t.schema, new Map());
    c.tables.get(t.schema)!.set(t.name, t);
    if (!c.relationNames.has(t.schema)) c.relationNames.set(t.schema, new Set());
    c.relationNames.get(t.schema)!.add(t.name);
  }
  for (const [schema, tbl, names] of policies) {
    if (!c.policies.has(schema)) c.policies.set(schema, new Map());
    c.policies.get(schema)!.set(tbl, names);
  }
  return c;
}

/** A discovery of `tenants` schemas, each with the same `tables(schema)`, in one database with `public` holding `publicTables`. */
export function discovery(opts: {
  tenants: string[];
  tables: (schema: string) => TableDef[];
  publicTables?: TableDef[];
  policies?: [string, string, string[]][];
  role?: { name: string; superuser: boolean; bypassRls: boolean };
}): Discovery {
  const all = [...opts.tenants.flatMap((s) => opts.tables(s)), ...(opts.publicTables ?? [])];
  const cat = catalog(all, opts.policies);
  if (!cat.relationNames.has('public')) cat.relationNames.set('public', new Set());
  return {
    tenants: opts.tenants.map((s, i) => ({ schema: s, tenantId: String(i + 1) })),
    tenantIdType: 'integer',
    source: cat,
    target: cat,
    sameDatabase: true,
    problems: [],
    bypassRoles: [],
    role: opts.role ?? { name: 'admin', superuser: true, bypassRls: false },
    targetPolicies: new Set((opts.policies ?? []).filter(([s, , n]) => s === 'public' && n.includes('tenant_isolation')).map(([, t]) => t)),
    targetVersionNum: 170000,
    queryCount: 0,
  };
}

export const SETTINGS: PlanSettings = {
  targetSchema: 'public',
  tenantColumn: 'tenant_id',
  tables: { exclude: ['django_migrations'], map: {}, partial: [] },
  rls: { setting: 'app.current_tenant', force: true },
};
