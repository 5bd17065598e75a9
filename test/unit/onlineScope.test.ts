/**
 * What the cut-over verifies (changedScope): only the (tenant, table) pairs with applied changes,
 * and the frozen tables (no key: copied again at the cut-over) of every changed tenant.
 */
import { describe, expect, it } from 'vitest';
import { buildPlan } from '../../src/plan/build.js';
import { changedScope } from '../../src/online/cutover.js';
import { col, discovery, pk, table, SETTINGS } from '../support/catalog.js';

const tenants = ['acme', 'globex', 'initech'];
const plan = buildPlan(
  SETTINGS,
  discovery({
    tenants,
    tables: (s) => [
      table(s, 'account', [col('id', 'integer', { notNull: true })], [pk(['id'], 'account_pkey')]),
      table(s, 'txn', [col('id', 'bigint', { notNull: true })], [pk(['id'], 'txn_pkey')]),
      table(s, 'log', [col('at', 'timestamptz')]),
    ],
  }),
);
const pair = (tenant: string, t: string) => JSON.stringify([tenant, t]);
const scoped = (changed: string[], pairs: string[] | null) => Object.fromEntries(changedScope(plan, changed, pairs).tables.map((t) => [t.target, t.tenants]));

describe('changedScope', () => {
  it('keeps only the changed pairs, and the frozen table of each changed tenant', () => {
    expect(scoped(['acme', 'globex'], [pair('acme', 'account'), pair('globex', 'txn'), pair('acme', 'txn')])).toEqual({
      account: ['acme'],
      txn: ['acme', 'globex'],
      log: ['acme', 'globex'],
    });
  });
  it('a tenant schema name that looks like JSON or has quotes stays one tenant', () => {
    const odd = 'a"],["b';
    const p = buildPlan(
      SETTINGS,
      discovery({ tenants: [odd, 'b'], tables: (s) => [table(s, 'account', [col('id', 'integer', { notNull: true })], [pk(['id'], 'account_pkey')])] }),
    );
    expect(changedScope(p, [odd], [pair(odd, 'account')]).tables.map((t) => t.tenants)).toEqual([[odd]]);
  });
  it('nothing changed: nothing to verify; pairs not journaled (an earlier version): the whole plan', () => {
    expect(scoped([], [])).toEqual({});
    expect(changedScope(plan, ['acme'], null)).toBe(plan);
  });
});
