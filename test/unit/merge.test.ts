/**
 * Merge by natural key, planned without a database (SPEC §4 Django's lookup tables, §3
 * tables.merge): which same-name tables are merged, in which order, which tenant columns are
 * translated, what blocks, and what revert is told to undo.
 */
import { describe, expect, it } from 'vitest';
import { buildPlan } from '../../src/plan/build.js';
import { SETTINGS, col, discovery, fk, pk, table } from '../support/catalog.js';

const tenants = ['acme', 'globex'];
const serialId = () => col('id', 'integer', { notNull: true, defaultExpr: "nextval('x_id_seq'::regclass)" });
const ct = (s: string) =>
  table(
    s,
    'django_content_type',
    [serialId(), col('app_label', 'character varying(100)', { notNull: true }), col('model', 'character varying(100)', { notNull: true })],
    [pk(['id'])],
  );
const perm = (s: string) =>
  table(
    s,
    'auth_permission',
    [serialId(), col('name', 'text', { notNull: true }), col('content_type_id', 'integer', { notNull: true }), col('codename', 'text', { notNull: true })],
    [pk(['id']), fk(['content_type_id'], { schema: s, table: 'django_content_type', columns: ['id'] })],
  );
const tag = (s: string) =>
  table(
    s,
    'shop_tag',
    [serialId(), col('content_type_id', 'integer', { notNull: true }), col('object_id', 'integer', { notNull: true })],
    [pk(['id']), fk(['content_type_id'], { schema: s, table: 'django_content_type', columns: ['id'] })],
  );
const loose = (s: string) => table(s, 'shop_loose', [serialId(), col('content_type_id', 'integer'), col('object_id', 'integer')], [pk(['id'])]);
const pub = [ct('public'), perm('public')];

describe('merge planning', () => {
  it('django_content_type and auth_permission in public and the tenants: merged (dependencies first), not conflicts; references translated', () => {
    const plan = buildPlan(SETTINGS, discovery({ tenants, tables: (s) => [ct(s), perm(s), tag(s)], publicTables: pub }));
    expect(plan.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(plan.merges?.map((m) => [m.table, m.key, m.keyRefs])).toEqual([
      ['django_content_type', ['app_label', 'model'], {}],
      ['auth_permission', ['content_type_id', 'codename'], { content_type_id: 'django_content_type' }],
    ]);
    expect(plan.tables.map((t) => t.target)).toEqual(['shop_tag']);
    const t = plan.tables[0];
    // Its foreign key now points at the shared table, not tenant-scoped.
    expect(t.foreignKeys.map((f) => [f.refTable, f.tenantScoped])).toEqual([['"public"."django_content_type"', false]]);
    // object_id is the GenericForeignKey partner: translated when the content type is a merged model (auth.permission).
    expect(t.translations).toEqual([
      { column: 'content_type_id', merged: 'django_content_type' },
      { column: 'object_id', merged: 'django_content_type', genericOf: 'content_type_id' },
    ]);
    expect(plan.steps.filter((s) => s.phase === 'merge').map((s) => s.id)).toEqual(['merge:django_content_type', 'merge:auth_permission']);
    expect(plan.problems.filter((p) => p.code === 'MERGE').map((p) => p.table)).toEqual(['auth_permission', 'django_content_type']);
  });

  it('only in the tenants: an ordinary tenant table (nothing to merge into)', () => {
    const plan = buildPlan(SETTINGS, discovery({ tenants, tables: (s) => [ct(s), tag(s)] }));
    expect(plan.merges).toBeUndefined();
    expect(plan.tables.map((t) => t.target).sort()).toEqual(['django_content_type', 'shop_tag']);
    expect(plan.tables.find((t) => t.target === 'shop_tag')?.foreignKeys[0].tenantScoped).toBe(true);
  });

  it('a content-type column without a foreign key is never guessed at: MERGE_UNTRANSLATED names it', () => {
    const plan = buildPlan(SETTINGS, discovery({ tenants, tables: (s) => [ct(s), loose(s)], publicTables: [ct('public')] }));
    const w = plan.problems.filter((p) => p.code === 'MERGE_UNTRANSLATED');
    expect(w.map((p) => [p.severity, p.table, p.column])).toEqual([['warning', 'shop_loose', 'content_type_id']]);
    expect(plan.tables.find((t) => t.target === 'shop_loose')?.translations).toBeUndefined();
  });

  it('tables.merge asks for another table; what cannot be merged is MERGE_INVALID naming it', () => {
    const other = (s: string, extra: ReturnType<typeof col>[] = []) =>
      table(s, 'ledger', [serialId(), col('code', 'text', { notNull: true }), ...extra], [pk(['id'])]);
    const settings = (merge: Record<string, string[]>) => ({ ...SETTINGS, tables: { ...SETTINGS.tables, merge } });
    const ok = buildPlan(settings({ ledger: ['code'] }), discovery({ tenants, tables: (s) => [other(s)], publicTables: [other('public')] }));
    expect(ok.merges?.map((m) => [m.table, m.key, m.auto])).toEqual([['ledger', ['code'], false]]);
    expect(ok.problems.filter((p) => p.code === 'TARGET_CONFLICT')).toEqual([]);
    // Without tables.merge it is the conflict, whose hint offers each way out.
    const conflict = buildPlan(SETTINGS, discovery({ tenants, tables: (s) => [other(s)], publicTables: [other('public')] })).problems.find(
      (p) => p.code === 'TARGET_CONFLICT',
    )!;
    for (const way of ['tables.map', 'tables.merge', 'targetSchema', 'tables.exclude']) expect(conflict.hint).toContain(way);
    const invalid = (merge: Record<string, string[]>, pubTable = other('public')) =>
      buildPlan(settings(merge), discovery({ tenants, tables: (s) => [other(s)], publicTables: [pubTable] }))
        .problems.filter((p) => p.code === 'MERGE_INVALID')
        .map((p) => p.message);
    expect(invalid({ ledger: ['nope'] })[0]).toContain('"nope"');
    expect(invalid({ ledger: ['code'] }, other('public', [col('region', 'text', { notNull: true })]))[0]).toContain('"region"');
    expect(invalid({ ledger: ['code'] }, table('public', 'ledger', [col('id', 'integer', { notNull: true }), col('code', 'text')], [pk(['id'])]))[0]).toContain(
      'no serial or identity default',
    );
    expect(invalid({ ledger: ['code'] }, table('public', 'ledger', [serialId(), col('code', 'text')]))[0]).toContain('single-column primary key');
  });
});
