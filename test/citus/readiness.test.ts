/**
 * Citus readiness on the suite's fixtures (issue 15 "Done means"): `plan` against plain PostgreSQL lists
 * what would matter when distributing the result later, with CITUS_* codes; findings Citus refuses are
 * warnings there; `--distribute citus` on a server without the extension is blocking. Runs on the
 * suite's own server (no Citus needed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFixture, type FixtureInfo } from '../../fixtures/generate.js';
import { createTestDatabase } from '../support/db.js';
import { parseJson, qi, runCli, show, sql } from '../support/cli.js';

type Problem = { severity: string; code: string; table?: string; message: string; hint?: string };

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let info: FixtureInfo;

beforeAll(async () => {
  db = await createTestDatabase('citus_ready');
  info = await generateFixture(db.url, { rowsPerTable: 5, partitioned: true });
  // What Citus refuses: ON DELETE SET NULL over the tenant column's composite key, and a shared table pointing into a tenant.
  for (const t of info.tenants) {
    await sql(
      db.url,
      `ALTER TABLE ${qi(t.schema, 'accounts_transaction')} DROP CONSTRAINT IF EXISTS txn_account_setnull,
         ADD CONSTRAINT txn_account_setnull FOREIGN KEY (account_id) REFERENCES ${qi(t.schema, 'accounts_account')} (id) ON DELETE SET NULL`,
    );
  }
  await sql(db.url, `CREATE TABLE public.shared_report (id int PRIMARY KEY, account_id int REFERENCES ${qi(info.tenants[0].schema, 'accounts_account')} (id))`);
});

afterAll(async () => {
  await db?.drop();
});

describe('plan lists Citus readiness on the fixtures', () => {
  it('with codes, severities and what to do', async () => {
    const r = await runCli(['plan', '--source', db.url, '--json']);
    expect(r.code, show(r)).toBe(0);
    const problems = parseJson<{ problems: Problem[] }>(r).problems.filter((p) => p.code.startsWith('CITUS_'));
    const of = (code: string) => problems.filter((p) => p.code === code);
    expect(of('CITUS_FK_ACTION').map((p) => [p.severity, p.table])).toEqual([['warning', 'accounts_transaction']]);
    expect(of('CITUS_FK_ACTION')[0].message).toContain('txn_account_setnull');
    expect(of('CITUS_SHARED_REFERENCES_TENANT').map((p) => [p.severity, p.table])).toEqual([['warning', 'public.shared_report']]);
    expect(of('CITUS_PARTITIONED').map((p) => p.table)).toEqual(['events']);
    expect(of('CITUS_SEQUENCE').length).toBeGreaterThan(0);
    expect(of('CITUS_POLICY_FORM').length).toBe(1);
    for (const p of problems) expect(p.hint ?? '', `${p.code} says what to do`).not.toBe('');
    expect(problems.every((p) => p.severity !== 'error')).toBe(true);
  });

  it('--distribute citus against a server without the extension is blocking (exit 1)', async () => {
    const r = await runCli(['plan', '--source', db.url, '--distribute', 'citus', '--json']);
    expect(r.code, show(r)).toBe(1);
    const problems = parseJson<{ problems: Problem[] }>(r).problems;
    expect(problems.filter((p) => p.severity === 'error').map((p) => p.code)).toEqual(
      expect.arrayContaining(['CITUS_NOT_INSTALLED', 'CITUS_FK_ACTION', 'CITUS_SHARED_REFERENCES_TENANT']),
    );
  });
});
