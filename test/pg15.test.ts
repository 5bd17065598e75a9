import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { generateFixture } from '../fixtures/generate.js';
import { loadConfig } from '../src/config/load.js';
import { revertCommand } from '../src/commands/revert.js';
import { runCommand } from '../src/commands/run.js';
import { verifyCommand } from '../src/commands/verify.js';
import { silentLogger } from '../src/log.js';
import { fingerprint, fingerprintDiff } from '../src/verify/fingerprint.js';
import { createTestDatabase } from './harness/db.js';
import { withClient } from './harness/client.js';

/**
 * The core flow on a second PostgreSQL major version (Debian's 15, when its
 * binaries are on the machine), in place and across servers and versions
 * (17 → 15), so neither the SQL nor the checksums depend on one version.
 */
const pg15 = inject('pg15AdminUrl');

const createOn = (server: string) => createTestDatabase('v15', server);


const log = silentLogger();

describe.skipIf(!pg15)('PostgreSQL 15 (Debian binaries)', () => {
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const d of drops) await d();
  });

  it('is really version 15', async () => {
    const v = await withClient(pg15, (c) => c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v"));
    expect(Number(v.rows[0].v)).toBeGreaterThanOrEqual(150000);
    expect(Number(v.rows[0].v)).toBeLessThan(160000);
  });

  it('migrates in place, verifies, and reverts exactly', async () => {
    const db = await createOn(pg15);
    drops.push(db.drop);
    const fx = await generateFixture(db.url, { tenants: 3, rowsPerTable: 30, preexistingUnified: true });
    const tenants = fx.tenants.map((t) => t.schema);
    const before = await withClient(db.url, (c) => fingerprint(c, tenants));
    const cfg = loadConfig({ source: db.url }, {}, '/');
    const run = await runCommand(cfg, log);
    expect(run.verify.ok).toBe(true);
    expect(run.verify.results.length).toBe(15);
    const pk = await withClient(db.url, (c) =>
      c.query<{ def: string }>(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'public.accounts_account'::regclass AND contype = 'p'`),
    );
    expect(pk.rows[0].def).toBe('PRIMARY KEY (tenant_id, id)');
    const v = await verifyCommand(cfg, log);
    expect(v.ok).toBe(true);
    const r = await revertCommand(cfg, log, async () => true);
    expect(r.reverted).toBe(true);
    const after = await withClient(db.url, (c) => fingerprint(c, tenants));
    expect(fingerprintDiff(before, after)).toEqual([]);
  });

  describe('across servers and versions: source on the embedded 17, target on 15', () => {
    let source: Awaited<ReturnType<typeof createTestDatabase>>;
    let target: { url: string; drop: () => Promise<void> };
    beforeAll(async () => {
      source = await createTestDatabase('v17src');
      target = await createOn(pg15);
      drops.push(source.drop, target.drop);
      await generateFixture(source.url, { tenants: 3, rowsPerTable: 30 });
    });

    it('copies with COPY streams, checksums agree across versions, and the source is never written', async () => {
      const srcBefore = await withClient(source.url, (c) => fingerprint(c, []));
      const cfg = loadConfig({ source: source.url, target: target.url }, {}, '/');
      const run = await runCommand(cfg, log);
      expect(run.verify.ok).toBe(true);
      // 3 tenants × 5 tables, plus the shared tables copied to the new target (registry, auth_user).
      expect(run.verify.results.filter((r) => r.tenant !== '(shared)')).toHaveLength(15);
      expect(run.verify.results.filter((r) => r.tenant === '(shared)').map((r) => r.table).sort()).toEqual(['public.auth_user', 'public.customers_client']);
      const n = await withClient(target.url, (c) => c.query<{ n: number }>('SELECT count(*)::int AS n FROM public.accounts_transaction'));
      expect(n.rows[0].n).toBe(90);
      const srcAfter = await withClient(source.url, (c) => fingerprint(c, []));
      expect(fingerprintDiff(srcBefore, srcAfter)).toEqual([]);
      const noState = await withClient(source.url, (c) => c.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'oasys_migrate'`));
      expect(noState.rowCount).toBe(0);
      const r = await revertCommand(cfg, log, async () => true);
      expect(r.reverted).toBe(true);
      const left = await withClient(target.url, (c) =>
        c.query(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND relkind = 'r'`),
      );
      expect(left.rows).toEqual([]);
    });
  });
});
