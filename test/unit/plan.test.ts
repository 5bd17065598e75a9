/**
 * The planner without a database: catalog objects in, plan out. Table-driven
 * in the style of pgroll's operation tests: each case says what `run` would
 * execute (its steps), what it would leave behind (created and changed
 * objects) and what `revert` would undo (the scope derived from the steps).
 */
import { describe, expect, it } from 'vitest';
import { buildPlan } from '../../src/plan/build.js';
import type { Plan } from '../../src/plan/model.js';
import { revertScope } from '../../src/state/snapshot.js';
import { SETTINGS, col, discovery, fk, pk, table } from '../support/catalog.js';

const tenants = ['acme', 'globex'];
const account = (s: string) => table(s, 'account', [col('id', 'integer', { notNull: true, identity: 'd' }), col('name', 'text')], [pk(['id'], 'account_pkey')]);
const txn = (s: string) =>
  table(
    s,
    'txn',
    [col('id', 'bigint', { notNull: true, identity: 'd' }), col('account_id', 'integer', { notNull: true })],
    [pk(['id'], 'txn_pkey'), fk(['account_id'], { schema: s, table: 'account', columns: ['id'] })],
  );
const unifiedTxn = table(
  'public',
  'txn',
  [col('tenant_id', 'integer', { notNull: true }), col('id', 'bigint', { notNull: true }), col('account_id', 'integer', { notNull: true })],
  [],
  { rlsEnabled: true, rlsForced: true },
);

interface Case {
  name: string;
  d: Parameters<typeof discovery>[0];
  /** After run: the step ids of these phases, in order. */
  steps: Partial<Record<string, string[]>>;
  /** Statements some step must run (substring match), and ones no step may run. */
  runs?: string[];
  never?: string[];
  /** After revert: what the derived snapshot drops and restores. */
  revert: { dropsTables: string[]; dropsTypes?: string[]; restores: string[] };
  problems?: string[];
  check?: (p: Plan) => void;
}

const cases: Case[] = [
  {
    name: 'two tenants, two tables, created: composite keys, FKs and RLS; revert drops both tables',
    d: { tenants, tables: (s) => [account(s), txn(s)] },
    steps: {
      tables: ['table:account', 'table:txn'],
      copy: ['copy:acme:account', 'copy:globex:account', 'copy:acme:txn', 'copy:globex:txn'],
      'foreign-keys': ['fk:txn'],
      sequences: ['sequence:account', 'sequence:txn'],
      rls: ['rls:account', 'rls:txn'],
    },
    runs: [
      'PRIMARY KEY ("tenant_id", "id")',
      'FOREIGN KEY ("tenant_id", "account_id") REFERENCES "public"."account" ("tenant_id", "id")',
      'FORCE ROW LEVEL SECURITY',
      'CREATE POLICY tenant_isolation',
    ],
    revert: { dropsTables: ['"public"."account"', '"public"."txn"'], restores: [] },
  },
  {
    name: 'a pre-existing forced unified table, migrating role subject to RLS: FORCE lifted, put back by rls; revert restores it',
    d: {
      tenants,
      tables: (s) => [account(s), txn(s)],
      publicTables: [unifiedTxn],
      policies: [['public', 'txn', ['tenant_isolation']]],
      role: { name: 'owner', superuser: false, bypassRls: false },
    },
    steps: { rls: ['rls:account', 'rls:txn'] },
    runs: ['ALTER TABLE "public"."txn" FORCE ROW LEVEL SECURITY'],
    never: ['ALTER TABLE "public"."txn" ENABLE ROW LEVEL SECURITY', 'CREATE POLICY tenant_isolation ON "public"."txn"'],
    revert: { dropsTables: ['"public"."account"'], restores: ['txn'] },
    check: (p) => {
      const t = p.tables.find((x) => x.target === 'txn')!;
      expect(t.action).toBe('fill');
      expect(t.liftForce).toBe(true);
      expect(t.existing).toMatchObject({ rlsEnabled: true, rlsForced: true, policies: ['tenant_isolation'] });
      // Its foreign key to account already exists? Not here: copyAfter only follows the target's own keys.
      expect(p.problems.find((x) => x.code === 'MIGRATING_ROLE')?.message).toContain('FORCE is lifted for the owner on txn');
    },
  },
  {
    name: 'the same pre-existing table as a superuser: nothing lifted, nothing to put back',
    d: { tenants, tables: (s) => [account(s), txn(s)], publicTables: [unifiedTxn], policies: [['public', 'txn', ['tenant_isolation']]] },
    steps: { rls: ['rls:account'] },
    revert: { dropsTables: ['"public"."account"'], restores: ['txn'] },
    check: (p) => expect(p.tables.find((x) => x.target === 'txn')!.liftForce).toBeUndefined(),
  },
  {
    name: 'a tenant lacking the unique key the others have: blocking DRIFT_CONSTRAINT',
    d: {
      tenants: ['a', 'b', 'c'],
      tables: (s) => [
        table(
          s,
          'item',
          [col('id', 'integer', { notNull: true }), col('code', 'text')],
          [pk(['id']), ...(s === 'c' ? [] : [{ ...pk(['code'], 'item_code_key'), kind: 'u' as const }])],
        ),
      ],
    },
    steps: { copy: ['copy:a:item', 'copy:b:item', 'copy:c:item'] },
    revert: { dropsTables: ['"public"."item"'], restores: [] },
    problems: ['DRIFT_CONSTRAINT'],
  },
];

describe('buildPlan (no database)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const plan = buildPlan(SETTINGS, discovery(c.d));
      for (const [phase, ids] of Object.entries(c.steps))
        expect(
          plan.steps.filter((s) => s.phase === phase).map((s) => s.id),
          phase,
        ).toEqual(ids);
      const sql = plan.steps.flatMap((s) => s.sql).join('\n');
      for (const s of c.runs ?? []) expect(sql).toContain(s);
      for (const s of c.never ?? []) expect(sql).not.toContain(s);
      const scope = revertScope(plan);
      expect(
        scope
          .filter((e) => e.kind === 'creates-table')
          .map((e) => (e as { object: string }).object)
          .sort(),
      ).toEqual([...c.revert.dropsTables].sort());
      expect(scope.filter((e) => e.kind === 'creates-type').map((e) => (e as { object: string }).object)).toEqual(c.revert.dropsTypes ?? []);
      expect(scope.filter((e) => e.kind === 'changes-table').map((e) => (e as { table: string }).table)).toEqual(c.revert.restores);
      const blocking = plan.problems.filter((p) => p.severity === 'error').map((p) => p.code);
      expect(blocking).toEqual(c.problems ?? []);
      c.check?.(plan);
    });
  }

  it('every step that touches a pre-existing table declares it, so revert cannot miss a phase', () => {
    const plan = buildPlan(
      SETTINGS,
      discovery({ tenants, tables: (s) => [account(s), txn(s)], publicTables: [unifiedTxn], policies: [['public', 'txn', ['tenant_isolation']]] }),
    );
    const onFilled = plan.steps.filter((s) => s.table === 'txn' && s.phase !== 'analyze');
    expect(onFilled.map((s) => s.phase)).toEqual(['tables', 'copy', 'copy', 'indexes']);
    for (const s of onFilled) expect(s.effects, s.id).toEqual([{ kind: 'changes-table', table: 'txn' }]);
  });

  it('RLS comes after the sequence reset and ANALYZE: the owner must still see every row then', () => {
    const plan = buildPlan(SETTINGS, discovery({ tenants, tables: (s) => [account(s)] }));
    const phases = [...new Set(plan.steps.map((s) => s.phase))];
    expect(phases.slice(-3)).toEqual(['sequences', 'analyze', 'rls']);
  });

  it('copy steps carry no SQL: 10,000 tenants do not store 10,000 statements per table', () => {
    const plan = buildPlan(SETTINGS, discovery({ tenants: Array.from({ length: 50 }, (_, i) => `t${i}`), tables: (s) => [account(s)] }));
    const copies = plan.steps.filter((s) => s.phase === 'copy');
    expect(copies).toHaveLength(50);
    expect(copies.every((s) => s.sql.length === 0 && !('insertSelect' in s.copy!))).toBe(true);
    expect(JSON.stringify(copies[0]).length).toBeLessThan(400);
  });

  it("the plan carries its format version and the run's RLS settings", () => {
    const plan = buildPlan({ ...SETTINGS, rls: { setting: 'my.tenant', force: false } }, discovery({ tenants, tables: (s) => [account(s)] }));
    expect(plan.version).toBe(3);
    expect(plan.rls).toEqual({ setting: 'my.tenant', force: false });
    expect(plan.steps.flatMap((s) => s.sql).join('\n')).not.toContain('FORCE ROW LEVEL SECURITY');
  });
});
