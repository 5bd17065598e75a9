/**
 * Which changes of one tenant the follower merges into one statement (batchFrom): consecutive
 * changes of one kind to one table only, never an UPDATE that changes its key, never one row
 * updated twice, never UPDATEs that set different columns.
 */
import { describe, expect, it } from 'vitest';
import { buildPlan } from '../../src/plan/build.js';
import { batchFrom, Router, type Item } from '../../src/online/apply.js';
import { UNCHANGED, type Change, type Field } from '../../src/online/decode.js';
import { col, discovery, pk, table, SETTINGS } from '../support/catalog.js';

const plan = buildPlan(
  SETTINGS,
  discovery({
    tenants: ['acme'],
    tables: (s) => [
      table(s, 'a', [col('id', 'integer', { notNull: true }), col('v', 'text'), col('w', 'text')], [pk(['id'], 'a_pkey')]),
      table(s, 'b', [col('id', 'integer', { notNull: true }), col('v', 'text')], [pk(['id'], 'b_pkey')]),
    ],
  }),
);
const router = new Router(plan);
const f = (name: string, value: Field['value']): Field => ({ name, type: 'text', value });
const ins = (t: string, id: number): Change => ({ kind: 'insert', schema: 'acme', table: t, tuple: [f('id', String(id)), f('v', 'x'), f('w', 'y')] });
const del = (t: string, id: number): Change => ({ kind: 'delete', schema: 'acme', table: t, oldKey: [f('id', String(id))] });
const upd = (t: string, id: number, cols: Record<string, Field['value']> = { v: 'z' }, oldId?: number): Change => ({
  kind: 'update',
  schema: 'acme',
  table: t,
  tuple: [f('id', String(id)), ...Object.entries(cols).map(([k, v]) => f(k, v))],
  oldKey: oldId === undefined ? undefined : [f('id', String(oldId))],
});

/** The lengths of the statements a tenant's changes become. */
function runs(changes: Change[]): number[] {
  const items: Item[] = changes.map((c) => {
    const x = c as Extract<Change, { kind: 'insert' | 'update' | 'delete' }>;
    return { route: router.route(x.schema, x.table)!, change: x };
  });
  const out: number[] = [];
  for (let i = 0; i < items.length;) {
    const it = items[i];
    const n = batchFrom(items, i, it.route, it.change as Extract<Change, { kind: 'insert' | 'update' | 'delete' }>).length;
    out.push(n);
    i += n;
  }
  return out;
}

describe('batchFrom', () => {
  it('merges consecutive inserts, deletes and same-shaped updates of one table', () => {
    expect(runs([ins('a', 1), ins('a', 2), ins('a', 3), del('a', 4), del('a', 5), upd('a', 6), upd('a', 7)])).toEqual([3, 2, 2]);
  });
  it('never moves a change past another kind or another table: insert then delete of one row stays two statements', () => {
    expect(runs([ins('a', 1), del('a', 1), ins('a', 1)])).toEqual([1, 1, 1]);
    expect(runs([ins('a', 1), ins('b', 1), ins('a', 2)])).toEqual([1, 1, 1]);
  });
  it('an update of a key column goes alone; a row updated twice starts a new statement', () => {
    expect(runs([upd('a', 1), upd('a', 10, { v: 'k' }, 2), upd('a', 3)])).toEqual([1, 1, 1]);
    expect(runs([upd('a', 1), upd('a', 2), upd('a', 1), upd('a', 3)])).toEqual([2, 2]);
  });
  it('updates setting different columns (an unchanged TOASTed value is not set) are not merged', () => {
    expect(runs([upd('a', 1, { v: 'z', w: 'q' }), upd('a', 2, { v: 'z', w: UNCHANGED }), upd('a', 3, { v: 'z', w: UNCHANGED })])).toEqual([1, 2]);
  });
  it('at most 2,000 rows per statement', () => {
    expect(runs(Array.from({ length: 4500 }, (_, i) => ins('a', i)))).toEqual([2000, 2000, 500]);
  });
});
