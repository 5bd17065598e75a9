/**
 * Fault injection (issue 6, item 1): a data error in one tenant's rows, met
 * while filling a PRE-EXISTING unified table (fixture option
 * preexistingUnified: public.accounts_membership with tenant_id and three rows
 * of tenant 999):
 *   - a unified row already holding the key a migrated row of tenant acme brings;
 *   - a CHECK constraint on the unified table that one row of globex violates;
 *   - a value the unified column's type rejects (varchar(20), a 40-character role of globex).
 * `run` must exit 1 naming the tenant, the table, the row key and the
 * column/constraint; that tenant's step must not be half-written; the other
 * tenants' steps of that table are done; after fixing the data, `run` again
 * exits 0 with exact data.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cliExpect,
  dbRegistry,
  exactMigration,
  expectNoSecret,
  fingerprint,
  fixtureTemplate,
  fpDiff,
  latestRun,
  latestSteps,
  qi,
  show,
  sql,
  tempDir,
  urlPassword,
  withClient,
  type FixtureDb,
} from '../support/faults.js';

const reg = dbRegistry();
let tpl: { make: () => Promise<FixtureDb> };
beforeAll(async () => {
  tpl = await fixtureTemplate('dataerr', reg, { preexistingUnified: true });
});
afterAll(() => reg.dropAll());

const ARGS = ['--concurrency', '2'];
const PREEXISTING = 3; // rows of tenant 999 in public.accounts_membership

interface Case {
  name: string;
  tenant: 'acme' | 'globex';
  /** Makes the data wrong; returns the key (account_id, user_id) of the offending row and what the message must name. */
  inject(f: FixtureDb, id: number): Promise<{ key: [number, number]; names: RegExp }>;
  /** Pre-existing unified rows of the failing tenant left after the failed step (the collider). */
  leftRows: number;
  fix(f: FixtureDb, id: number, key: [number, number]): Promise<void>;
}

async function firstMembership(url: string, schema: string): Promise<[number, number]> {
  const [r] = await sql<{ a: number; u: number }>(url, `SELECT account_id AS a, user_id AS u FROM ${qi(schema, 'accounts_membership')} ORDER BY 1, 2 LIMIT 1`);
  return [r.a, r.u];
}

const CASES: Case[] = [
  {
    name: 'a pre-existing unified row collides on the key with a row tenant acme brings',
    tenant: 'acme',
    async inject(f, id) {
      const key = await firstMembership(f.url, 'acme');
      await sql(f.url, `INSERT INTO public.accounts_membership (tenant_id, account_id, user_id, role) VALUES ($1, $2, $3, 'collider')`, [id, ...key]);
      return { key, names: /accounts_membership_pkey/ };
    },
    leftRows: 1,
    async fix(f, id, key) {
      await sql(f.url, `DELETE FROM public.accounts_membership WHERE tenant_id = $1 AND account_id = $2 AND user_id = $3`, [id, ...key]);
    },
  },
  {
    name: 'a CHECK constraint of the pre-existing unified table that one row of globex violates',
    tenant: 'globex',
    async inject(f) {
      const key = await firstMembership(f.url, 'globex');
      await sql(f.url, `ALTER TABLE public.accounts_membership ADD CONSTRAINT no_forbidden_role CHECK (role <> 'forbidden')`);
      await sql(f.url, `UPDATE globex.accounts_membership SET role = 'forbidden' WHERE account_id = $1 AND user_id = $2`, key);
      return { key, names: /no_forbidden_role/ };
    },
    leftRows: 0,
    async fix(f, _id, key) {
      await sql(f.url, `UPDATE globex.accounts_membership SET role = 'member' WHERE account_id = $1 AND user_id = $2`, key);
    },
  },
  {
    name: 'a value the unified column type rejects (varchar(20), one 40-character role in globex)',
    tenant: 'globex',
    async inject(f) {
      const key = await firstMembership(f.url, 'globex');
      await sql(f.url, `ALTER TABLE public.accounts_membership ALTER COLUMN role TYPE varchar(20)`);
      await sql(f.url, `UPDATE globex.accounts_membership SET role = repeat('x', 40) WHERE account_id = $1 AND user_id = $2`, key);
      return { key, names: /column\W+role\b/i };
    },
    leftRows: 0,
    async fix(f, _id, key) {
      await sql(f.url, `UPDATE globex.accounts_membership SET role = 'member' WHERE account_id = $1 AND user_id = $2`, key);
    },
  },
];

describe('a data error in one tenant', () => {
  for (const c of CASES) {
    it(`${c.name}: exit 1 naming tenant, table, row key and column/constraint; step not half-written; fix → run → exit 0, exact`, async () => {
      const f = await tpl.make();
      const tenant = f.info.tenants.find((t) => t.schema === c.tenant)!;
      const { key, names } = await c.inject(f, tenant.id);
      const tenantFp = await fingerprint(f.url, { only: f.tenantSchemas });

      const log = path.join(tempDir(), 'run.jsonl');
      const r = await cliExpect(['run', '--source', f.url, ...ARGS, '--log-file', log], 1);
      expectNoSecret(urlPassword(f.url), { 'the log file': existsSync(log) ? readFileSync(log, 'utf8') : '' });
      const err = r.stderr.slice(Math.max(0, r.stderr.search(/^error:/m)));
      expect(err, `names the tenant\n${show(r)}`).toContain(`"${c.tenant}"`);
      expect(err, `names the table\n${show(r)}`).toMatch(/accounts_membership/);
      expect(err, `names the row key (account_id, user_id) = (${key.join(', ')})\n${show(r)}`).toMatch(
        new RegExp(`\\(\\s*(?:\\d+\\s*,\\s*)?${key[0]}\\s*,\\s*${key[1]}\\s*\\)`),
      );
      expect(err, `names the column/constraint\n${show(r)}`).toMatch(names);
      expect((await latestRun(f.url))?.state).toBe('failed');

      // that tenant's step is not half-written
      const [{ n }] = await sql<{ n: string }>(f.url, `SELECT count(*)::text AS n FROM public.accounts_membership WHERE tenant_id = $1`, [tenant.id]);
      expect(Number(n), `rows of ${c.tenant} in public.accounts_membership after the failed step`).toBe(c.leftRows);
      const steps = (await latestSteps(f.url))!;
      const failing = steps.find((s) => s.step_id === `copy:${c.tenant}:accounts_membership`);
      expect(failing?.state, JSON.stringify(failing)).not.toBe('done');
      // the other tenants' steps of that table are done, with exactly their rows
      const others = steps.filter((s) => s.phase === 'copy' && s.table_name === 'accounts_membership' && s.tenant !== c.tenant);
      expect
        .soft(
          others.map((s) => `${s.step_id}: ${s.state}`),
          'the other tenants’ steps of accounts_membership',
        )
        .toEqual(others.map((s) => `${s.step_id}: done`));
      await withClient(f.url, async (db) => {
        for (const t of f.info.tenants.filter((x) => x.schema !== c.tenant)) {
          const src = await db.query(`SELECT count(*)::int AS n FROM ${qi(t.schema, 'accounts_membership')}`);
          const tgt = await db.query(`SELECT count(*)::int AS n FROM public.accounts_membership WHERE tenant_id = $1`, [t.id]);
          expect.soft(tgt.rows[0].n, `${t.schema}: rows in public.accounts_membership`).toBe(src.rows[0].n);
        }
      });
      expect(fpDiff(tenantFp, await fingerprint(f.url, { only: f.tenantSchemas })), 'tenant schemas unchanged by the failed run').toEqual([]);

      // fix the data, run again
      await c.fix(f, tenant.id, key);
      const fixedFp = await fingerprint(f.url, { only: f.tenantSchemas });
      await cliExpect(['run', '--source', f.url, ...ARGS], 0);
      expect(await exactMigration(f.url, f.info.tenants, undefined, { accounts_membership: PREEXISTING })).toEqual([]);
      const [{ kept }] = await sql<{ kept: string }>(f.url, `SELECT count(*)::text AS kept FROM public.accounts_membership WHERE tenant_id = 999`);
      expect(Number(kept), 'the pre-existing rows of tenant 999 stay').toBe(PREEXISTING);
      expect(fpDiff(fixedFp, await fingerprint(f.url, { only: f.tenantSchemas })), 'tenant schemas unchanged').toEqual([]);
      expect((await latestRun(f.url))?.state).toBe('completed');
    });
  }
});
