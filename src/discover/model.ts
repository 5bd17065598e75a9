/** What discovery reads from the catalog: plain data, no behaviour. */

export interface Tenant {
  schema: string;
  /** The value stamped into the tenant column: the registry id, or the schema name. Kept as text (bigint-safe). */
  tenantId: string;
}

/** A type defined inside a tenant schema (enum or domain), referenced by a column. */
export interface LocalTypeRef {
  name: string;
  kind: 'e' | 'd';
  array: boolean;
}

export interface Column {
  name: string;
  num: number;
  /** format_type() with search_path = pg_catalog: user types come schema-qualified. */
  type: string;
  notNull: boolean;
  identity: '' | 'a' | 'd';
  /** Generated column: 's' stored, 'v' virtual (PostgreSQL 18+). */
  generated: '' | 's' | 'v';
  defaultExpr: string | null;
  localType?: LocalTypeRef;
  ownedSequence?: { schema: string; name: string };
  collation?: string;
  /** The type (and array element type) live in pg_catalog: safe for binary COPY between databases. */
  builtinType: boolean;
}

export interface Constraint {
  name: string;
  kind: 'p' | 'u' | 'f' | 'c' | 'x';
  columns: string[];
  ref?: { schema: string; table: string; columns: string[] };
  onUpdate: string;
  onDelete: string;
  /** ON DELETE SET NULL/DEFAULT (columns) (PostgreSQL 15+): the columns it sets; empty when all. */
  onDeleteSetColumns: string[];
  matchType: string;
  deferrable: boolean;
  deferred: boolean;
  noInherit: boolean;
  /** Deparsed text, for check constraints only (the others are rebuilt from their columns). */
  definition: string;
  usesLocalObjects: boolean;
}

export interface Index {
  name: string;
  method: string;
  unique: boolean;
  primary: boolean;
  backsConstraint: boolean;
  keyCount: number;
  /** The first key column's name (null for an expression). */
  firstColumn: string | null;
  /** Key columns then INCLUDE columns: a quoted column name or an expression (empty when backing a constraint). */
  columnDefs: string[];
  /** indoption per key column: bit 0 DESC, bit 1 NULLS FIRST. */
  options: number[];
  /** A non-default operator class per key column, already quoted, or null. */
  opclasses: (string | null)[];
  predicate: string | null;
  nullsNotDistinct: boolean;
  usesLocalObjects: boolean;
}

export interface TableDef {
  schema: string;
  name: string;
  kind: 'r' | 'p';
  estimate: number;
  columns: Column[];
  constraints: Constraint[];
  indexes: Index[];
  rlsEnabled: boolean;
  rlsForced: boolean;
  /**
   * Set when this tenant table has exactly the definition of the same table in another tenant
   * schema (the first tenant of its shape, sql/catalog/shapes.sql), whose `columns`, `constraints`
   * and `indexes` it shares instead of reading its own: their text names that schema, not this one.
   * Compare their contents with `ownSchema(def)`, never `def.schema`.
   */
  shapeOf?: string;
}

/**
 * One schema's tables by name, in the order added (as a Map keeps them). Most schemas are tenants
 * with a handful of tables, 50,000 of them at 50,000 tenants, where a Map each cost 16 MB more
 * than a list searched in order; a schema with more than a few tables gets a Map as well.
 */
export class SchemaTables implements ReadonlyMap<string, TableDef> {
  private readonly list: TableDef[] = [];
  private index: Map<string, TableDef> | undefined;

  /** Adds a definition, or replaces the one of the same name where it stands. */
  set(def: TableDef): this {
    const known = this.index ? this.index.has(def.name) : true;
    const i = known ? this.list.findIndex((d) => d.name === def.name) : -1;
    if (i >= 0) this.list[i] = def;
    else this.list.push(def);
    if (this.index) this.index.set(def.name, def);
    else if (this.list.length > SchemaTables.LIST_MAX) this.index = new Map(this.list.map((d) => [d.name, d]));
    return this;
  }
  get(name: string): TableDef | undefined {
    if (this.index) return this.index.get(name);
    for (const d of this.list) if (d.name === name) return d;
    return undefined;
  }
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
  get size(): number {
    return this.list.length;
  }
  forEach(fn: (value: TableDef, key: string, map: ReadonlyMap<string, TableDef>) => void, thisArg?: unknown): void {
    for (const d of this.list) fn.call(thisArg, d, d.name, this);
  }
  *entries(): MapIterator<[string, TableDef]> {
    for (const d of this.list) yield [d.name, d];
  }
  *keys(): MapIterator<string> {
    for (const d of this.list) yield d.name;
  }
  *values(): MapIterator<TableDef> {
    yield* this.list;
  }
  [Symbol.iterator](): MapIterator<[string, TableDef]> {
    return this.entries();
  }
  private static readonly LIST_MAX = 8;
}

/** The schema a table definition's texts and foreign keys name as its own (see TableDef.shapeOf). */
export function ownSchema(def: Pick<TableDef, 'schema' | 'shapeOf'>): string {
  return def.shapeOf ?? def.schema;
}

export interface TypeDef {
  schema: string;
  name: string;
  kind: 'e' | 'd';
  labels: string[];
  baseType: string | null;
  notNull: boolean;
  defaultExpr: string | null;
  checks: string[];
}

export interface OtherObjects {
  schema: string;
  kind: string;
  count: number;
  examples: string[];
}

export interface BypassRole {
  role: string;
  superuser: boolean;
  bypassrls: boolean;
  canLogin: boolean;
}

/** Everything read from one database for a set of schemas. */
export interface Catalog {
  /** schema → table name → definition (ordinary and partitioned roots only). */
  tables: Map<string, ReadonlyMap<string, TableDef>>;
  /** schema → relation names of views, sequences' tables etc. that are not tables (kind v/m/f). */
  nonTables: Map<string, Map<string, string>>;
  /** schema → every relation name (tables, indexes, sequences …) of the schemas where new names are given out (the target schema): new names must avoid them. */
  relationNames: Map<string, Set<string>>;
  types: Map<string, Map<string, TypeDef>>;
  /** schema → table → policy names. */
  policies: Map<string, Map<string, string[]>>;
  /** schema → table → names of PERMISSIVE policies (they are ORed: any one of them admits a row). */
  permissivePolicies: Map<string, Map<string, string[]>>;
  other: OtherObjects[];
  /** How many catalog queries were sent (a test holds this constant as tenants grow). */
  queryCount: number;
}

/** The role the tool connects as to the target, and whether row-level security applies to it. */
export interface MigratingRole {
  name: string;
  superuser: boolean;
  bypassRls: boolean;
}
