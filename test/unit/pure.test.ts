/** Small pure pieces the integration suite only reaches through a server. */
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/config/load.js';
import { copyWaves } from '../../src/copy/batch.js';
import { tableDepths } from '../../src/copy/recopy.js';
import { rlsPartsFor } from '../../src/plan/rls.js';
import { parseStoredPlan, storedPlanJson } from '../../src/plan/stored.js';
import { buildPlan } from '../../src/plan/build.js';
import { SETTINGS, col, discovery, pk, table } from '../support/catalog.js';
import type { Step, UnifiedTable } from '../../src/plan/model.js';

describe('parseDuration (--lock-timeout)', () => {
  it.each([
    ['5s', 5000],
    ['500ms', 500],
    ['2min', 120_000],
    ['1.5s', 1500],
    [250, 250],
  ] as const)('%s → %d ms', (raw, ms) => {
    expect(parseDuration(raw, '--lock-timeout')).toBe(ms);
  });
  it.each(['0', '-1s', 'soon', '2h', '61min'])('"%s" is a usage error naming the flag', (raw) => {
    expect(() => parseDuration(raw, '--lock-timeout')).toThrow(/--lock-timeout: .* is not a duration/);
  });
});

describe('rlsPartsFor', () => {
  it.each([
    ['a created table gets everything', { force: true }, {}, undefined, { enable: true, force: true, policy: true }],
    ['rls.force false: no FORCE', { force: false }, {}, undefined, { enable: true, force: false, policy: true }],
    [
      'a filled table that has it all: nothing',
      { force: true },
      {},
      { rlsEnabled: true, rlsForced: true, hasPolicy: true },
      { enable: false, force: false, policy: false },
    ],
    [
      'FORCE lifted for the run is put back even with rls.force false',
      { force: false },
      { liftForce: true },
      { rlsEnabled: true, rlsForced: true, hasPolicy: true },
      { enable: false, force: true, policy: false },
    ],
  ] as const)('%s', (_n, rls, t, existing, want) => {
    expect(rlsPartsFor(rls, t, existing)).toEqual(want);
  });
});

describe('copy order when foreign keys already exist', () => {
  const t = (target: string, extra: Partial<UnifiedTable> = {}) => ({ target, foreignKeys: [], action: 'fill', ...extra }) as unknown as UnifiedTable;
  const unit = (table: string): Step[] => [{ id: `copy:a:${table}`, phase: 'copy', table, sql: [] }];
  it('one wave when no filled table references another', () => {
    expect(copyWaves({ tables: [t('a'), t('b')] }, [unit('a'), unit('b')])).toHaveLength(1);
  });
  it('parents first: account, then txn and membership, then their child', () => {
    const tables = [t('child', { copyAfter: ['txn'] }), t('txn', { copyAfter: ['account'] }), t('membership', { copyAfter: ['account'] }), t('account')];
    const waves = copyWaves(
      { tables },
      tables.map((x) => unit(x.target)),
    );
    expect(waves.map((w) => w.map((u) => u[0].table).sort())).toEqual([['account'], ['membership', 'txn'], ['child']]);
    expect(Object.fromEntries(tableDepths({ tables, targetSchema: 'public' }))).toEqual({ child: 2, txn: 1, membership: 1, account: 0 });
  });
  it('a self-reference or a cycle does not loop', () => {
    const tables = [t('a', { copyAfter: ['a', 'b'] }), t('b', { copyAfter: ['a'] })];
    expect(
      copyWaves(
        { tables },
        tables.map((x) => unit(x.target)),
      ).flat(),
    ).toHaveLength(2);
  });
});

describe('the stored plan', () => {
  const plan = buildPlan(SETTINGS, discovery({ tenants: ['a'], tables: (s) => [table(s, 'x', [col('id', 'integer', { notNull: true })], [pk(['id'])])] }));
  const stored = JSON.parse(JSON.stringify(plan));
  it('reads back what was stored', () => {
    expect(parseStoredPlan(stored, 1, SETTINGS.rls)).toEqual(stored);
  });
  it('format 1 (no version, SQL in copy steps, no RLS settings) is upgraded with the given RLS settings', () => {
    const v1 = {
      ...stored,
      steps: stored.steps.map((s: Step) => (s.copy ? { ...s, copy: { ...s.copy, insertSelect: 'INSERT …', copyOut: '', copyIn: '' } } : s)),
    };
    delete v1.version;
    delete v1.rls;
    const read = parseStoredPlan(v1, 7, { setting: 'x.t', force: false });
    expect(read.rls).toEqual({ setting: 'x.t', force: false });
    expect(read.steps.find((s) => s.copy)!.copy).not.toHaveProperty('insertSelect');
  });
  it('a newer format is refused, naming the run', () => {
    expect(() => parseStoredPlan({ ...stored, version: 4 }, 4, SETTINGS.rls)).toThrow(/run #4 was recorded with plan format 4/);
  });
  it('format 2 (every copy step in full) is read as it was', () => {
    expect(parseStoredPlan({ ...stored, version: 2 }, 1, SETTINGS.rls)).toEqual(stored);
  });
  it('a damaged plan is refused with the path of the bad field', () => {
    expect(() => parseStoredPlan({ ...stored, tables: [{ ...stored.tables[0], action: 'merge' }] }, 5, SETTINGS.rls)).toThrow(
      /run #5 .* not valid \(tables\.0\.action/,
    );
  });
});

describe('storedPlanJson: runs of plain copy steps stored as one entry', () => {
  const many = buildPlan(
    SETTINGS,
    discovery({
      tenants: ['a', 'b', 'c', 'd'],
      tables: (s) => [
        table(s, 'x', [col('id', 'integer', { notNull: true })], [pk(['id'])]),
        table(s, 'y', [col('id', 'integer', { notNull: true })], [pk(['id'])]),
      ],
    }),
  );
  // One tenant's copy made unusual (a chunk): it must be stored whole and split the run around it.
  const odd = many.steps.findIndex((s) => s.id === 'copy:c:x');
  // Field by field, as chunkedCopy does: a plain copy step's fields are read from its copy, not spread.
  const was = many.steps[odd];
  many.steps[odd] = {
    phase: was.phase,
    table: was.table,
    tenant: was.tenant,
    sql: was.sql,
    effects: was.effects,
    id: 'copy:c:x#1',
    copy: { ...was.copy!, alone: true, range: { column: 'id', to: '10', chunk: 1, chunks: 2 } },
  };
  const text = storedPlanJson(many);
  const stored = JSON.parse(text);
  it('reads back exactly the plan that was stored', () => {
    expect(JSON.parse(JSON.stringify(parseStoredPlan(stored, 1, SETTINGS.rls)))).toEqual(JSON.parse(JSON.stringify(many)));
  });
  it('is compact: a copies entry per run, the unusual step whole', () => {
    const entries = stored.steps.filter((s: { copies?: unknown }) => s.copies);
    expect(entries.map((e: { copies: { targetTable: string; tenants: string[][] } }) => [e.copies.targetTable, e.copies.tenants.map((t) => t[0])])).toEqual([
      ['x', ['a', 'b']],
      ['x', ['d']],
      ['y', ['a', 'b', 'c', 'd']],
    ]);
    expect(stored.steps.some((s: Step) => s.id === 'copy:c:x#1' && s.copy?.range?.to === '10')).toBe(true);
    expect(text.length).toBeLessThan(JSON.stringify(many).length);
  });
  it('a damaged entry is refused with its path', () => {
    const bad = JSON.parse(text);
    bad.steps.find((s: { copies?: { tenants: unknown[] } }) => s.copies).copies.tenants[0] = ['a', 1, 'many'];
    expect(() => parseStoredPlan(bad, 9, SETTINGS.rls)).toThrow(/run #9 .* not valid \(steps\./);
  });
});
