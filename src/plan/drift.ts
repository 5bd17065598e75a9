import { ownSchema, type Catalog, type Column, type Index, type TableDef, type Tenant, type TypeDef } from '../discover/model.js';
import { ident } from '../db/ident.js';
import { ProblemCode, type Problem } from '../discover/problems.js';

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

/** What a rule is, as messages name it. */
type RuleKind = 'primary key' | 'unique constraint' | 'unique index' | 'foreign key' | 'check constraint' | 'index';

/**
 * A key, constraint or index of one tenant's table, reduced to what decides
 * which rows it accepts (or, for a plain index, what it indexes): compared
 * across tenants by this text, never by name, with the tenant's own schema
 * replaced by `@local` so that `acme.mood` and `globex.mood` compare equal.
 */
interface Rule {
  /** The normalised definition: equal text ⇔ same rule. */
  key: string;
  kind: RuleKind;
  name: string;
  /** Could rows of a tenant lacking it make `run` fail (keys, foreign keys, checks)? Plain indexes cannot. */
  blocking: boolean;
}

/** quote_ident as the server prints names in deparsed expressions: quoted only when needed (keywords aside). */
function serverQuoted(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : ident(name);
}

/**
 * Deparsed text with the tenant's own schema qualification replaced by `@local.`. String
 * literals are left as they are: `'acme.x'` is a value, not a qualification, and two tenants
 * comparing `note <> 'acme.x'` with `note <> 'globex.x'` have different checks. (The deparser
 * doubles a quote inside a literal, so a lone quote always ends one.)
 */
export function unqualified(text: string, schema: string): string {
  const needles = [...new Set([`${ident(schema)}.`, `${serverQuoted(schema)}.`])];
  // Only where a name starts: `xacme.f` is schema xacme's, not acme's.
  const replace = (code: string) => {
    for (const n of needles) {
      let out = '';
      let from = 0;
      for (let i = code.indexOf(n); i !== -1; i = code.indexOf(n, i + 1)) {
        if (i > 0 && /[\p{L}\p{N}_$"]/u.test(code[i - 1])) continue;
        out += code.slice(from, i) + '@local.';
        from = i + n.length;
        i = from - 1;
      }
      code = out + code.slice(from);
    }
    return code;
  };
  if (!text.includes("'")) return replace(text);
  let out = '';
  let from = 0;
  for (let i = text.indexOf("'"); i !== -1;) {
    out += replace(text.slice(from, i));
    let end = i + 1;
    for (;;) {
      end = text.indexOf("'", end);
      if (end === -1 || text[end + 1] !== "'") break;
      end += 2;
    }
    if (end === -1) return out + text.slice(i);
    out += text.slice(i, end + 1);
    from = end + 1;
    i = text.indexOf("'", from);
  }
  return out + replace(text.slice(from));
}

/** An index's keys as text: expression or column, operator class, sort order. */
function indexKeys(idx: Index, schema: string): { keys: string[]; include: string[] } {
  const keys: string[] = [];
  for (let k = 0; k < idx.keyCount; k++) {
    let sql = unqualified(idx.columnDefs[k] ?? '', schema);
    const opc = idx.opclasses[k];
    if (opc) sql += ` ${unqualified(opc, schema)}`;
    const opt = idx.options[k] ?? 0;
    if ((opt & 1) !== 0) sql += (opt & 2) !== 0 ? ' DESC' : ' DESC NULLS LAST';
    else if ((opt & 2) !== 0) sql += ' NULLS FIRST';
    keys.push(sql);
  }
  return { keys, include: idx.columnDefs.slice(idx.keyCount).map((d) => unqualified(d, schema)) };
}

/**
 * The rules of one tenant's table that `run` would recreate on the unified
 * table. Rules that `run` never recreates (exclusion constraints, checks and
 * indexes using the tenant schema's own functions, foreign keys to a table
 * that is not migrated or into another tenant's schema, indexes backing a
 * constraint) cannot make it fail, so they are not compared.
 */
function rulesOf(def: TableDef, migrated: ReadonlySet<string>, tenantSchemas: ReadonlySet<string>): Rule[] {
  const out: Rule[] = [];
  // A table sharing another tenant's definition (TableDef.shapeOf) is read as that one: its texts name that schema.
  const schema = ownSchema(def);
  const idxByName = new Map(def.indexes.map((i) => [i.name, i]));
  const colName = (d: string) => def.columns.find((c) => d === c.name || d === ident(c.name))?.name;
  for (const c of def.constraints) {
    const cols = c.columns.map((x) => ident(x)).join(', ');
    if (c.kind === 'p') out.push({ key: `PRIMARY KEY (${cols})`, kind: 'primary key', name: c.name, blocking: true });
    else if (c.kind === 'u') {
      const nnd = idxByName.get(c.name)?.nullsNotDistinct ? ' NULLS NOT DISTINCT' : '';
      out.push({ key: `UNIQUE${nnd} (${cols})`, kind: 'unique constraint', name: c.name, blocking: true });
    } else if (c.kind === 'f' && c.ref) {
      const local = c.ref.schema === schema;
      if (local ? !migrated.has(c.ref.table) : tenantSchemas.has(c.ref.schema)) continue;
      const target = local ? `@local.${ident(c.ref.table)}` : ident(c.ref.schema, c.ref.table);
      out.push({
        key: `FOREIGN KEY (${cols}) REFERENCES ${target} (${c.ref.columns.map((x) => ident(x)).join(', ')})${c.matchType === 'f' ? ' MATCH FULL' : ''}`,
        kind: 'foreign key',
        name: c.name,
        blocking: true,
      });
    } else if (c.kind === 'c' && !c.usesLocalObjects) {
      out.push({ key: unqualified(c.definition, schema), kind: 'check constraint', name: c.name, blocking: true });
    }
  }
  for (const idx of def.indexes) {
    if (idx.backsConstraint || idx.usesLocalObjects) continue;
    const plainCols = idx.columnDefs.map(colName);
    const plain =
      idx.method === 'btree' &&
      idx.predicate === null &&
      idx.columnDefs.length === idx.keyCount &&
      plainCols.every((x) => x !== undefined) &&
      idx.opclasses.every((o) => !o) &&
      idx.options.every((o) => !o);
    if (idx.unique && plain) {
      // Enforces exactly what a unique constraint on the same columns does: one tenant may have either.
      const nnd = idx.nullsNotDistinct ? ' NULLS NOT DISTINCT' : '';
      out.push({ key: `UNIQUE${nnd} (${plainCols.map((x) => ident(x!)).join(', ')})`, kind: 'unique index', name: idx.name, blocking: true });
      continue;
    }
    const { keys, include } = indexKeys(idx, schema);
    let key = `${idx.unique ? 'UNIQUE ' : ''}INDEX USING ${idx.method} (${keys.join(', ')})`;
    if (include.length > 0) key += ` INCLUDE (${include.join(', ')})`;
    if (idx.unique && idx.nullsNotDistinct) key += ' NULLS NOT DISTINCT';
    if (idx.predicate) key += ` WHERE ${unqualified(idx.predicate, schema)}`;
    out.push({ key, kind: idx.unique ? 'unique index' : 'index', name: idx.name, blocking: idx.unique });
  }
  return out;
}

/** Every rule of a table once, for the reference choice (sorted: order in the catalog is not meaningful). */
function ruleSignature(rules: Rule[]): string {
  return [...new Set(rules.map((r) => r.key))].sort().join('\u0001');
}

/** `tenant "a"`, `tenants "a" and "b"`, `1,204 tenants ("a", "b", "c", …)`: 10,000 names are not a message. */
export function tenantsText(schemas: readonly string[], examples = 3): string {
  const q = (s: string) => JSON.stringify(s);
  if (schemas.length === 0) return 'no tenant';
  if (schemas.length === 1) return `tenant ${q(schemas[0])}`;
  if (schemas.length <= examples) return `tenants ${schemas.slice(0, -1).map(q).join(', ')} and ${q(schemas[schemas.length - 1])}`;
  return `${schemas.length.toLocaleString('en-US')} tenants (${schemas.slice(0, examples).map(q).join(', ')}, …)`;
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
 * definition, and reports every tenant whose table differs from it: columns
 * (blocking: migrating them would lose or mangle data), then keys,
 * constraints and indexes (blocking where a tenant's rows could make `run`
 * fail after the copy). A table missing in some tenants blocks unless
 * `partial` names it: it is then migrated for the tenants that have it.
 */
export function analyseDrift(
  catalog: Catalog,
  tenants: Tenant[],
  tableFilter: (name: string) => boolean,
  partial: ReadonlySet<string> = new Set(),
  /** Tables whose unified table already exists (the application's): run fills it and adds none of the tenants' keys. */
  filled: ReadonlySet<string> = new Set(),
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
  const migrated = new Set(names.keys());
  const tenantSchemas = new Set(tenants.map((t) => t.schema));

  const groups: TableGroup[] = [];
  const types = new Map<string, TypeDef>();
  for (const [name, byTenant] of [...names].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const rules = new Map<string, Rule[]>();
    // Tenants of one shape share the first one's definition (TableDef.shapeOf): their rules are worked out once.
    const shapeRules = new Map<string, Rule[]>();
    for (const [schema, def] of byTenant) {
      const shape = ownSchema(def);
      let r = shapeRules.get(shape);
      if (!r) shapeRules.set(shape, (r = rulesOf(def, migrated, tenantSchemas)));
      rules.set(schema, r);
    }
    // The reference is the most common column set; among the tenants sharing it, the most
    // common set of keys and constraints: the unified table takes the reference's keys, so
    // one tenant lacking a unique constraint never decides that the unified table has none.
    const counts = new Map<string, { n: number; defs: TableDef[] }>();
    const signatures = new Map<Column[], string>();
    for (const t of tenants) {
      const def = byTenant.get(t.schema);
      if (!def) continue;
      let sig = signatures.get(def.columns);
      if (sig === undefined) signatures.set(def.columns, (sig = signature(def)));
      const e = counts.get(sig);
      if (e) {
        e.n++;
        e.defs.push(def);
      } else counts.set(sig, { n: 1, defs: [def] });
    }
    let best: { n: number; defs: TableDef[] } | undefined;
    for (const e of counts.values()) if (!best || e.n > best.n) best = e;
    const byRules = new Map<string, { n: number; def: TableDef }>();
    for (const def of best!.defs) {
      const sig = ruleSignature(rules.get(def.schema)!);
      const e = byRules.get(sig);
      if (e) e.n++;
      else byRules.set(sig, { n: 1, def });
    }
    let bestRules: { n: number; def: TableDef } | undefined;
    for (const e of byRules.values()) if (!bestRules || e.n > bestRules.n) bestRules = e;
    const reference = bestRules!.def;
    const refCols = new Map(reference.columns.map((c) => [c.name, c]));
    const notNullEverywhere = new Set(reference.columns.filter((c) => c.notNull).map((c) => c.name));
    let estimatedRows = 0;

    const lacking = tenants.filter((t) => !byTenant.has(t.schema)).map((t) => t.schema);
    if (lacking.length > 0) {
      const having = tenants.filter((t) => byTenant.has(t.schema)).map((t) => t.schema);
      if (partial.has(name)) {
        problems.push({
          severity: 'info',
          code: ProblemCode.DRIFT_MISSING_TABLE,
          table: name,
          message: `"${name}" (tables.partial) exists in ${having.length} of ${tenants.length} tenants (${tenantsText(having)}); it is migrated for those, and ${tenantsText(lacking)} without it ${lacking.length === 1 ? 'has' : 'have'} no rows in it`,
        });
      } else {
        // One problem per table, not one per tenant: at 10,000 tenants a table missing in most of them is one finding.
        problems.push({
          severity: 'error',
          code: ProblemCode.DRIFT_MISSING_TABLE,
          tenant: lacking.length === 1 ? lacking[0] : undefined,
          table: name,
          message: `${tenantsText(lacking)} ${lacking.length === 1 ? 'has' : 'have'} no table "${name}", which ${tenantsText(having)} ${having.length === 1 ? 'has' : 'have'}`,
          hint: `finish the tenants' schema migrations (migrate_schemas); if the table belongs to only some tenants (multi-type tenants, an app moved between shared and tenant), name it in tables.partial to migrate it for the tenants that have it; or exclude the table (tables.exclude) or the tenants (tenants.exclude)`,
        });
      }
    }

    // Column drift, one problem per (column, kind of difference) naming the tenants on each side:
    // at 10,000 tenants, a column missing in half of them is one finding, not 5,000.
    const missing = new Map<string, string[]>();
    const typed = new Map<string, Map<string, string[]>>();
    const extra = new Map<string, string[]>();
    const nullability = new Map<string, { notNull: string[]; nullable: string[] }>();
    const push = <K>(m: Map<K, string[]>, k: K, v: string) => {
      const l = m.get(k);
      if (l) l.push(v);
      else m.set(k, [v]);
    };
    const columnMaps = new Map<Column[], Map<string, Column>>();
    for (const t of tenants) {
      const def = byTenant.get(t.schema);
      if (!def) continue;
      estimatedRows += def.estimate;
      let cols = columnMaps.get(def.columns);
      if (!cols) columnMaps.set(def.columns, (cols = new Map(def.columns.map((c) => [c.name, c]))));
      for (const rc of reference.columns) {
        const c = cols.get(rc.name);
        if (!c) push(missing, rc.name, t.schema);
        else if (comparableType(c) !== comparableType(rc)) {
          let m = typed.get(rc.name);
          if (!m) typed.set(rc.name, (m = new Map()));
          push(m, comparableType(c), t.schema);
        } else {
          let e = nullability.get(rc.name);
          if (!e) nullability.set(rc.name, (e = { notNull: [], nullable: [] }));
          (c.notNull ? e.notNull : e.nullable).push(t.schema);
        }
      }
      for (const c of def.columns) if (!refCols.has(c.name)) push(extra, c.name, t.schema);
    }
    const having = tenants.filter((t) => byTenant.has(t.schema)).map((t) => t.schema);
    const others = (list: string[]) => {
      const l = new Set(list);
      return having.filter((s) => !l.has(s));
    };
    const has = (list: string[]) => (list.length === 1 ? 'has' : 'have');
    const one = (list: string[]) => (list.length === 1 ? list[0] : undefined);
    const shownType = (t: string) => t.replace('@local.', '');
    for (const rc of reference.columns) {
      const lack = missing.get(rc.name);
      if (lack) {
        const rest = others(lack);
        problems.push({
          severity: 'error',
          code: ProblemCode.DRIFT_MISSING_COLUMN,
          tenant: one(lack),
          table: name,
          column: rc.name,
          message: `${tenantsText(lack)} table "${name}" ${has(lack)} no column "${rc.name}" (${shownType(comparableType(rc))}) that ${tenantsText(rest)} ${has(rest)}`,
          hint: 'bring the tenant schemas up to date (migrate_schemas), or exclude the table or the tenants',
        });
      }
      for (const [type, list] of typed.get(rc.name) ?? []) {
        const refSide = others([...(typed.get(rc.name)?.values() ?? [])].flat().concat(lack ?? []));
        problems.push({
          severity: 'error',
          code: ProblemCode.DRIFT_COLUMN_TYPE,
          tenant: one(list),
          table: name,
          column: rc.name,
          message: `${tenantsText(list)} table "${name}" column "${rc.name}" is ${shownType(type)}, ${tenantsText(refSide)} ${has(refSide)} ${shownType(comparableType(rc))}`,
          hint: 'bring the tenant schemas up to date (migrate_schemas), or exclude the table or the tenants',
        });
      }
      const n = nullability.get(rc.name);
      if (n && n.notNull.length > 0 && n.nullable.length > 0) {
        // The unified column is nullable: no tenant's row can fail it, so this is not blocking.
        notNullEverywhere.delete(rc.name);
        const odd = rc.notNull ? n.nullable : n.notNull;
        problems.push({
          severity: 'warning',
          code: ProblemCode.DRIFT_NULLABILITY,
          tenant: one(odd),
          table: name,
          column: rc.name,
          message: `"${name}"."${rc.name}" is NOT NULL in ${tenantsText(n.notNull)} but nullable in ${tenantsText(n.nullable)}; the unified column will be nullable (no row can fail it; the NOT NULL guarantee is lost for every tenant)`,
          hint: `to keep NOT NULL, SET NOT NULL on the column in ${tenantsText(n.nullable)} (after filling their NULLs) before the migration`,
        });
      }
    }
    for (const [col, list] of extra) {
      problems.push({
        severity: 'error',
        code: ProblemCode.DRIFT_EXTRA_COLUMN,
        tenant: one(list),
        table: name,
        column: col,
        message: `${tenantsText(list)} table "${name}" ${has(list)} a column "${col}" that ${tenantsText(others(list))} ${list.length === 1 ? 'does' : 'do'} not; its data would be lost`,
        hint: 'bring the tenant schemas in line with each other, or exclude the table or the tenants',
      });
    }
    // A column nullable in any tenant (whatever the comparison above saw) is nullable in the unified table.
    for (const def of byTenant.values()) for (const c of def.columns) if (!c.notNull) notNullEverywhere.delete(c.name);

    for (const p of ruleDrift(name, tenants, rules, reference, filled.has(name))) problems.push(p);

    for (const c of reference.columns) {
      if (c.localType && !types.has(c.localType.name)) {
        const td = catalog.types.get(ownSchema(reference))?.get(c.localType.name);
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
          severity: 'error',
          code: ProblemCode.DRIFT_ENUM_LABELS,
          tenant: t.schema,
          message: `tenant "${t.schema}" enum type "${typeName}" has label${extra.length > 1 ? 's' : ''} ${extra.map((l) => JSON.stringify(l)).join(', ')} that the unified type (from tenant "${ref.schema}") lacks`,
          hint: 'align the enum in every tenant schema (ALTER TYPE … ADD VALUE in the reference tenants), or exclude this tenant',
        });
      }
    }
  }
  return { groups, types, problems };
}

const ABOUT: Record<RuleKind, { rows: string; fix: string }> = {
  'primary key': { rows: 'duplicate or NULL keys', fix: 'after removing duplicate rows' },
  'unique constraint': { rows: 'duplicate values', fix: 'after removing duplicate rows' },
  'unique index': { rows: 'duplicate values', fix: 'after removing duplicate rows' },
  'foreign key': { rows: 'rows pointing at rows that do not exist', fix: 'after deleting or fixing the dangling rows' },
  'check constraint': { rows: 'rows that violate it', fix: 'after fixing the rows that violate it' },
  index: { rows: '', fix: '' },
};

/** Why drift does not block a table that already exists: run creates none of the tenants' keys on it. */
const FILLED =
  "the unified table already exists and run only fills it (none of the tenants' keys, constraints or indexes are added to it), so this does not stop run; a row that breaks the existing table's own keys stops the copy with a data error naming it";

/** When `run` would meet a tenant's rows that break a rule of the unified table. */
function whenFails(kind: RuleKind): string {
  // Checks are part of CREATE TABLE (rows are checked as they are copied); keys and foreign keys come after the copy.
  return kind === 'check constraint' ? 'while copying' : 'after the whole copy';
}

/**
 * Keys, constraints and indexes present in some tenants and not in others.
 * One problem per differing rule (naming counts and a few tenants on each
 * side), not per tenant: 10,000 tenants lacking one index is one finding.
 */
function ruleDrift(table: string, tenants: Tenant[], rules: Map<string, Rule[]>, reference: TableDef, filled: boolean): Problem[] {
  const problems: Problem[] = [];
  const present = tenants.map((t) => t.schema).filter((s) => rules.has(s));
  const refSchema = reference.schema;
  const byKey = new Map<string, { rule: Rule; tenants: string[]; names: Set<string> }>();
  for (const schema of present) {
    const seen = new Set<string>();
    for (const r of rules.get(schema)!) {
      let e = byKey.get(r.key);
      if (!e) byKey.set(r.key, (e = { rule: r, tenants: [], names: new Set() }));
      e.names.add(r.name);
      if (!seen.has(r.key)) e.tenants.push(schema);
      seen.add(r.key);
    }
  }
  const refKeys = new Set(rules.get(refSchema)!.map((r) => r.key));
  const drifting = [...byKey.values()].filter((e) => e.tenants.length < present.length);
  const without = (have: string[]) => {
    const h = new Set(have);
    return present.filter((s) => !h.has(s));
  };
  const codeOf = (r: Rule) => (r.blocking ? ProblemCode.DRIFT_CONSTRAINT : ProblemCode.DRIFT_INDEX);
  const q = (s: string) => JSON.stringify(s);
  // As users read it: a name without schema is the tenant's own table or type.
  const shown = (r: Rule) => r.key.split('@local.').join('');

  // The same name with another definition (a CHECK with another expression, a key on other
  // columns) is one finding, "differs", rather than two "missing" ones.
  const handled = new Set<string>();
  const byName = new Map<string, typeof drifting>();
  for (const e of drifting) {
    for (const n of e.names) {
      const k = `${e.rule.blocking}\u0000${n}`;
      byName.set(k, [...(byName.get(k) ?? []), e]);
    }
  }
  for (const variants0 of byName.values()) {
    const variants = variants0.filter((v) => !handled.has(v.rule.key));
    if (variants.length < 2) continue;
    for (const v of variants) handled.add(v.rule.key);
    const blocking = variants.some((v) => v.rule.blocking);
    const kind = variants.find((v) => refKeys.has(v.rule.key))?.rule.kind ?? variants[0].rule.kind;
    const name = [...variants[0].names].find((n) => variants.every((v) => v.names.has(n)))!;
    const refVariant = variants.find((v) => refKeys.has(v.rule.key));
    const none = without(variants.flatMap((v) => v.tenants));
    const refTenants = new Set(refVariant?.tenants ?? []);
    const offending = present.filter((s) => !refTenants.has(s));
    const list = variants.map((v) => `${shown(v.rule)} in ${tenantsText(v.tenants)}`).join('; ') + (none.length > 0 ? `; none in ${tenantsText(none)}` : '');
    const what = filled
      ? FILLED
      : refVariant
        ? blocking
          ? `run would create the reference tenant ${q(refSchema)}'s ${shown(refVariant.rule)} on the unified table and fail ${whenFails(kind)} on any ${ABOUT[kind].rows} in the other tenants`
          : `run creates the reference tenant ${q(refSchema)}'s ${shown(refVariant.rule)} (with the tenant column first) for every tenant; no row can fail it`
        : `the reference tenant ${q(refSchema)} has none of them, so run would create the unified table without it`;
    problems.push({
      severity: blocking && !filled ? 'error' : 'warning',
      code: blocking ? ProblemCode.DRIFT_CONSTRAINT : ProblemCode.DRIFT_INDEX,
      tenant: offending.length === 1 ? offending[0] : undefined,
      table,
      message: `"${table}": ${kind} ${q(name)} differs between tenants: ${list}; ${what}`,
      hint: blocking
        ? `give every tenant the same definition (${ABOUT[kind].fix}), or exclude the table (tables.exclude) or the differing tenants (tenants.exclude)`
        : `give every tenant the same index, or recreate the one you want on the unified table after the migration`,
    });
  }

  for (const e of drifting) {
    if (handled.has(e.rule.key)) continue;
    const r = e.rule;
    const lacking = without(e.tenants);
    const inRef = refKeys.has(r.key);
    const name = [...e.names].join('/');
    // The minority side is the one to name in the tenant column: the one that differs from the reference.
    const offending = inRef ? lacking : e.tenants;
    const head = `"${table}": ${r.kind} ${q(name)} ${shown(r)} is in ${tenantsText(e.tenants)} but missing in ${tenantsText(lacking)}`;
    let message: string;
    let hint: string;
    if (filled) {
      message = `${head}; ${FILLED}`;
      hint = "give every tenant the same definition to keep the schemas alike; check that the existing table's own keys hold for every tenant's rows";
    } else if (!r.blocking) {
      message = inRef
        ? `${head}; run creates it on the unified table (with the tenant column first) for every tenant, which no row can fail`
        : `${head}; the unified table follows the reference tenant ${q(refSchema)} and is created without it, so queries of ${tenantsText(e.tenants)} lose it`;
      hint = inRef
        ? 'nothing to do for the migration; add the index to the tenants lacking it to keep the schemas alike'
        : 'recreate the index on the unified table after the migration if the application needs it, or add it to every tenant first';
    } else if (inRef) {
      message = `${head}; run would create it on the unified table and fail ${whenFails(r.kind)} on any ${ABOUT[r.kind].rows} in ${tenantsText(lacking)}`;
      hint = `add the ${r.kind} to ${tenantsText(lacking)} (${ABOUT[r.kind].fix}) or drop it from the others; or exclude the table (tables.exclude) or those tenants (tenants.exclude)`;
    } else {
      message = `${head}; the unified table follows the reference tenant ${q(refSchema)} and would be created without it, so ${tenantsText(e.tenants)} would lose it`;
      hint = `add the ${r.kind} to the tenants lacking it (${ABOUT[r.kind].fix}) or drop it from ${tenantsText(e.tenants)}; or exclude the table (tables.exclude) or those tenants (tenants.exclude)`;
    }
    problems.push({
      severity: r.blocking && !filled ? 'error' : 'warning',
      code: codeOf(r),
      tenant: offending.length === 1 ? offending[0] : undefined,
      table,
      message,
      hint,
    });
  }
  return problems;
}
