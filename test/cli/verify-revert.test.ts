/**
 * `verify`, `status` and `revert` from the outside (issue 4 "Done means";
 * SPEC §2, §4, §5, §6): tamperings are detected and named, undoing them is
 * clean again; `revert` restores the exact pre-run fingerprint of everything
 * outside the tenant schemas and `oasys_migrate` (plain fixture, pre-existing
 * unified table, and after a run killed with SIGKILL half-way).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/db.js';
import { generateFixture, type FixtureInfo, type FixtureOptions } from '../../fixtures/generate.js';
import {
  FIXTURE_TABLES,
  compareAll,
  fingerprint,
  holdTableLock,
  parseJson,
  runCli,
  show,
  sql,
  startCli,
  tempDir,
  tenantSchemas,
  waitForHalfWayCopy,
  waitNoToolSessions,
  type StatusDoc,
} from '../support/cli.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];
afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop().catch(() => undefined)));
});

const ROWS = 12;

interface VerifyDoc {
  ok: boolean;
  results: { tenant: string; table: string; sourceRows: number; targetRows: number; sourceChecksum: unknown; targetChecksum: unknown; ok: boolean }[];
}

async function setup(opts: FixtureOptions = {}): Promise<{ url: string; info: FixtureInfo; outsideFp: string[]; tenantFp: string[] }> {
  const db = await createTestDatabase('cliverify');
  dbs.push(db);
  const info = await generateFixture(db.url, { rowsPerTable: ROWS, ...opts });
  const outsideFp = await fingerprint(db.url, { exclude: [...tenantSchemas(info), 'oasys_migrate'] });
  const tenantFp = await fingerprint(db.url, { only: tenantSchemas(info) });
  return { url: db.url, info, outsideFp, tenantFp };
}

const outside = (url: string, info: FixtureInfo) => fingerprint(url, { exclude: [...tenantSchemas(info), 'oasys_migrate'] });

describe('verify and status after a run', () => {
  let url: string;
  let info: FixtureInfo;
  let outsideFp: string[];
  let tenantFp: string[];
  let acme: { schema: string; id: number };
  let globex: { schema: string; id: number };

  beforeAll(async () => {
    ({ url, info, outsideFp, tenantFp } = await setup());
    [acme, globex] = info.tenants;
    const r = await runCli(['run', '--source', url], { timeoutMs: 40_000 });
    expect(r.code, show(r)).toBe(0);
  });

  const verify = (...extra: string[]) => runCli(['verify', '--source', url, ...extra]);

  /** verify (human) exits 1 naming the table; verify --json marks exactly the expected (tenant, table) pairs. */
  async function expectMismatch(table: string, tenants: string[], check?: (doc: VerifyDoc) => void): Promise<void> {
    // both are read-only: run them side by side
    const [h, j] = await Promise.all([verify(), verify('--json')]);
    expect(h.code, show(h)).toBe(1);
    expect(h.stdout + h.stderr, 'human verify output names the table').toContain(table);
    expect(j.code, show(j)).toBe(1);
    const doc = parseJson<VerifyDoc>(j);
    expect(doc.ok).toBe(false);
    const bad = doc.results
      .filter((r) => !r.ok)
      .map((r) => `${r.tenant}/${r.table}`)
      .sort();
    expect(bad).toEqual(tenants.map((t) => `${t}/${table}`).sort());
    check?.(doc);
  }

  async function expectClean(): Promise<void> {
    const r = await verify();
    expect(r.code, show(r)).toBe(0);
  }

  const result = (doc: VerifyDoc, tenant: string, table: string) => doc.results.find((r) => r.tenant === tenant && r.table === table)!;

  it('verify exits 0 after the run; verify --json has ok and results[{tenant, table, sourceRows, targetRows, sourceChecksum, targetChecksum, ok}]', async () => {
    const [h, j] = await Promise.all([verify(), verify('--json')]);
    expect(h.code, show(h)).toBe(0);
    expect(j.code, show(j)).toBe(0);
    const doc = parseJson<VerifyDoc>(j);
    expect(doc.ok).toBe(true);
    for (const t of info.tenants) {
      for (const table of FIXTURE_TABLES) {
        const r = result(doc, t.schema, table);
        expect(r, `${t.schema}/${table}`).toBeDefined();
        expect(Object.keys(r)).toEqual(expect.arrayContaining(['tenant', 'table', 'sourceRows', 'targetRows', 'sourceChecksum', 'targetChecksum', 'ok']));
        expect(r.sourceRows).toBe(ROWS);
        expect(r.targetRows).toBe(ROWS);
        expect(r.sourceChecksum).toEqual(r.targetChecksum);
        expect(r.ok).toBe(true);
      }
    }
    // checksums differ between tenants (they cover the data, not just the count)
    const sums = new Set(info.tenants.map((t) => JSON.stringify(result(doc, t.schema, 'accounts_account').sourceChecksum)));
    expect(sums.size).toBe(info.tenants.length);
  });

  it('status --json: runs[{runId, state, startedAt, finishedAt}] and steps[{tenant, table, state, rows}] for every (tenant, table)', async () => {
    const [r, h] = await Promise.all([runCli(['status', '--json', '--source', url]), runCli(['status', '--source', url])]);
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson<StatusDoc>(r);
    expect(doc.runs).toHaveLength(1);
    const run = doc.runs[0];
    expect(run.runId).toBeDefined();
    expect(run.state).toBe('completed');
    expect(Number.isNaN(Date.parse(String(run.startedAt)))).toBe(false);
    expect(Number.isNaN(Date.parse(String(run.finishedAt)))).toBe(false);
    expect(Date.parse(String(run.finishedAt))).toBeGreaterThanOrEqual(Date.parse(String(run.startedAt)));
    for (const s of doc.steps) expect(Object.keys(s)).toEqual(expect.arrayContaining(['tenant', 'table', 'state', 'rows']));
    for (const t of info.tenants) {
      for (const table of FIXTURE_TABLES) {
        const s = doc.steps.find((x) => x.tenant === t.schema && x.table === table);
        expect(s, `step for ${t.schema}/${table}`).toBeDefined();
        expect(s!.state).toBe('done');
        expect(Number(s!.rows)).toBe(ROWS);
      }
    }
    // human status works too
    expect(h.code, show(h)).toBe(0);
    expect(h.stdout).toMatch(/completed/);
  });

  it('tampering 1 — changed values (a boolean flipped in acme, a string deep in a jsonb document in globex) → verify exits 1 naming accounts_account for both; undone → exit 0', async () => {
    const [row] = await sql<{ meta: string | null }>(url, `SELECT meta::text AS meta FROM public.accounts_account WHERE tenant_id = $1 AND id = 2`, [
      globex.id,
    ]);
    await sql(url, `UPDATE public.accounts_account SET active = NOT active WHERE tenant_id = $1 AND id = 3`, [acme.id]);
    await sql(
      url,
      `UPDATE public.accounts_account SET meta = '{"a": 1, "nested": {"b": [1, 2, {"c": null}], "s": "Zurich"}}' WHERE tenant_id = $1 AND id = 2`,
      [globex.id],
    );
    try {
      await expectMismatch('accounts_account', [acme.schema, globex.schema], (doc) => {
        for (const t of [acme.schema, globex.schema]) {
          const r = result(doc, t, 'accounts_account');
          expect(r.sourceRows).toBe(r.targetRows);
          expect(r.sourceChecksum).not.toEqual(r.targetChecksum);
        }
      });
    } finally {
      await sql(url, `UPDATE public.accounts_account SET active = NOT active WHERE tenant_id = $1 AND id = 3`, [acme.id]);
      await sql(url, `UPDATE public.accounts_account SET meta = $2::jsonb WHERE tenant_id = $1 AND id = 2`, [globex.id, row.meta]);
    }
    await expectClean();
  });

  it('tampering 2 — a deleted row → verify exits 1 naming LedgerEntry, tenant and both counts; --report writes Markdown; undone → exit 0', async () => {
    const [saved] = await sql<{ j: string }>(url, `SELECT row_to_json(t)::text AS j FROM public."LedgerEntry" t WHERE tenant_id = $1 AND id = 3`, [acme.id]);
    expect(saved).toBeDefined();
    await sql(url, `DELETE FROM public."LedgerEntry" WHERE tenant_id = $1 AND id = 3`, [acme.id]);
    try {
      await expectMismatch('LedgerEntry', [acme.schema], (doc) => {
        const r = result(doc, acme.schema, 'LedgerEntry');
        expect(r.sourceRows).toBe(ROWS);
        expect(r.targetRows).toBe(ROWS - 1);
      });
      const h = await verify();
      const out = h.stdout + h.stderr;
      expect(out).toContain('acme');
      expect(out).toContain(String(ROWS));
      expect(out).toContain(String(ROWS - 1));

      const report = path.join(tempDir(), 'r.md');
      const rep = await verify('--report', report);
      expect(rep.code, show(rep)).toBe(1);
      expect(existsSync(report), 'report written').toBe(true);
      const md = readFileSync(report, 'utf8');
      expect(md).toMatch(/^#/m); // a Markdown heading
      expect(md).toMatch(/^\|.*\|$/m); // a Markdown table
      expect(md).toContain('LedgerEntry');
      expect(md).toContain('acme');
      expect(md).toContain(String(ROWS - 1));
    } finally {
      await sql(url, `INSERT INTO public."LedgerEntry" SELECT * FROM json_populate_record(NULL::public."LedgerEntry", $1::json)`, [saved.j]);
    }
    await expectClean();
    // a clean report says so
    const report = path.join(tempDir(), 'clean.md');
    const rep = await verify('--report', report);
    expect(rep.code, show(rep)).toBe(0);
    expect(readFileSync(report, 'utf8')).toContain('LedgerEntry');
  });

  it('tampering 3 — a duplicated row in audit_log (no primary key) → verify exits 1 naming audit_log; undone → exit 0', async () => {
    const [ins] = await sql<{ ctid: string }>(
      url,
      `INSERT INTO public.audit_log SELECT * FROM public.audit_log WHERE ctid = (SELECT min(ctid) FROM public.audit_log WHERE tenant_id = $1) RETURNING ctid::text`,
      [acme.id],
    );
    try {
      await expectMismatch('audit_log', [acme.schema], (doc) => {
        expect(result(doc, acme.schema, 'audit_log').targetRows).toBe(ROWS + 1);
      });
    } finally {
      await sql(url, `DELETE FROM public.audit_log WHERE ctid = $1::tid`, [ins.ctid]);
    }
    await expectClean();
  });

  it('tampering 3b — one row duplicated and its twin deleted (same count) in audit_log → detected', async () => {
    // acme's audit_log: every 4th row repeats the previous one; take two distinct rows A and B, turn B into a copy of A
    const rows = await sql<{ ctid: string; r: string }>(
      url,
      `SELECT ctid::text, (ts, actor, payload)::text AS r FROM public.audit_log WHERE tenant_id = $1 ORDER BY ctid`,
      [acme.id],
    );
    const a = rows[0];
    const b = rows.find((x) => x.r !== a.r)!;
    const [savedB] = await sql<{ j: string }>(url, `SELECT row_to_json(t)::text AS j FROM public.audit_log t WHERE ctid = $1::tid`, [b.ctid]);
    const [newB] = await sql<{ ctid: string }>(
      url,
      `UPDATE public.audit_log t SET ts = s.ts, actor = s.actor, payload = s.payload FROM public.audit_log s WHERE t.ctid = $1::tid AND s.ctid = $2::tid RETURNING t.ctid::text`,
      [b.ctid, a.ctid],
    );
    try {
      await expectMismatch('audit_log', [acme.schema], (doc) => {
        const r = result(doc, acme.schema, 'audit_log');
        expect(r.targetRows).toBe(ROWS);
      });
    } finally {
      await sql(url, `DELETE FROM public.audit_log WHERE ctid = $1::tid`, [newB.ctid]);
      await sql(url, `INSERT INTO public.audit_log SELECT * FROM json_populate_record(NULL::public.audit_log, $1::json)`, [savedB.j]);
    }
    await expectClean();
  });

  it('tampering 4 — a row’s tenant_id changed to another tenant (accounts_membership) → verify exits 1 naming the table; undone → exit 0', async () => {
    const [row] = await sql<{ account_id: number; user_id: number }>(
      url,
      `SELECT a.account_id, a.user_id FROM public.accounts_membership a WHERE a.tenant_id = $1
          AND NOT EXISTS (SELECT 1 FROM public.accounts_membership b WHERE b.tenant_id = $2 AND b.account_id = a.account_id AND b.user_id = a.user_id)
        ORDER BY 1, 2 LIMIT 1`,
      [acme.id, globex.id],
    );
    expect(row, 'a membership of acme whose key is free in globex').toBeDefined();
    await sql(url, `UPDATE public.accounts_membership SET tenant_id = $2 WHERE tenant_id = $1 AND account_id = $3 AND user_id = $4`, [
      acme.id,
      globex.id,
      row.account_id,
      row.user_id,
    ]);
    try {
      await expectMismatch('accounts_membership', [acme.schema, globex.schema], (doc) => {
        expect(result(doc, acme.schema, 'accounts_membership').targetRows).toBe(ROWS - 1);
        expect(result(doc, globex.schema, 'accounts_membership').targetRows).toBe(ROWS + 1);
      });
    } finally {
      await sql(url, `UPDATE public.accounts_membership SET tenant_id = $1 WHERE tenant_id = $2 AND account_id = $3 AND user_id = $4`, [
        acme.id,
        globex.id,
        row.account_id,
        row.user_id,
      ]);
    }
    await expectClean();
  });

  it('tampering 4b — two rows swap tenants (counts unchanged, audit_log) → detected for both tenants', async () => {
    const [ra] = await sql<{ ctid: string }>(url, `SELECT min(ctid)::text AS ctid FROM public.audit_log WHERE tenant_id = $1`, [acme.id]);
    const [rb] = await sql<{ ctid: string }>(url, `SELECT min(ctid)::text AS ctid FROM public.audit_log WHERE tenant_id = $1`, [globex.id]);
    const [na] = await sql<{ ctid: string }>(url, `UPDATE public.audit_log SET tenant_id = $2 WHERE ctid = $1::tid RETURNING ctid::text`, [ra.ctid, globex.id]);
    const [nb] = await sql<{ ctid: string }>(url, `UPDATE public.audit_log SET tenant_id = $2 WHERE ctid = $1::tid RETURNING ctid::text`, [rb.ctid, acme.id]);
    try {
      await expectMismatch('audit_log', [acme.schema, globex.schema], (doc) => {
        for (const t of [acme.schema, globex.schema]) {
          const r = result(doc, t, 'audit_log');
          expect(r.sourceRows).toBe(r.targetRows);
        }
      });
    } finally {
      await sql(url, `UPDATE public.audit_log SET tenant_id = $2 WHERE ctid = $1::tid`, [na.ctid, acme.id]);
      await sql(url, `UPDATE public.audit_log SET tenant_id = $2 WHERE ctid = $1::tid`, [nb.ctid, globex.id]);
    }
    await expectClean();
  });

  it('a unified row stamped with an unknown tenant_id → verify exits 1 and reports it', async () => {
    await sql(url, `UPDATE public."LedgerEntry" SET tenant_id = 424242 WHERE tenant_id = $1 AND id = 5`, [acme.id]);
    try {
      const h = await verify();
      expect(h.code, show(h)).toBe(1);
      const out = h.stdout + h.stderr;
      expect(out).toContain('LedgerEntry');
      expect(out, 'the unknown tenant id is reported').toMatch(/424242|unknown tenant|outside (this|the) migration/i);
    } finally {
      await sql(url, `UPDATE public."LedgerEntry" SET tenant_id = $1 WHERE tenant_id = 424242 AND id = 5`, [acme.id]);
    }
    await expectClean();
  });

  it('revert without --yes and stdin not a terminal exits 2 and changes nothing (not even the journal)', async () => {
    const all = await fingerprint(url);
    const r = await runCli(['revert', '--source', url]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
    expect(await fingerprint(url)).toEqual(all);
  });

  it('revert --yes restores the exact pre-run fingerprint outside the tenant schemas; tenant schemas unchanged', async () => {
    // The tamperings above were committed writes after the run (undone by more writes): revert refuses to lose them…
    const refused = await runCli(['revert', '--yes', '--source', url]);
    expect(refused.code, show(refused)).toBe(1);
    expect(refused.stderr).toContain('revert refused: the unified tables were written after run #1 completed');
    // … until told to discard them.
    const r = await runCli(['revert', '--yes', '--discard-writes', '--source', url]);
    expect(r.code, show(r)).toBe(0);
    expect(await outside(url, info)).toEqual(outsideFp);
    expect(await fingerprint(url, { only: tenantSchemas(info) })).toEqual(tenantFp);
  });

  it('revert twice is harmless: exit 0, fingerprint still the pre-run one', async () => {
    const r = await runCli(['revert', '--yes', '--source', url]);
    expect(r.code, show(r)).toBe(0);
    expect(await outside(url, info)).toEqual(outsideFp);
  });

  it('status --json after revert records the run as reverted', async () => {
    const r = await runCli(['status', '--json', '--source', url]);
    expect(r.code, show(r)).toBe(0);
    const doc = parseJson<StatusDoc>(r);
    expect(doc.runs.map((x) => x.state)).toEqual(['reverted']);
  });

  it('after revert, a new run works (exit 0, exact data, verify ok)', async () => {
    const r = await runCli(['run', '--source', url], { timeoutMs: 40_000 });
    expect(r.code, show(r)).toBe(0);
    const { mismatches } = await compareAll(url, url, info.tenants);
    expect(mismatches).toEqual([]);
    const v = await verify();
    expect(v.code, show(v)).toBe(0);
    // and that run can be reverted to the same pre-run state again
    const rv = await runCli(['revert', '--yes', '--source', url]);
    expect(rv.code, show(rv)).toBe(0);
    expect(await outside(url, info)).toEqual(outsideFp);
    expect(await fingerprint(url, { only: tenantSchemas(info) })).toEqual(tenantFp);
  });
});

describe('revert with a pre-existing unified table (accounts_membership with tenant 999 rows)', () => {
  it('run then revert --yes restores the table’s rows, definition, keys and RLS flags exactly', async () => {
    const { url, info, outsideFp, tenantFp } = await setup({ preexistingUnified: true });
    const r = await runCli(['run', '--source', url], { timeoutMs: 40_000 });
    expect(r.code, show(r)).toBe(0);
    const [n] = await sql<{ n: string }>(url, 'SELECT count(*)::text AS n FROM public.accounts_membership');
    expect(Number(n.n)).toBe(3 + info.tenants.length * ROWS);
    const rv = await runCli(['revert', '--yes', '--source', url]);
    expect(rv.code, show(rv)).toBe(0);
    expect(await outside(url, info)).toEqual(outsideFp);
    expect(await fingerprint(url, { only: tenantSchemas(info) })).toEqual(tenantFp);
    const rv2 = await runCli(['revert', '--yes', '--source', url]);
    expect(rv2.code, show(rv2)).toBe(0);
    expect(await outside(url, info)).toEqual(outsideFp);
  });
});

for (const fixture of [
  { name: 'plain fixture', opts: {}, runAgain: false },
  { name: 'pre-existing unified table', opts: { preexistingUnified: true }, runAgain: true },
]) {
  describe(`revert after a run killed with SIGKILL half-way (${fixture.name})`, () => {
    it(`restores the exact pre-run fingerprint${fixture.runAgain ? '; a new run then works' : ''}`, async () => {
      const { url, info, outsideFp, tenantFp } = await setup(fixture.opts);
      const lock = await holdTableLock(url, 'globex', 'audit_log');
      try {
        const { child, done } = startCli(['run', '--source', url], { timeoutMs: 40_000 });
        const p = await waitForHalfWayCopy(url, 25_000);
        child.kill('SIGKILL');
        const r = await done;
        expect(p, `never saw the copy half-way:\n${show(r)}`).toBeDefined();
        expect(r.signal).toBe('SIGKILL');
      } finally {
        await lock.release();
      }
      expect(await waitNoToolSessions(url)).toBe(true);
      // something was written before the kill (otherwise this would prove nothing)
      expect(await outside(url, info)).not.toEqual(outsideFp);

      const rv = await runCli(['revert', '--yes', '--source', url]);
      expect(rv.code, show(rv)).toBe(0);
      expect(await outside(url, info)).toEqual(outsideFp);
      expect(await fingerprint(url, { only: tenantSchemas(info) })).toEqual(tenantFp);

      if (!fixture.runAgain) return;
      const again = await runCli(['run', '--source', url], { timeoutMs: 40_000 });
      expect(again.code, show(again)).toBe(0);
      const { mismatches } = await compareAll(url, url, info.tenants);
      expect(mismatches).toEqual([]);
      const [n] = await sql<{ n: string }>(url, 'SELECT count(*)::text AS n FROM public.accounts_membership');
      expect(Number(n.n), 'pre-existing rows + migrated rows, nothing twice').toBe(3 + info.tenants.length * ROWS);
      const v = await runCli(['verify', '--source', url]);
      expect(v.code, show(v)).toBe(0);
    });
  });
}
