/**
 * Fault injection (issue 6, item 1): kill -9 of the real CLI in every phase of
 * `run` — DDL, copy, keys, index build, foreign keys, RLS, sequence reset,
 * ANALYZE, verification — and during `revert`; each phase is reached
 * deterministically by a conflicting lock held from another connection (see
 * PHASE_SCENARIOS in helpers.ts). After each: the journal matches the data,
 * tenant schemas are unchanged, `run` again converges to an exact migration
 * (independent per-tenant counts and hashes), and `revert` restores the
 * pre-run target. Also: `revert` straight after a crash, without resuming.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  PHASE_SCENARIOS,
  cliExpect,
  dbRegistry,
  defineKillSuite,
  exactMigration,
  expectStoppedCleanly,
  fixtureDb,
  fpDiff,
  fingerprint,
  latestRun,
  stopRunIn,
  targetFingerprint,
} from './helpers.js';

defineKillSuite('SIGKILL');

describe('revert straight after a kill -9, without resuming', () => {
  const reg = dbRegistry();
  afterAll(() => reg.dropAll());
  for (const phase of ['tables', 'copy', 'rls']) {
    it(`killed in ${phase}: revert --yes restores the pre-run target; a new run then completes exactly`, async () => {
      const sc = PHASE_SCENARIOS.find((s) => s.phase === phase)!;
      const f = await fixtureDb(`kr_${phase}`, reg);
      const s = await stopRunIn(f.url, sc, 'SIGKILL', ['--concurrency', '2']);
      await expectStoppedCleanly(f, 'SIGKILL', s, `in ${phase}`);
      await cliExpect(['revert', '--yes', '--source', f.url], 0);
      expect(fpDiff(f.targetFp, await targetFingerprint(f.url, f.tenantSchemas)), 'target after revert of the crashed run = before it').toEqual([]);
      expect((await latestRun(f.url))?.state).toBe('reverted');
      if (phase === 'copy') {
        await cliExpect(['run', '--source', f.url, '--concurrency', '2'], 0);
        expect(await exactMigration(f.url, f.info.tenants)).toEqual([]);
        expect(fpDiff(f.tenantFp, await fingerprint(f.url, { only: f.tenantSchemas }))).toEqual([]);
      }
    });
  }
});
