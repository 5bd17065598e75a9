import { derivedName, ident, identList } from '../db/ident.js';
import { ownSchema, type Catalog, type TableDef } from '../discover/model.js';
import type { TableGroup } from './drift.js';
import { sourceRelation, type MergeTable, type Translation, type UnifiedColumn, type UnifiedTable } from './model.js';
import { ProblemCode, type Problem } from '../discover/problems.js';

/**
 * Merge by natural key (SPEC §4 "Django's lookup tables", §3 tables.merge). Pure planning:
 * which same-name tables are merged into the shared one, by which key, and which tenant
 * columns are translated through the id mapping the merge step records.
 *
 * Rule for what gets translated: a tenant column is translated when pg_constraint says it is a
 * single-column foreign key to the tenant's own copy of a merged table (Django's
 * GenericForeignKey content_type is a ForeignKey to ContentType, so it has one). A column named
 * like a content-type reference (`content_type_id`, `…_content_type_id`) WITHOUT such a key is
 * never guessed at: it is copied as it is and `plan` warns (MERGE_UNTRANSLATED).
 */

/** The shared schema (django-tenants' public): merged rows go into its table of the same name. */
export const SHARED_SCHEMA = 'public';

/** Merged without configuration when present both in the shared schema and in the tenants. */
export const AUTO_MERGE: Readonly<Record<string, string[]>> = {
  django_content_type: ['app_label', 'model'],
  auth_permission: ['content_type_id', 'codename'],
};

const CT_COLUMN = /(^|_)content_type_id$/;
export const CONTENT_TYPES = 'django_content_type';
/** Generic foreign keys' object ids of merged models: (tenant, shared content type id, old id) → new id. */
export const MERGE_OBJECTS = 'oasys_migrate.merge_objects';

/** The object-id column that goes with a GenericForeignKey's content-type column (Django's default names). */
export function objectIdColumn(columns: { name: string }[], contentTypeColumn: string): string | undefined {
  const prefix = contentTypeColumn.replace(/content_type_id$/, '');
  return columns.find((c) => c.name === `${prefix}object_id` || c.name === `${prefix}object_pk`)?.name;
}

function problem(table: string, message: string, hint: string): Problem {
  return { severity: 'error', code: ProblemCode.MERGE_INVALID, table, message, hint };
}

/**
 * Decides the merged tables among the tenant table groups. Returns them in dependency order
 * (a table whose key refers to another merged table comes after it); problems go to `problems`.
 */
export function planMerges(
  opts: { tenantColumn: string; merge: Record<string, string[]>; source: Catalog; target: Catalog; sameDatabase: boolean },
  groups: TableGroup[],
  problems: Problem[],
): MergeTable[] {
  const byName = new Map(groups.map((g) => [g.name, g]));
  for (const name of Object.keys(opts.merge)) {
    if (!byName.has(name)) {
      problems.push({
        severity: 'warning',
        code: ProblemCode.UNKNOWN_TABLE,
        table: name,
        message: `tables.merge names "${name}", which is not a migrated tenant table`,
        hint: 'check the spelling (names are case-sensitive), tables.include and tables.exclude',
      });
    }
  }
  const candidates: { g: TableGroup; key: string[]; auto: boolean; shared: TableDef }[] = [];
  for (const g of groups) {
    const explicit = opts.merge[g.name];
    const auto = AUTO_MERGE[g.name];
    if (!explicit && !auto) continue;
    // The shared table as the target has it; in a separate target that lacks it, the source's (copied there first).
    const shared = opts.target.tables.get(SHARED_SCHEMA)?.get(g.name) ?? (opts.sameDatabase ? undefined : opts.source.tables.get(SHARED_SCHEMA)?.get(g.name));
    if (!shared || shared.columns.some((c) => c.name === opts.tenantColumn)) {
      if (explicit) {
        problems.push(
          problem(
            g.name,
            `tables.merge names "${g.name}", but ${SHARED_SCHEMA}.${g.name} ${shared ? `has the tenant column "${opts.tenantColumn}" (it is a unified table, not a shared one)` : 'does not exist'}: there is no shared table to merge into`,
            `remove "${g.name}" from tables.merge (it then becomes a unified table)`,
          ),
        );
      }
      continue; // auto: a Django table only in the tenants is an ordinary tenant table
    }
    candidates.push({ g, key: explicit ?? auto, auto: !explicit, shared });
  }
  const names = new Set(candidates.map((c) => c.g.name));
  const out: MergeTable[] = [];
  for (const { g, key, auto, shared } of candidates) {
    const ref = g.reference;
    const bad = (msg: string, hint: string) => {
      problems.push(problem(g.name, msg, hint));
      names.delete(g.name);
    };
    const pk = shared.constraints.find((c) => c.kind === 'p');
    const tpk = ref.constraints.find((c) => c.kind === 'p');
    if (!pk || pk.columns.length !== 1 || !tpk || tpk.columns.length !== 1 || tpk.columns[0] !== pk.columns[0]) {
      bad(
        `"${g.name}" cannot be merged by natural key: it needs the same single-column primary key in ${SHARED_SCHEMA} and in the tenants (Django's "id")`,
        `exclude it (tables.exclude) or map it to its own unified table (tables.map)`,
      );
      continue;
    }
    const idColumn = pk.columns[0];
    const sharedId = shared.columns.find((c) => c.name === idColumn)!;
    if (sharedId.identity === '' && !/^nextval\(/.test(sharedId.defaultExpr ?? '')) {
      bad(
        `${SHARED_SCHEMA}.${g.name}."${idColumn}" has no serial or identity default: rows the tenants add to it could not get an id`,
        `give it one, or exclude "${g.name}"`,
      );
      continue;
    }
    const missing = key.filter((k) => !ref.columns.some((c) => c.name === k) || !shared.columns.some((c) => c.name === k));
    if (missing.length > 0) {
      bad(
        `the natural key of "${g.name}" names ${missing.map((m) => `"${m}"`).join(', ')}, which ${SHARED_SCHEMA}.${g.name} or the tenants' table lack`,
        `fix tables.merge["${g.name}"]: columns of both tables that identify a row, e.g. ["app_label", "model"]`,
      );
      continue;
    }
    const required = shared.columns.filter(
      (c) =>
        c.notNull && c.name !== idColumn && c.defaultExpr === null && c.identity === '' && c.generated === '' && !ref.columns.some((r) => r.name === c.name),
    );
    if (required.length > 0) {
      bad(
        `${SHARED_SCHEMA}.${g.name} has NOT NULL column${required.length > 1 ? 's' : ''} ${required.map((c) => `"${c.name}"`).join(', ')} without a default that the tenants' "${g.name}" lacks: rows the tenants add could not be written`,
        `give ${SHARED_SCHEMA}.${g.name} a default for them, or exclude "${g.name}"`,
      );
      continue;
    }
    const columns = ref.columns
      .filter((c) => c.name !== idColumn && c.generated === '')
      .map((c) => shared.columns.find((s) => s.name === c.name && s.generated === ''))
      .filter((c): c is NonNullable<typeof c> => c !== undefined)
      .map((c) => ({ name: c.name, type: c.type }));
    out.push({
      table: g.name,
      sharedSchema: SHARED_SCHEMA,
      idColumn,
      idType: sharedId.type,
      key,
      keyRefs: {},
      columns,
      tenants: [...g.byTenant.keys()],
      auto,
      mapTable: derivedName('merge', g.name),
    });
  }
  const merged = out.filter((m) => names.has(m.table));
  const byTable = new Map(merged.map((m) => [m.table, m]));
  // Columns of a merged table that refer to another merged table (auth_permission.content_type_id) are translated first.
  for (const m of merged) {
    const ref = byName.get(m.table)!.reference;
    for (const con of ref.constraints) {
      if (con.kind !== 'f' || !con.ref || con.ref.schema !== ownSchema(ref) || !byTable.has(con.ref.table) || con.ref.table === m.table) continue;
      if (con.columns.length === 1 && m.columns.some((c) => c.name === con.columns[0])) m.keyRefs[con.columns[0]] = con.ref.table;
    }
  }
  // Dependency order: a table after the merged tables it refers to.
  const ordered: MergeTable[] = [];
  const visit = (m: MergeTable, seen: Set<string>) => {
    if (ordered.includes(m) || seen.has(m.table)) return;
    seen.add(m.table);
    for (const dep of Object.values(m.keyRefs)) visit(byTable.get(dep)!, seen);
    // merge_objects (generic foreign keys to merged models) needs the shared content types first.
    if (m.table !== CONTENT_TYPES && byTable.has(CONTENT_TYPES)) visit(byTable.get(CONTENT_TYPES)!, seen);
    ordered.push(m);
  };
  for (const m of merged) visit(m, new Set());
  for (const m of ordered) {
    problems.push({
      severity: 'info',
      code: ProblemCode.MERGE,
      table: m.table,
      message: `"${m.table}" of ${m.tenants.length} tenant${m.tenants.length === 1 ? '' : 's'} is merged into ${m.sharedSchema}.${m.table} by (${m.key.join(', ')})${m.auto ? ' (Django lookup table, merged without configuration)' : ' (tables.merge)'}: matched rows take the shared id, the others are added`,
    });
  }
  return ordered;
}

/**
 * The translated columns of one unified table: its single-column foreign keys to a tenant's own
 * merged table. Other references to a merged table cannot be translated and block the plan.
 */
export function translationsFor(group: TableGroup, merges: Map<string, MergeTable>, problems: Problem[]): Translation[] {
  const ref = group.reference;
  const out: Translation[] = [];
  const fkColumns = new Set<string>();
  for (const con of ref.constraints) {
    if (con.kind !== 'f' || !con.ref) continue;
    for (const c of con.columns) fkColumns.add(c);
    if (con.ref.schema !== ownSchema(ref)) continue;
    const m = merges.get(con.ref.table);
    if (!m) continue;
    if (con.columns.length !== 1 || con.ref.columns.length !== 1 || con.ref.columns[0] !== m.idColumn) {
      problems.push(
        problem(
          group.name,
          `foreign key "${con.name}" of "${group.name}" refers to (${con.ref.columns.join(', ')}) of the merged table "${m.table}"; only a single column referring to its "${m.idColumn}" can be translated to the shared ids`,
          `exclude "${group.name}", or stop merging "${m.table}" (tables.map gives the tenants' copy a unified table of its own)`,
        ),
      );
      continue;
    }
    out.push({ column: con.columns[0], merged: m.table });
    // Its GenericForeignKey partner: object ids of merged models (auth.user …) changed with the merge.
    const objectId = m.table === CONTENT_TYPES ? objectIdColumn(ref.columns, con.columns[0]) : undefined;
    if (objectId && [...merges.keys()].some((x) => x !== CONTENT_TYPES)) out.push({ column: objectId, merged: CONTENT_TYPES, genericOf: con.columns[0] });
  }
  if (merges.has('django_content_type')) {
    for (const c of ref.columns) {
      if (CT_COLUMN.test(c.name) && !fkColumns.has(c.name)) {
        problems.push({
          severity: 'warning',
          code: ProblemCode.MERGE_UNTRANSLATED,
          table: group.name,
          column: c.name,
          message: `"${group.name}"."${c.name}" looks like a content-type reference (a GenericForeignKey with db_constraint=False?) but has no foreign key to django_content_type: it is copied as it is, NOT translated to the shared content-type ids`,
          hint: `add the foreign key in the tenant schemas (ForeignKey(ContentType) with db_constraint=True) so that it is translated, or check after the run that its values mean the same content types in ${SHARED_SCHEMA}.django_content_type`,
        });
      }
    }
  }
  return out;
}

/** The mapping table of a merged table, in the state schema. */
export function mapTableSql(m: Pick<MergeTable, 'mapTable'>): string {
  return `oasys_migrate.${ident(m.mapTable)}`;
}

/** The value of a translated column `c` of alias `s`, through the mapping joined as `alias`. */
function joins(t: UnifiedTable, merges: Map<string, MergeTable>, tenantType: string): { expr: Map<string, string>; sql: string } {
  const expr = new Map<string, string>();
  const parts: string[] = [];
  const aliasOf = new Map<string, string>();
  (t.translations ?? []).forEach((tr, i) => {
    const a = `m${i}`;
    if (tr.genericOf !== undefined) {
      // Keyed by the content type's shared id (the partner's translation, joined just before).
      parts.push(
        `LEFT JOIN ${MERGE_OBJECTS} AS ${a} ON ${a}.tenant = ($1::${tenantType})::text AND ${a}.ct = ${aliasOf.get(tr.genericOf)}.new_id AND ${a}.old_id = s.${ident(tr.column)}::text`,
      );
    } else {
      const m = merges.get(tr.merged)!;
      parts.push(`LEFT JOIN ${mapTableSql(m)} AS ${a} ON ${a}.tenant = ($1::${tenantType})::text AND ${a}.old_id = s.${ident(tr.column)}::text`);
      aliasOf.set(tr.column, a);
    }
    expr.set(tr.column, a);
  });
  return { expr, sql: parts.join('\n') };
}

/**
 * The statements of a copy whose columns are translated through merged tables' mappings: same
 * database, one INSERT … SELECT joining the mappings ($1 = tenant id); separate target, COPY (as
 * text) into a transaction-local staging table, then that INSERT … SELECT from it.
 */
export function translatedCopySql(
  t: UnifiedTable,
  merges: Map<string, MergeTable>,
  ctx: { targetSchema: string; tenantColumn: string },
  tenantSchema: string,
  sameDatabase: boolean,
): { insertSelect?: string; copyOut?: string; copyIn?: string; stage?: { create: string; insert: string } } {
  const cols = t.columns.filter((c) => c.generatedExpr === null);
  const j = joins(t, merges, t.tenantColumnType);
  const target = ident(ctx.targetSchema, t.target);
  const generic = new Set((t.translations ?? []).filter((tr) => tr.genericOf !== undefined).map((tr) => tr.column));
  const value = (c: UnifiedColumn, fromText: boolean) => {
    const plain = fromText ? `s.${ident(c.name)}::${c.type}` : c.castViaText ? `s.${ident(c.name)}::text::${c.type}` : `s.${ident(c.name)}`;
    const a = j.expr.get(c.name);
    // An object id of a model that was not merged keeps its value.
    if (a) return generic.has(c.name) ? `COALESCE(${a}.new_id::${c.type}, ${plain})` : `${a}.new_id::${c.type}`;
    return plain;
  };
  const head = `INSERT INTO ${target} (${identList([ctx.tenantColumn, ...cols.map((c) => c.name)])}) OVERRIDING SYSTEM VALUE`;
  const source = sourceRelation(ident(tenantSchema, t.source), t.partitioned);
  if (sameDatabase)
    return { insertSelect: `${head}\nSELECT $1::${t.tenantColumnType}, ${cols.map((c) => value(c, false)).join(', ')} FROM ${source} AS s\n${j.sql}` };
  const stage = 'pg_temp.oasys_stage';
  return {
    copyOut: `COPY (SELECT ${cols.map((c) => `s.${ident(c.name)}::text`).join(', ')} FROM ${source} AS s) TO STDOUT`,
    copyIn: `COPY ${stage} (${identList(cols.map((c) => c.name))}) FROM STDIN`,
    stage: {
      create: `CREATE TEMP TABLE oasys_stage (${cols.map((c) => `${ident(c.name)} text`).join(', ')}) ON COMMIT DROP`,
      insert: `${head}\nSELECT $1::${t.tenantColumnType}, ${cols.map((c) => value(c, true)).join(', ')} FROM ${stage} AS s\n${j.sql}`,
    },
  };
}

/**
 * The natural key (as text) of the row of merged table `table` in `schema` whose id is `value`:
 * what a translated column means, compared by `verify` on both sides instead of the id.
 */
export function naturalKeyExpr(merges: Map<string, MergeTable>, table: string, schema: string, value: string, depth = 0): string {
  const m = merges.get(table)!;
  const a = `nk${depth}`;
  return `(SELECT ${naturalKeyOfRow(merges, m, schema, a, depth)} FROM ${ident(schema, m.table)} AS ${a} WHERE ${a}.${ident(m.idColumn)} = ${value})`;
}

/** The natural key (as text) of the row `alias` of merged table `m` read in `schema`. */
export function naturalKeyOfRow(merges: Map<string, MergeTable>, m: MergeTable, schema: string, alias: string, depth = 0): string {
  const parts = m.key.map((k) =>
    m.keyRefs[k] ? naturalKeyExpr(merges, m.keyRefs[k], schema, `${alias}.${ident(k)}`, depth + 1) : `${alias}.${ident(k)}::text`,
  );
  return `ROW(${parts.join(', ')})::text`;
}

export function mergeMap(merges: MergeTable[] | undefined): Map<string, MergeTable> {
  return new Map((merges ?? []).map((m) => [m.table, m]));
}

/** What `plan --sql` shows for a merge step (an SQL comment: the step reads the source and is not one statement). */
export function mergeStepComment(m: MergeTable): string {
  const refs = Object.entries(m.keyRefs).map(([c, t]) => `${c} through ${t}'s mapping`);
  return (
    `-- merge: each tenant's ${m.table} rows${refs.length ? ` (${refs.join(', ')})` : ''} matched to ${m.sharedSchema}.${m.table} by (${m.key.join(', ')}); ` +
    `unmatched keys inserted once; tenant id → shared id recorded in oasys_migrate.${m.mapTable}`.replace(/\n/g, ' ')
  );
}
