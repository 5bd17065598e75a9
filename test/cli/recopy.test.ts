/**
 * Writes to the source while a run copies it (the application was not
 * stopped) are detected for the tenants already copied and reported with
 * what to do; `run --recopy` replaces exactly those tenants' rows.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/db.js';
import { generateFixture } from '../../fixtures/generate.js';
import { loadConfig } from '../../src/config/load.js';
import { runCommand } from '../../src/commands/run.js';
import { InterruptedError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { parseJson, rowsHash, runCli, show, sql, tableColumns } from '../support/cli.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];
afterAll(async () => {
  for (const d of dbs) await d.drop();
});

/** Runs until the copy phase is done, then stops (as Ctrl-C would): every tenant is copied, nothing after. */
async function copyThenStop(source: string, target?: string) {
  const stop = { stopping: false };
  const cfg = loadConfig({ source, target }, {}, '/');
  const err = await runCommand(cfg, silentLogger(), {
    stop,
    onProgress: (p) => {
      if (p.phase === 'keys') stop.stopping = true;
    },
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InterruptedError);
}

for (const mode of ['in place', 'separate target'] as const) {
  describe(`a write to the source during the run (${mode})`, () => {
    it('is detected at the end of the run (exit 1 naming tenant and table, with the --recopy command), and --recopy makes the result exact', async () => {
      const db = await createTestDatabase('recopy');
      dbs.push(db);
      let target: Db | undefined;
      if (mode === 'separate target') {
        target = await createTestDatabase('recopyt');
        dbs.push(target);
      }
      const tgt = target?.url ?? db.url;
      const info = await generateFixture(db.url, { tenants: 3, rowsPerTable: 12 });
      const [acme, globex] = info.tenants;
      await copyThenStop(db.url, target?.url);
      // The application writes to two tenants after their rows were copied: an insert, an update, a delete.
      await sql(db.url, `INSERT INTO ${q(acme.schema, 'audit_log')} SELECT * FROM ${q(acme.schema, 'audit_log')} LIMIT 1`);
      await sql(db.url, `UPDATE ${q(acme.schema, 'accounts_account')} SET active = NOT active WHERE id = 2`);
      await sql(db.url, `DELETE FROM ${q(globex.schema, 'LedgerEntry')} WHERE id = 3`);
      const args = ['--source', db.url, ...(target ? ['--target', target.url] : [])];
      const r = await runCli(['run', ...args]);
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr).toContain('the source was written while run #1 copied it');
      expect(r.stderr).toContain(`tenant "${acme.schema}" table audit_log: 1 row inserted or updated after its copy, 12 rows copied, 13 now`);
      expect(r.stderr).toContain(`tenant "${acme.schema}" table accounts_account: 1 row inserted or updated after its copy`);
      expect(r.stderr).toContain(`tenant "${globex.schema}" table LedgerEntry: 0 rows inserted or updated after its copy, 12 rows copied, 11 now`);
      expect(r.stderr).toContain(`oasys-migrate run --recopy ${acme.schema},${globex.schema}`);

      const re = await runCli(['run', ...args, '--recopy', `${acme.schema},${globex.schema}`, '--json']);
      expect(re.code, show(re)).toBe(0);
      const doc = parseJson<{ ok: boolean; rowsCopied: number; results: { tenant: string }[] }>(re);
      expect(doc.ok).toBe(true);
      expect(doc.results.filter((x) => x.tenant !== '(shared)')).toHaveLength(15);
      // Exactly the two tenants' rows were replaced: 5 tables × 12 rows each, +1 and −1.
      expect(doc.rowsCopied).toBe(120);
      for (const t of info.tenants) {
        for (const table of ['audit_log', 'accounts_account', 'LedgerEntry']) {
          const cols = await tableColumns(db.url, t.schema, table);
          const a = await rowsHash(db.url, t.schema, table, cols);
          const b = await rowsHash(tgt, 'public', table, cols, { id: t.id });
          expect(b, `${t.schema}.${table}`).toEqual(a);
        }
      }
      const v = await runCli(['verify', ...args, '--json']);
      expect(v.code, show(v)).toBe(0);
      const events = await sql<{ kind: string; n: number }>(tgt, `SELECT kind, count(*)::int AS n FROM oasys_migrate.event WHERE kind = 'recopied' GROUP BY 1`);
      expect(events).toEqual([{ kind: 'recopied', n: 2 }]);
    });
  });
}

describe('run --recopy refusals', () => {
  it('an unknown tenant is a usage error (exit 2) naming it; nothing changes', async () => {
    const db = await createTestDatabase('recopyu');
    dbs.push(db);
    await generateFixture(db.url, { tenants: 2, rowsPerTable: 5 });
    expect((await runCli(['run', '--source', db.url])).code).toBe(0);
    const r = await runCli(['run', '--source', db.url, '--recopy', 'nosuch']);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain('--recopy: "nosuch" is not a tenant of run #1');
  });
});

function q(schema: string, table: string): string {
  return `"${schema.replace(/"/g, '""')}"."${table.replace(/"/g, '""')}"`;
}
