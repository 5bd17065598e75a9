/**
 * Citus readiness and distribution in the planner (issue 15), without a database: the CITUS_* problems
 * as warnings for a plain target and as errors where a Citus target cannot take them, and on a Citus
 * target the distribute phase, the policy form and the foreign keys after distribution.
 */
import { describe, expect, it } from 'vitest';
import { buildPlan } from '../../src/plan/build.js';
import { catalog, col, discovery, fk, pk, table, SETTINGS } from '../support/catalog.js';
import type { Discovery } from '../../src/discover/discover.js';

const tenants = ['acme', 'globex'];
const account = (s: string) =>
  table(
    s,
    'account',
    [col('id', 'integer', { notNull: true, identity: 'd' }), col('user_id', 'integer')],
    [pk(['id'], 'account_pkey'), fk(['user_id'], { schema: 'public', table: 'auth_user', columns: ['id'] })],
  );
const txn = (s: string) =>
  table(
    s,
    'txn',
    [col('id', 'bigint', { notNull: true, identity: 'd' }), col('account_id', 'integer')],
    [pk(['id'], 'txn_pkey'), { ...fk(['account_id'], { schema: s, table: 'account', columns: ['id'] }), onDelete: 'n' }],
  );
const authUser = table('public', 'auth_user', [col('id', 'integer', { notNull: true })], [pk(['id'], 'auth_user_pkey')]);
/** A shared table that points into a tenant schema: Citus cannot make it a reference table. */
const shared = table(
  'public',
  'report',
  [col('id', 'integer'), col('account_id', 'integer')],
  [fk(['account_id'], { schema: 'acme', table: 'account', columns: ['id'] })],
);

function d(extra: Partial<Discovery> = {}): Discovery {
  const x = discovery({ tenants, tables: (s) => [account(s), txn(s)], publicTables: [authUser, shared] });
  return { ...x, ...extra };
}

/** A separate Citus target that has none of the shared tables: they are copied and made reference tables. */
function citusTarget(): Discovery {
  const x = d();
  const target = catalog([]);
  target.relationNames.set('public', new Set());
  return { ...x, sameDatabase: false, target, citus: { version: '13.2-1', reference: [] } };
}

const codes = (p: { problems: { code: string; severity: string }[] }, severity: string) =>
  p.problems.filter((x) => x.severity === severity && x.code.startsWith('CITUS_')).map((x) => x.code);

describe('Citus readiness', () => {
  it('a plain target: what would block distribution later is a warning, what Citus treats differently info', () => {
    const plan = buildPlan(SETTINGS, d());
    expect(plan.citus).toBeUndefined();
    expect(codes(plan, 'error')).toEqual([]);
    expect(new Set(codes(plan, 'warning'))).toEqual(new Set(['CITUS_SHARED_REFERENCES_TENANT', 'CITUS_FK_ACTION', 'CITUS_TENANT_ID_TYPE']));
    expect(new Set(codes(plan, 'info'))).toEqual(new Set(['CITUS_SEQUENCE', 'CITUS_POLICY_FORM']));
    const fkAction = plan.problems.find((p) => p.code === 'CITUS_FK_ACTION')!;
    expect(fkAction.message).toContain('ON DELETE SET NULL');
    expect(fkAction.hint).toBeTruthy();
    // Plain PostgreSQL keeps the InitPlan form and no distribute phase.
    const sql = plan.steps.flatMap((s) => s.sql).join('\n');
    expect(sql).toContain('(SELECT NULLIF(pg_catalog.current_setting(');
    expect(plan.steps.some((s) => s.phase === 'distribute')).toBe(false);
  });

  it('a Citus target: the same findings block the run where Citus refuses them', () => {
    const plan = buildPlan(SETTINGS, citusTarget());
    expect(new Set(codes(plan, 'error'))).toEqual(new Set(['CITUS_SHARED_REFERENCES_TENANT', 'CITUS_FK_ACTION']));
    expect(codes(plan, 'info')).toContain('CITUS_TARGET');
    expect(codes(plan, 'info')).not.toContain('CITUS_POLICY_FORM');
  });

  it('--distribute citus without the extension is blocking', () => {
    const plan = buildPlan({ ...SETTINGS, distribute: 'citus' }, d());
    expect(codes(plan, 'error')).toContain('CITUS_NOT_INSTALLED');
  });

  it('a pre-existing shared table that is not a reference table is refused on Citus', () => {
    const x = d({ citus: { version: '13.2-1', reference: [] } });
    const plan = buildPlan(SETTINGS, x);
    expect(plan.problems.some((p) => p.code === 'CITUS_FILL_UNSUPPORTED' && p.table === 'public.auth_user' && p.severity === 'error')).toBe(true);
    const ok = buildPlan(SETTINGS, d({ citus: { version: '13.2-1', reference: ['public.auth_user'] } }));
    expect(ok.problems.some((p) => p.code === 'CITUS_FILL_UNSUPPORTED')).toBe(false);
  });
});

describe('Citus distribution steps', () => {
  const plan = buildPlan(SETTINGS, citusTarget());

  it('reference tables first, then every unified table colocated with the first, referenced tables before referencing ones', () => {
    expect(plan.citus).toEqual({ distributed: ['account', 'txn'], reference: ['public.auth_user'], policy: 'direct' });
    const dist = plan.steps.filter((s) => s.phase === 'distribute');
    expect(dist.map((s) => s.id)).toEqual(['distribute:public.auth_user', 'distribute:account', 'distribute:txn']);
    expect(dist[0].sql[0]).toBe(`SELECT create_reference_table('"public"."auth_user"')`);
    expect(dist[1].sql[0]).toBe(`SELECT create_distributed_table('"public"."account"', 'tenant_id', colocate_with => 'default')`);
    expect(dist[2].sql[0]).toBe(`SELECT create_distributed_table('"public"."txn"', 'tenant_id', colocate_with => '"public"."account"')`);
  });

  it('the phases: tables, distribute, copy … foreign keys (sequential) after distribution, the policy without a sub-select', () => {
    const phases = [...new Set(plan.steps.map((s) => s.phase))];
    expect(phases.indexOf('distribute')).toBeGreaterThan(phases.indexOf('tables'));
    expect(phases.indexOf('distribute')).toBeLessThan(phases.indexOf('copy'));
    expect(phases.indexOf('foreign-keys')).toBeGreaterThan(phases.indexOf('distribute'));
    const fks = plan.steps.filter((s) => s.phase === 'foreign-keys');
    for (const s of fks) expect(s.sql[0]).toBe(`SET LOCAL citus.multi_shard_modify_mode TO 'sequential'`);
    const rls = plan.steps
      .filter((s) => s.phase === 'rls')
      .flatMap((s) => s.sql)
      .join('\n');
    expect(rls).toContain(`USING ("tenant_id" = NULLIF(pg_catalog.current_setting('app.current_tenant', true), '')::integer)`);
    expect(rls).not.toContain('(SELECT');
  });
});
