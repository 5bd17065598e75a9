import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ident, identList } from '../db/ident.js';
import { WantingError } from '../errors.js';
import type { Plan, UnifiedColumn, UnifiedTable } from '../plan/model.js';
import { tableDepths } from '../copy/recopy.js';
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

interface Route {
  table: UnifiedTable;
  tenant: string;
  tenantId: string;
  columns: Map<string, UnifiedColumn>;
}

/** Where a change of `schema.table` goes: tenant tables of the plan; everything else is ignored. */
export class Router {
  private routes = new Map<string, Route>();
  readonly depths: Map<string, number>;
  constructor(readonly plan: Plan) {
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
    return this.routes.get(`${schema}\u0000${table}`);
  }
}

export interface Applied {
  changes: number;
  tenants: Set<string>;
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
  const out: Applied = { changes: 0, tenants: new Set(), fence: false };
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
    for (const { route, change } of list) {
      if (change === 'truncate') {
        await client.query(
          `DELETE FROM ${ident(plan.targetSchema, route.table.target)} WHERE ${ident(plan.tenantColumn)} = $1::${route.table.tenantColumnType}`,
          [route.tenantId],
        );
      } else await applyRow(client, plan, route, change);
      out.changes++;
    }
    out.tenants.add(tenant);
  }
  return out;
}

function where(r: Route, plan: Plan): string {
  return `${ident(plan.targetSchema, r.table.target)}`;
}

async function applyRow(client: pg.ClientBase, plan: Plan, r: Route, ch: Extract<Change, { kind: 'insert' | 'update' | 'delete' }>): Promise<void> {
  const what = `tenant "${r.tenant}" table ${r.table.source}`;
  const tuple = ch.kind === 'delete' ? [] : ch.tuple;
  for (const f of tuple) {
    if (!r.columns.has(f.name)) {
      throw new WantingError(
        `${what}: a change carries column "${f.name}", which the plan does not have: the table's definition changed on the source during the online run (DDL)`,
        'stop the application, revert this run (`oasys-migrate revert`, it drops the replication slot) and plan again',
      );
    }
  }
  const copied = r.table.columns.filter((c) => c.generatedExpr === null);
  const target = where(r, plan);
  const tenantCol = ident(plan.tenantColumn);
  if (ch.kind === 'insert') {
    const byName = new Map(tuple.map((f) => [f.name, f]));
    const missing = copied.filter((c) => !byName.has(c.name));
    if (missing.length > 0) {
      throw new WantingError(
        `${what}: an inserted row has no column "${missing[0].name}": the table's definition changed on the source during the online run (DDL)`,
        'stop the application, revert this run (`oasys-migrate revert`, it drops the replication slot) and plan again',
      );
    }
    const values: (string | null)[] = [r.tenantId];
    const exprs = [`$1::${r.table.tenantColumnType}`];
    for (const c of copied) {
      values.push(byName.get(c.name)!.value as string | null);
      exprs.push(`$${values.length}::${c.type}`);
    }
    const text = `INSERT INTO ${target} (${identList([plan.tenantColumn, ...copied.map((c) => c.name)])}) OVERRIDING SYSTEM VALUE VALUES (${exprs.join(', ')})`;
    await client.query({ name: statementName(text), text, values });
    return;
  }
  const key = r.table.sourceKey ?? [];
  if (key.length === 0) {
    throw new WantingError(
      `${what}: an ${ch.kind.toUpperCase()} of a table without a primary key cannot be applied`,
      '`plan --online` lists these tables (ONLINE_NO_KEY)',
    );
  }
  const keySource = ch.oldKey ?? (ch.kind === 'update' ? ch.tuple : undefined);
  const keyFields = new Map((keySource ?? []).map((f) => [f.name, f]));
  const values: (string | null)[] = [r.tenantId];
  const conds = [`${tenantCol} = $1::${r.table.tenantColumnType}`];
  for (const k of key) {
    const f: Field | undefined = keyFields.get(k) ?? (ch.kind === 'update' ? ch.tuple.find((x) => x.name === k) : undefined);
    if (!f || f.value === null || f.value === UNCHANGED) {
      throw new WantingError(
        `${what}: a ${ch.kind.toUpperCase()} arrived without its key column "${k}" (the table's replica identity is not its primary key)`,
        'give the tenant tables REPLICA IDENTITY DEFAULT with a primary key, revert this run and start again',
      );
    }
    values.push(f.value);
    conds.push(`${ident(k)} = $${values.length}::${r.columns.get(k)!.type}`);
  }
  let text: string;
  if (ch.kind === 'update') {
    const sets: string[] = [];
    for (const f of ch.tuple) {
      const c = r.columns.get(f.name)!;
      if (f.value === UNCHANGED || c.generatedExpr !== null) continue;
      // Without an old key the key did not change: not set (an identity ALWAYS column may not be).
      if (!ch.oldKey && key.includes(f.name)) continue;
      values.push(f.value);
      sets.push(`${ident(f.name)} = $${values.length}::${c.type}`);
    }
    if (sets.length === 0) return;
    text = `UPDATE ${target} SET ${sets.join(', ')} WHERE ${conds.join(' AND ')}`;
  } else {
    text = `DELETE FROM ${target} WHERE ${conds.join(' AND ')}`;
  }
  const res = await client.query({ name: statementName(text), text, values });
  if (res.rowCount !== 1) {
    throw new WantingError(
      `${what}: the source ${ch.kind === 'update' ? 'updated' : 'deleted'} the row with ${key.map((k, i) => `${k} = ${values[i + 1]}`).join(', ')}, which the unified table does not have: the target diverged from the source`,
      'revert this run (`oasys-migrate revert`, it drops the replication slot) and start again; report this as a bug if nothing else wrote to the unified tables',
    );
  }
}

/** Prepared once per connection: the same statement shape repeats for every change of a table. */
function statementName(text: string): string {
  return 'oasys_online_' + createHash('sha1').update(text).digest('hex').slice(0, 24);
}
