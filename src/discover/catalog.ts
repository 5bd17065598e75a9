import pg from 'pg';
import QueryStream from 'pg-query-stream';
import { sqlFile } from '../db/sqlFiles.js';
import {
  SchemaTables,
  type BypassRole,
  type Catalog,
  type Column,
  type Constraint,
  type Index,
  type OtherObjects,
  type TableDef,
  type TypeDef,
} from './model.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** Up to this many schemas read in full, their catalog rows are looked up by index. */
const FEW_SCHEMAS = 1_000;

/** The arrays of a table nothing has been read into: shared, never written (a table with no index has this one). */
const NONE: never[] = Object.freeze([]) as unknown as never[];

function getOrCreate<K, V>(m: Map<K, V>, k: K, make: () => V): V {
  let v = m.get(k);
  if (v === undefined) {
    v = make();
    m.set(k, v);
  }
  return v;
}

/**
 * Reads tables, columns, constraints, indexes, types and other objects of all
 * `schemas` with a fixed number of queries (one per object kind), whatever the
 * number of schemas: at 10,000 tenants a per-schema query would be the
 * bottleneck (pg_dump learned this the hard way).
 */
export async function readCatalog(
  db: Queryable,
  schemas: string[],
  namesOf?: ReadonlySet<string>,
  /** Tenant schemas, in tenant order: tables of the same shape are read once (readShapes). */
  tenantSchemas?: readonly string[],
): Promise<Catalog> {
  const catalog: Catalog = {
    tables: new Map(),
    nonTables: new Map(),
    relationNames: new Map(),
    policies: new Map(),
    permissivePolicies: new Map(),
    types: new Map(),
    other: [],
    queryCount: 0,
  };
  const partitionRows: { schema: string; root: string; rows: number }[] = [];
  const run = async <R extends pg.QueryResultRow>(name: string, params: unknown[] = [schemas]): Promise<R[]> => {
    catalog.queryCount++;
    return (await db.query<R>(sqlFile(`catalog/${name}`), params)).rows;
  };
  // The big catalogs (a row per column, constraint and index of 50,000 tables) stream: rows are
  // turned into definitions as they arrive instead of all being held at once.
  const each = async <R extends pg.QueryResultRow>(name: string, params: unknown[], fn: (r: R) => void): Promise<void> => {
    catalog.queryCount++;
    if (!('release' in db) && !(db instanceof pg.Client)) {
      for (const r of (await db.query<R>(sqlFile(`catalog/${name}`), params)).rows) fn(r);
      return;
    }
    const stream = (db as pg.ClientBase).query(new QueryStream(sqlFile(`catalog/${name}`), params, { batchSize: 5_000 }));
    // 'data' events, not `for await`: an async iterator costs a promise per row (300,000 rows at 10,000 tenants).
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (r: R) => fn(r));
      stream.once('error', reject);
      stream.once('end', () => resolve());
    });
  };
  const names = new Map<string, string>();
  const name = (x: string): string => {
    const seen = names.get(x);
    if (seen !== undefined) return seen;
    names.set(x, x);
    return x;
  };
  // Tenants' definitions are mostly identical: one object for each distinct one (10,000 tenants, not 10,000 copies).
  const interned = new Map<string, unknown>();
  const intern = <T>(o: T): T => {
    const key = JSON.stringify(o);
    const seen = interned.get(key);
    if (seen !== undefined) return seen as T;
    interned.set(key, o);
    return o;
  };

  await each<{
    schema: string;
    name: string;
    kind: string;
    is_partition: boolean;
    root: string | null;
    estimate: string;
    rls_enabled: boolean;
    rls_forced: boolean;
    // Indexes, sequences and composite types only where new names are given out (not 750,000 tenant names).
  }>('relations', [schemas, namesOf ? [...namesOf] : schemas], (row) => {
    // Each row brings its own copy of the schema's and the table's name: one string of each is kept.
    const r = { ...row, schema: name(row.schema), name: name(row.name) };
    // Every relation name is kept only where new names are given out (the target schema): not 150,000 tenant names.
    if (!namesOf || namesOf.has(r.schema)) getOrCreate(catalog.relationNames, r.schema, () => new Set()).add(r.name);
    if (r.kind === 'r' || r.kind === 'p') {
      if (r.is_partition) {
        // Migrated through its root, which has no rows of its own: count the partition's rows there.
        if (r.kind === 'r' && r.root) partitionRows.push({ schema: r.schema, root: r.root, rows: Number(r.estimate) });
        return;
      }
      // No arrays of its own yet: most tenant tables get those of the first table of their shape.
      (getOrCreate(catalog.tables, r.schema, () => new SchemaTables()) as SchemaTables).set({
        schema: r.schema,
        name: r.name,
        kind: r.kind,
        estimate: Number(r.estimate),
        columns: NONE,
        constraints: NONE,
        indexes: NONE,
        rlsEnabled: r.rls_enabled,
        rlsForced: r.rls_forced,
        // Set now (most are set later): a property added afterwards costs each of 250,000 objects a backing store.
        shapeOf: undefined,
      });
    } else if (r.kind === 'v' || r.kind === 'm' || r.kind === 'f') {
      getOrCreate(catalog.nonTables, r.schema, () => new Map()).set(r.name, r.kind);
    }
  });
  const table = (schema: string, name: string): TableDef | undefined => catalog.tables.get(schema)?.get(name);
  for (const p of partitionRows) {
    const root = table(p.schema, p.root);
    if (root) root.estimate += p.rows;
  }

  // Tenant tables whose definition another tenant's table has too are read once, from that one.
  const shapes = tenantSchemas && tenantSchemas.length > 1 ? await readShapes(db, tenantSchemas, table) : undefined;
  if (shapes) catalog.queryCount++;
  // Read in full: every schema with a table that shares no other's definition (a representative's, a unique one).
  const full = shapes
    ? schemas.filter((x) => {
        const tables = catalog.tables.get(x);
        return tables === undefined || [...tables.values()].some((d) => !shapes.has(d));
      })
    : schemas;
  // A few schemas read in full want index lookups, which the whole-catalog queries' hash joins
  // (discovery turns nested loops off for them) would replace by scans of every tenant's columns.
  // Many (tenants that all differ) keep the setting. Asked either way: a constant number of queries.
  let nestloop: string | undefined;
  if (shapes) {
    catalog.queryCount++;
    nestloop = (
      await db.query<{ was: string }>(
        `WITH w AS MATERIALIZED (SELECT pg_catalog.current_setting('enable_nestloop') AS was)
         SELECT was, pg_catalog.set_config('enable_nestloop', CASE WHEN $1 THEN 'on' ELSE was END, true) FROM w`,
        [full.length <= FEW_SCHEMAS],
      )
    ).rows[0].was;
  }

  await each<{
    schema: string;
    table: string;
    num: number;
    name: string;
    type: string;
    not_null: boolean;
    identity: string;
    generated: string;
    default_expr: string | null;
    type_schema: string;
    type_name: string;
    type_kind: string;
    elem_schema: string | null;
    elem_name: string | null;
    elem_kind: string | null;
    owned_seq_schema: string | null;
    owned_seq_name: string | null;
    collation: string | null;
  }>('columns', [full], (r) => {
    const t = table(r.schema, r.table);
    if (!t) return;
    const col: Column = {
      name: r.name,
      num: r.num,
      type: r.type,
      notNull: r.not_null,
      identity: (r.identity || '') as Column['identity'],
      generated: (r.generated || '') as Column['generated'],
      defaultExpr: r.default_expr,
      builtinType: r.type_schema === 'pg_catalog' && (r.elem_schema === null || r.elem_schema === 'pg_catalog'),
    };
    if (r.type_schema === r.schema && (r.type_kind === 'e' || r.type_kind === 'd')) {
      col.localType = { name: r.type_name, kind: r.type_kind, array: false };
    } else if (r.elem_schema === r.schema && (r.elem_kind === 'e' || r.elem_kind === 'd') && r.elem_name) {
      col.localType = { name: r.elem_name, kind: r.elem_kind, array: true };
    }
    if (r.owned_seq_name && r.owned_seq_schema) col.ownedSequence = { schema: r.owned_seq_schema, name: r.owned_seq_name };
    if (r.collation) col.collation = r.collation;
    if (t.columns === NONE) t.columns = [];
    t.columns.push(intern(col));
  });

  // Columns arrive unordered (sorting 200,000 catalog rows in the server spills to disk): put them in table order.
  for (const x of full) for (const t of catalog.tables.get(x)?.values() ?? []) t.columns.sort((a, b) => a.num - b.num);

  await each<{
    schema: string;
    table: string;
    name: string;
    kind: Constraint['kind'];
    columns: string[];
    ref_schema: string | null;
    ref_table: string | null;
    ref_columns: string[];
    on_update: string;
    on_delete: string;
    on_delete_set_columns: string[] | null;
    match_type: string;
    deferrable: boolean;
    deferred: boolean;
    no_inherit: boolean;
    definition: string | null;
    uses_local_objects: boolean;
  }>('constraints', [full], (r) => {
    const t = table(r.schema, r.table);
    if (!t) return;
    if (t.constraints === NONE) t.constraints = [];
    t.constraints.push(
      intern<Constraint>({
        name: r.name,
        kind: r.kind,
        columns: r.columns,
        ref: r.kind === 'f' && r.ref_schema && r.ref_table ? { schema: r.ref_schema, table: r.ref_table, columns: r.ref_columns } : undefined,
        onUpdate: r.on_update,
        onDelete: r.on_delete,
        onDeleteSetColumns: r.on_delete_set_columns ?? [],
        matchType: r.match_type,
        deferrable: r.deferrable,
        deferred: r.deferred,
        noInherit: r.no_inherit,
        definition: r.definition ?? '',
        usesLocalObjects: r.uses_local_objects,
      }),
    );
  });

  await each<{
    schema: string;
    table: string;
    name: string;
    method: string;
    is_unique: boolean;
    is_primary: boolean;
    backs_constraint: boolean;
    key_count: number;
    first_column: string | null;
    column_defs: string[] | null;
    options: number[] | null;
    opclasses: (string | null)[] | null;
    predicate: string | null;
    nulls_not_distinct: boolean;
    uses_local_objects: boolean;
  }>('indexes', [full], (r) => {
    const t = table(r.schema, r.table);
    if (!t) return;
    const idx: Index = {
      name: r.name,
      method: r.method,
      unique: r.is_unique,
      primary: r.is_primary,
      backsConstraint: r.backs_constraint,
      keyCount: r.key_count,
      firstColumn: r.first_column,
      columnDefs: r.column_defs ?? [],
      options: r.options ?? [],
      opclasses: r.opclasses ?? [],
      predicate: r.predicate,
      nullsNotDistinct: r.nulls_not_distinct,
      usesLocalObjects: r.uses_local_objects,
    };
    if (t.indexes === NONE) t.indexes = [];
    t.indexes.push(intern(idx));
  });
  // Constraints and indexes in name order, as pg_dump lists them, so plans are stable.
  for (const tables of catalog.tables.values()) {
    for (const t of tables.values()) {
      t.constraints.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      t.indexes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    }
  }
  if (nestloop !== undefined) {
    catalog.queryCount++;
    await db.query(`SELECT pg_catalog.set_config('enable_nestloop', $1, true)`, [nestloop]);
  }
  if (shapes) {
    for (const [def, rep] of shapes) {
      def.columns = rep.columns;
      def.constraints = rep.constraints;
      def.indexes = rep.indexes;
      def.shapeOf = rep.schema;
    }
  }

  for (const r of await run<{
    schema: string;
    name: string;
    kind: 'e' | 'd';
    labels: string[];
    base_type: string | null;
    not_null: boolean;
    default_expr: string | null;
    checks: string[];
  }>('types')) {
    const def: TypeDef = {
      schema: r.schema,
      name: r.name,
      kind: r.kind,
      labels: r.labels,
      baseType: r.base_type,
      notNull: r.not_null,
      defaultExpr: r.default_expr,
      checks: r.checks,
    };
    getOrCreate(catalog.types, r.schema, () => new Map()).set(r.name, def);
  }

  for (const r of await run<{ schema: string; table: string; name: string; permissive: boolean }>('policies')) {
    const perTable = getOrCreate(catalog.policies, r.schema, () => new Map<string, string[]>());
    getOrCreate(perTable, r.table, () => [] as string[]).push(r.name);
    if (r.permissive) {
      const p = getOrCreate(catalog.permissivePolicies, r.schema, () => new Map<string, string[]>());
      getOrCreate(p, r.table, () => [] as string[]).push(r.name);
    }
  }

  catalog.other = (await run<{ schema: string; kind: string; count: number; examples: string[] }>('other_objects')) as OtherObjects[];
  return catalog;
}

/**
 * Groups the tenants' tables by shape (sql/catalog/shapes.sql): each group's first tenant, in
 * tenant order, is read in full; the others share its definition (returned: member → first).
 * The first is also the one drift analysis would pick as a table's reference among equals, so
 * every reference is read in full.
 */
async function readShapes(
  db: Queryable,
  tenantSchemas: readonly string[],
  table: (schema: string, name: string) => TableDef | undefined,
): Promise<Map<TableDef, TableDef>> {
  const order = new Map(tenantSchemas.map((x, i) => [x, i]));
  const members = new Map<TableDef, TableDef>();
  const rows = (await db.query<{ table: string; digest: string | null; schemas: string[] }>(sqlFile('catalog/shapes'), [tenantSchemas])).rows;
  for (const r of rows) {
    if (r.digest === null || r.schemas.length < 2) continue;
    let first = r.schemas[0];
    for (const x of r.schemas) if (order.get(x)! < order.get(first)!) first = x;
    const rep = table(first, r.table);
    if (!rep) continue;
    for (const x of r.schemas) {
      const def = table(x, r.table);
      if (x !== first && def) members.set(def, rep);
    }
  }
  return members;
}

export async function readBypassRoles(db: Queryable): Promise<BypassRole[]> {
  const rows = (await db.query<{ role: string; superuser: boolean; bypassrls: boolean; can_login: boolean }>(sqlFile('catalog/bypass_roles'))).rows;
  return rows.map((r) => ({ role: r.role, superuser: r.superuser, bypassrls: r.bypassrls, canLogin: r.can_login }));
}

/** The connected role's attributes and the server's version, in one query. */
export async function readSessionFacts(
  db: Queryable,
): Promise<{ role: { name: string; superuser: boolean; bypassRls: boolean }; versionNum: number; citusVersion: string | null }> {
  const r = await db.query<{ name: string; superuser: boolean; bypassrls: boolean; v: string; citus: string | null }>(
    `SELECT rolname AS name, rolsuper AS superuser, rolbypassrls AS bypassrls, pg_catalog.current_setting('server_version_num') AS v,
            (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'citus') AS citus
       FROM pg_catalog.pg_roles WHERE rolname = current_user`,
  );
  const x = r.rows[0];
  return { role: { name: x.name, superuser: x.superuser, bypassRls: x.bypassrls }, versionNum: Number(x.v), citusVersion: x.citus };
}

export async function listSchemas(db: Queryable): Promise<string[]> {
  return (await db.query<{ schema: string }>(sqlFile('catalog/schemas'))).rows.map((r) => r.schema);
}
