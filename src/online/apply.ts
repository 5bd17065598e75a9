import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ident, identList } from '../db/ident.js';
import { WantingError } from '../errors.js';
import type { Plan, UnifiedColumn, UnifiedTable } from '../plan/model.js';
import { tableDepths } from '../copy/recopy.js';
import { MERGE_OBJECTS, mapTableSql, mergeMap } from '../plan/merge.js';
import { UNCHANGED, type Change, type Field } from './decode.js';

/** One source transaction, whole, as decoded: applied all or nothing, in commit order. */
export interface SourceTxn {
  xid: string;
  /** End of its commit record: the position journaled once it is applied. */
  lsn: string;
  /** Commit time on the source (include-timestamp). */
  at?: string;
  changes: Change[];
}

export interface Route {
  table: UnifiedTable;
  tenant: string;
  tenantId: string;
  columns: Map<string, UnifiedColumn>;
}

/** Where a change of `schema.table` goes: tenant tables of the plan; everything else is ignored. */
export class Router {
  private routes = new Map<string, Route>();
  /** Shared tables the run copied into a separate target: their changes are not carried over (yet), so one stops the follow. */
  private copiedShared: Set<string>;
  /** Lookup tables merged by natural key (Django's content types): a tenant's copy changing means a migration ran. */
  private merged: Set<string>;
  readonly depths: Map<string, number>;
  constructor(readonly plan: Plan) {
    this.copiedShared = new Set(plan.sameDatabase ? [] : plan.shared.map((x) => `${x.schema}\u0000${x.table}`));
    this.merged = new Set((plan.merges ?? []).map((m) => m.table));
    const ids = new Map(plan.tenants.map((t) => [t.schema, t.tenantId]));
    for (const t of plan.tables) {
      // A table without a key is frozen: copied again at the cut-over, its changes are not followed.
      if (!t.sourceKey?.length) continue;
      const columns = new Map(t.columns.map((c) => [c.name, c]));
      for (const tenant of t.tenants) this.routes.set(`${tenant}\u0000${t.source}`, { table: t, tenant, tenantId: ids.get(tenant)!, columns });
    }
    this.depths = tableDepths(plan);
  }
  route(schema: string, table: string): Route | undefined {
    const r = this.routes.get(`${schema}\u0000${table}`);
    if (!r && this.merged.has(table) && this.plan.tenants.some((t) => t.schema === schema)) {
      // Its rows were merged and mapped once; a new or changed row would have no mapping.
      throw new WantingError(
        `tenant "${schema}" table ${table}, merged by natural key into the shared table, changed on the source during the online run (a Django migration?)`,
        DDL_HINT,
      );
    }
    if (!r && this.copiedShared.has(`${schema}\u0000${table}`)) {
      // Ignoring it would leave the target's copy stale (rows the application wrote meanwhile missing after the cut-over).
      throw new WantingError(
        `shared table ${schema}.${table}, copied to the separate target by this run, was written on the source during the online run; online mode does not carry changes of shared tables to a separate target`,
        `nothing written to the target is lost; revert this run (\`oasys-migrate revert\`, it drops the replication slot), then migrate in place, or with the writes to ${schema}.${table} stopped until the cut-over, or without --online`,
      );
    }
    return r;
  }
}

export interface Applied {
  changes: number;
  tenants: Set<string>;
  /** JSON [tenant schema, unified table] of every table a change was applied to: what the cut-over verifies. */
  pairs: Set<string>;
  /** A fence message of this run was in one of the transactions. */
  fence: boolean;
}

/**
 * Applies source transactions to the unified tables inside the caller's target transaction:
 * tenant column stamped, UPDATE/DELETE found by (tenant, source key), a TOASTed value the
 * update did not touch kept as it is. An UPDATE or DELETE that finds no row means the target
 * diverged from the source: it stops everything rather than going on silently.
 */
export async function applyTxns(client: pg.ClientBase, router: Router, txns: SourceTxn[], fenceContent: string): Promise<Applied> {
  const out: Applied = { changes: 0, tenants: new Set(), pairs: new Set(), fence: false };
  const plan = router.plan;
  // Rows of different tenants never reference each other (keys and foreign keys lead with the tenant):
  // each tenant's changes keep their commit order, and the tenant setting is set once per tenant.
  const byTenant = new Map<string, { route: Route; change: Exclude<Change, { kind: 'begin' | 'commit' | 'message' | 'truncate' }> | 'truncate' }[]>();
  const add = (route: Route, change: Exclude<Change, { kind: 'begin' | 'commit' | 'message' | 'truncate' }> | 'truncate') => {
    let list = byTenant.get(route.tenant);
    if (!list) byTenant.set(route.tenant, (list = []));
    list.push({ route, change });
  };
  for (const txn of txns) {
    for (const ch of txn.changes) {
      if (ch.kind === 'message') {
        if (ch.prefix === 'oasys_migrate' && ch.content === fenceContent) out.fence = true;
      } else if (ch.kind === 'truncate') {
        const routes = ch.relations.map((r) => router.route(r.schema, r.table)).filter((r): r is Route => r !== undefined);
        // Children first: a tenant-scoped foreign key holds at every statement.
        routes.sort((a, b) => (router.depths.get(b.table.target) ?? 0) - (router.depths.get(a.table.target) ?? 0));
        for (const r of routes) add(r, 'truncate');
      } else if (ch.kind !== 'begin' && ch.kind !== 'commit') {
        const r = router.route(ch.schema, ch.table);
        if (r) add(r, ch);
      }
    }
  }
  for (const [tenant, list] of byTenant) {
    // Under a FORCEd policy the owner writes only the tenant named by the setting.
    await client.query({ name: 'oasys_online_tenant', text: 'SELECT pg_catalog.set_config($1, $2, true)', values: [plan.rls.setting, list[0].route.tenantId] });
    for (let i = 0; i < list.length;) {
      const { route, change } = list[i];
      if (change === 'truncate') {
        await client.query(
          `DELETE FROM ${ident(plan.targetSchema, route.table.target)} WHERE ${ident(plan.tenantColumn)} = $1::${route.table.tenantColumnType}`,
          [route.tenantId],
        );
        i++;
        out.changes++;
        out.pairs.add(JSON.stringify([tenant, route.table.target]));
        continue;
      }
      const run = batchFrom(list, i, route, change);
      if (change.kind === 'update' && change.oldKey) await applyKeyChange(client, plan, route, change);
      else await applyBatch(client, plan, route, run);
      i += run.length;
      out.changes += run.length;
      out.pairs.add(JSON.stringify([tenant, route.table.target]));
    }
    out.tenants.add(tenant);
  }
  return out;
}

type RowChange = Extract<Change, { kind: 'insert' | 'update' | 'delete' }>;
export type Item = { route: Route; change: RowChange | 'truncate' };

/** Rows per statement: arrays of this many values are bound per column. */
const BATCH_ROWS = 2_000;

/**
 * The longest run from `i` that one statement may apply with the same result as applying its
 * changes one by one in commit order: consecutive changes of one kind to one table of one
 * tenant. INSERTs merge freely (constraints are checked per row or at the statement's end);
 * DELETEs by key merge (a key deleted twice is found short by the row count); UPDATEs merge only
 * when none changes its key, all set the same columns and no row is updated twice (a joined
 * UPDATE changes a row once). Anything else ends the run: nothing moves past another change.
 */
export function batchFrom(list: Item[], i: number, route: Route, first: RowChange): RowChange[] {
  const run: RowChange[] = [first];
  if (first.kind === 'update' && first.oldKey) return run;
  const shape = first.kind === 'update' ? updateShape(route, first) : '';
  const keys = new Set<string>();
  if (first.kind === 'update') keys.add(keyOf(route, first));
  for (let j = i + 1; j < list.length && run.length < BATCH_ROWS; j++) {
    const next = list[j];
    if (next.route !== route || next.change === 'truncate' || next.change.kind !== first.kind) break;
    if (next.change.kind === 'update') {
      if (next.change.oldKey || updateShape(route, next.change) !== shape) break;
      const k = keyOf(route, next.change);
      if (keys.has(k)) break;
      keys.add(k);
    }
    run.push(next.change);
  }
  return run;
}

/** The columns an UPDATE without a key change sets (in tuple order): TOASTed values it did not touch, generated columns and the key are not set. */
function updateShape(r: Route, ch: Extract<Change, { kind: 'update' }>): string {
  const key = r.table.sourceKey ?? [];
  return ch.tuple
    .filter((f) => f.value !== UNCHANGED && r.columns.get(f.name)?.generatedExpr === null && !key.includes(f.name))
    .map((f) => f.name)
    .join('\u0000');
}

function keyOf(r: Route, ch: Extract<Change, { kind: 'update' }>): string {
  return (r.table.sourceKey ?? []).map((k) => String(ch.tuple.find((f) => f.name === k)?.value ?? '')).join('\u0000');
}

const DDL_HINT = 'stop the application, revert this run (`oasys-migrate revert`, it drops the replication slot) and plan again';

function checkColumns(r: Route, ch: RowChange): void {
  const tuple = ch.kind === 'delete' ? [] : ch.tuple;
  for (const f of tuple) {
    if (!r.columns.has(f.name)) {
      throw new WantingError(
        `tenant "${r.tenant}" table ${r.table.source}: a change carries column "${f.name}", which the plan does not have: the table's definition changed on the source during the online run (DDL)`,
        DDL_HINT,
      );
    }
  }
}

/** The key values of an UPDATE or DELETE, in key order (its old key when it changed the key). */
function keyValues(r: Route, ch: Extract<Change, { kind: 'update' | 'delete' }>): string[] {
  const what = `tenant "${r.tenant}" table ${r.table.source}`;
  const key = r.table.sourceKey ?? [];
  if (key.length === 0) {
    throw new WantingError(
      `${what}: an ${ch.kind.toUpperCase()} of a table without a primary key cannot be applied`,
      '`plan --online` lists these tables (ONLINE_FROZEN)',
    );
  }
  const keySource = ch.oldKey ?? (ch.kind === 'update' ? ch.tuple : undefined);
  const keyFields = new Map((keySource ?? []).map((f) => [f.name, f]));
  return key.map((k) => {
    const f: Field | undefined = keyFields.get(k) ?? (ch.kind === 'update' ? ch.tuple.find((x) => x.name === k) : undefined);
    if (!f || f.value === null || f.value === UNCHANGED) {
      throw new WantingError(
        `${what}: a ${ch.kind.toUpperCase()} arrived without its key column "${k}" (the table's replica identity is not its primary key)`,
        'give the tenant tables REPLICA IDENTITY DEFAULT with a primary key, revert this run and start again',
      );
    }
    return f.value;
  });
}

function diverged(r: Route, kind: 'update' | 'delete', key: string[]): WantingError {
  const names = r.table.sourceKey ?? [];
  return new WantingError(
    `tenant "${r.tenant}" table ${r.table.source}: the source ${kind === 'update' ? 'updated' : 'deleted'} the row with ${names.map((k, i) => `${k} = ${key[i]}`).join(', ')}, which the unified table does not have: the target diverged from the source`,
    'revert this run (`oasys-migrate revert`, it drops the replication slot) and start again; report this as a bug if nothing else wrote to the unified tables',
  );
}

/**
 * One statement for a run of changes (see batchFrom): each column's values bound as one text
 * array (the type's output text, cast back as the one-row form did), so the statement's shape
 * does not depend on the number of rows and is prepared once. UPDATE and DELETE return the keys
 * they hit: each change must hit exactly one row, and the first that did not is named.
 */
async function applyBatch(client: pg.ClientBase, plan: Plan, r: Route, run: RowChange[]): Promise<void> {
  for (const ch of run) checkColumns(r, ch);
  const target = ident(plan.targetSchema, r.table.target);
  const tenantCol = ident(plan.tenantColumn);
  const tt = r.table.tenantColumnType;
  const first = run[0];
  if (first.kind === 'insert') {
    const copied = r.table.columns.filter((c) => c.generatedExpr === null);
    const arrays: (string | null)[][] = copied.map(() => []);
    for (const ch of run as Extract<Change, { kind: 'insert' }>[]) {
      const byName = new Map(ch.tuple.map((f) => [f.name, f]));
      copied.forEach((c, n) => {
        const f = byName.get(c.name);
        if (!f) {
          throw new WantingError(
            `tenant "${r.tenant}" table ${r.table.source}: an inserted row has no column "${c.name}": the table's definition changed on the source during the online run (DDL)`,
            DDL_HINT,
          );
        }
        arrays[n].push(f.value as string | null);
      });
    }
    const text =
      `INSERT INTO ${target} (${identList([plan.tenantColumn, ...copied.map((c) => c.name)])}) OVERRIDING SYSTEM VALUE ` +
      `SELECT $1::${tt}, ${copied.map((c, n) => valueSql(plan, r, c.name, `u.v${n}`, (p) => valueSql(plan, r, p, `u.v${copied.findIndex((x) => x.name === p)}`))).join(', ')} FROM unnest(${copied.map((_, n) => `$${n + 2}::text[]`).join(', ')}) AS u(${copied.map((_, n) => `v${n}`).join(', ')})`;
    await client.query({ name: statementName(text), text, values: [r.tenantId, ...arrays] });
    return;
  }
  const keyNames = r.table.sourceKey ?? [];
  const keys = (run as Extract<Change, { kind: 'update' | 'delete' }>[]).map((ch) => keyValues(r, ch));
  const keyArrays = keyNames.map((_, n) => keys.map((k) => k[n]));
  const keyCols = keyNames.map((k, n) => `u.k${n}`);
  const join = keyNames.map((k, n) => `t.${ident(k)} = ${keyCols[n]}::${r.columns.get(k)!.type}`).join(' AND ');
  const returning = `RETURNING ${keyNames.map((k) => `t.${ident(k)}::text`).join(', ')}`;
  let text: string;
  let values: unknown[];
  if (first.kind === 'delete') {
    text =
      `DELETE FROM ${target} AS t USING unnest(${keyNames.map((_, n) => `$${n + 2}::text[]`).join(', ')}) AS u(${keyNames.map((_, n) => `k${n}`).join(', ')}) ` +
      `WHERE t.${tenantCol} = $1::${tt} AND ${join} ${returning}`;
    values = [r.tenantId, ...keyArrays];
  } else {
    const cols = updateShape(r, first)
      .split('\u0000')
      .filter((c) => c !== '');
    if (cols.length === 0) return;
    const setArrays = cols.map((c) => (run as Extract<Change, { kind: 'update' }>[]).map((ch) => ch.tuple.find((f) => f.name === c)!.value as string | null));
    text =
      `UPDATE ${target} AS t SET ${cols.map((c, n) => `${ident(c)} = ${valueSql(plan, r, c, `u.v${n}`, (p) => (cols.includes(p) ? valueSql(plan, r, p, `u.v${cols.indexOf(p)}`) : `t.${ident(p)}`))}`).join(', ')} ` +
      `FROM unnest(${[...keyNames, ...cols].map((_, n) => `$${n + 2}::text[]`).join(', ')}) AS u(${[...keyNames.map((_, n) => `k${n}`), ...cols.map((_, n) => `v${n}`)].join(', ')}) ` +
      `WHERE t.${tenantCol} = $1::${tt} AND ${join} ${returning}`;
    values = [r.tenantId, ...keyArrays, ...setArrays];
  }
  const res = await client.query<Record<string, string>>({ name: statementName(text), text, values, rowMode: 'array' } as pg.QueryConfig);
  if (res.rowCount !== run.length) {
    const hit = new Set((res.rows as unknown as string[][]).map((row) => row.join('\u0000')));
    const missing = keys.find((k) => !hit.has(k.join('\u0000'))) ?? keys[0];
    throw diverged(r, first.kind, missing);
  }
}

/** An UPDATE that changed its key: alone, found by its old key (a later change may reuse that key). */
async function applyKeyChange(client: pg.ClientBase, plan: Plan, r: Route, ch: Extract<Change, { kind: 'update' }>): Promise<void> {
  checkColumns(r, ch);
  const key = r.table.sourceKey ?? [];
  const old = keyValues(r, ch);
  const values: (string | null)[] = [r.tenantId, ...old];
  const conds = [`${ident(plan.tenantColumn)} = $1::${r.table.tenantColumnType}`, ...key.map((k, n) => `${ident(k)} = $${n + 2}::${r.columns.get(k)!.type}`)];
  const sets: string[] = [];
  const param = new Map<string, string>();
  for (const f of ch.tuple) {
    const c = r.columns.get(f.name)!;
    if (f.value === UNCHANGED || c.generatedExpr !== null) continue;
    values.push(f.value);
    param.set(f.name, `$${values.length}::text`);
  }
  for (const [name, p] of param)
    sets.push(`${ident(name)} = ${valueSql(plan, r, name, p, (x) => (param.has(x) ? valueSql(plan, r, x, param.get(x)!) : ident(x)))}`);
  if (sets.length === 0) return;
  const text = `UPDATE ${ident(plan.targetSchema, r.table.target)} SET ${sets.join(', ')} WHERE ${conds.join(' AND ')}`;
  const res = await client.query({ name: statementName(text), text, values });
  if (res.rowCount !== 1) throw diverged(r, 'update', old);
}

/**
 * The value a column takes in the unified table, from its source text `raw` (an SQL expression of
 * type text; $1 is the tenant id): as the copy does (src/plan/merge.ts translatedCopySql), a column
 * referring to a merged lookup table takes the shared id from the mapping, and a GenericForeignKey's
 * object id of a merged model the shared object's id; `partner` gives the content type (its new,
 * shared id) the object id goes with.
 */
function valueSql(plan: Plan, r: Route, column: string, raw: string, partner?: (name: string) => string): string {
  const c = r.columns.get(column)!;
  const tr = r.table.translations?.find((x) => x.column === column);
  if (!tr) return `${raw}::${c.type}`;
  const tenant = `($1::${r.table.tenantColumnType})::text`;
  if (tr.genericOf !== undefined) {
    const ct = partner ? partner(tr.genericOf) : valueSql(plan, r, tr.genericOf, raw);
    return `COALESCE((SELECT mo.new_id::${c.type} FROM ${MERGE_OBJECTS} AS mo WHERE mo.tenant = ${tenant} AND mo.ct = (${ct})::text AND mo.old_id = ${raw}), ${raw}::${c.type})`;
  }
  const m = mergeMap(plan.merges).get(tr.merged)!;
  return `(SELECT m.new_id::${c.type} FROM ${mapTableSql(m)} AS m WHERE m.tenant = ${tenant} AND m.old_id = ${raw})`;
}

/** Prepared once per connection: the same statement shape repeats for every change of a table. */
function statementName(text: string): string {
  return 'oasys_online_' + createHash('sha1').update(text).digest('hex').slice(0, 24);
}
