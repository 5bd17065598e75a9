/**
 * Fault injection (issue 6, item 1): `revert` straight after a kill -9 of
 * `run`, without resuming it first — the partial run (some tables created,
 * some tenants copied, some tables with RLS) is undone exactly: the target's
 * fingerprint equals the one taken before the run. A new run then works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PHASE_SCENARIOS,
  cliExpect,
  dbRegistry,
  exactMigration,
  expectStoppedCleanly,
  fixtureTemplate,
  fpDiff,
  fingerprint,
  latestRun,
  stopRunIn,
  targetFingerprint,
  type FixtureDb,
} from '../support/faults.js';

const reg = dbRegistry();
let tpl: { make: () => Promise<FixtureDb> };
beforeAll(async () => {
  tpl = await fixtureTemplate('krev', reg);
});
afterAll(() => reg.dropAll());

describe('revert straight after a kill -9, without resuming', () => {
  for (const phase of ['tables', 'copy', 'keys', 'rls', 'verify']) {
    it(`killed in ${phase}: revert --yes restores the pre-run target${phase === 'copy' ? '; a new run then completes exactly' : ''}`, async () => {
      const sc = PHASE_SCENARIOS.find((s) => s.phase === phase)!;
      const f = await tpl.make();
      const s = await stopRunIn(f.url, sc, 'SIGKILL', ['--concurrency', '2']);
      await expectStoppedCleanly(f, 'SIGKILL', s, `in ${phase}`);
      await cliExpect(['revert', '--yes', '--source', f.url], 0);
      expect(fpDiff(f.targetFp, await targetFingerprint(f.url, f.tenantSchemas)), 'target after revert of the crashed run = before it').toEqual([]);
      expect((await latestRun(f.url))?.state).toBe('reverted');
      expect(fpDiff(f.tenantFp, await fingerprint(f.url, { only: f.tenantSchemas }))).toEqual([]);
      if (phase === 'copy') {
        await cliExpect(['run', '--source', f.url, '--concurrency', '2'], 0);
        expect(await exactMigration(f.url, f.info.tenants)).toEqual([]);
        expect(fpDiff(f.tenantFp, await fingerprint(f.url, { only: f.tenantSchemas }))).toEqual([]);
      }
    });
  }
});
