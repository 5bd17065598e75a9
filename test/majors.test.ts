import { afterAll, describe, expect, inject, it } from 'vitest';
import { generateFixture } from '../fixtures/generate.js';
import { checkRlsCommand } from '../src/commands/checkRls.js';
import { planCommand } from '../src/commands/plan.js';
import { revertCommand } from '../src/commands/revert.js';
import { runCommand } from '../src/commands/run.js';
import { verifyCommand } from '../src/commands/verify.js';
import { loadConfig } from '../src/config/load.js';
import { ident } from '../src/db/ident.js';
import { silentLogger } from '../src/log.js';
import { fingerprint, fingerprintDiff } from '../src/verify/fingerprint.js';
import { withClient } from './harness/client.js';
import { createTestDatabase, query } from './harness/db.js';
import { MAJORS, type Major } from './harness/majors.js';
import { createLoginRole, runnerUrl, type RunAs } from './harness/roles.js';

/**
 * The core flow — plan → run → verify → check-rls → revert — on every
 * supported PostgreSQL major (SPEC §1 "Servers": 14 to 18), in place and
 * across servers of different majors (oldest → newest, newest → oldest), so
 * that neither the catalog SQL, the DDL nor the checksums depend on one
 * version. The servers come from test/harness/globalSetup.ts; one that could
 * not be started makes its tests fail with the reason and the cure.
 */

/**
 * Who runs the tool (and builds the fixture, so that it owns every object).
 * 'owner' is the managed-service case of SPEC §1: a NOSUPERUSER NOBYPASSRLS
 * role owning the database. Set it to 'owner' to run every flow below that way.
 */
const RUN_AS: RunAs = 'superuser';

const servers = inject('pgMajors');
const log = silentLogger();
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  // Databases first, then the roles that owned objects in them.
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function serverOf(m: Major): string {
  const s = servers[m];
  if ('missing' in s) throw new Error(`PostgreSQL ${m} is missing, so the tool is not proven on it: ${s.missing}`);
  return s.url;
}

/** A fresh database on `server` and the URL the tool connects to it with (see RUN_AS). */
async function database(server: string, prefix: string): Promise<{ admin: string; url: string; runner: string | null }> {
  const db = await createTestDatabase(prefix, server);
  const runner = await runnerUrl(server, db.name, db.url, RUN_AS);
  cleanups.push(runner.drop, db.drop);
  // The tool really connects as RUN_AS says.
  const [me] = await query<{ usr: string; su: boolean; bypass: boolean }>(
    runner.url, 'SELECT current_user AS usr, rolsuper AS su, rolbypassrls AS bypass FROM pg_catalog.pg_roles WHERE rolname = current_user');
  expect(me.su || me.bypass).toBe(RUN_AS === 'superuser');
  if (runner.role) expect(me.usr).toBe(runner.role);
  return { admin: db.url, url: runner.url, runner: runner.role };
}

/** Rows per tenant_id of every unified table of `plan` on the target, and per schema of every tenant table on the source. */
async function perTenantCounts(sourceUrl: string, targetUrl: string, tables: string[][], tenants: { schema: string; tenantId: string }[]) {
  const source: string[] = [];
  const target: string[] = [];
  for (const [sourceTable, targetTable] of tables) {
    for (const t of tenants) {
      const [s] = await query<{ n: number }>(sourceUrl, `SELECT count(*)::int AS n FROM ${ident(t.schema, sourceTable)}`);
      source.push(`${t.schema}.${sourceTable}=${s.n}`);
      const [g] = await query<{ n: number }>(targetUrl, `SELECT count(*)::int AS n FROM ${ident('public', targetTable)} WHERE tenant_id::text = $1`, [t.tenantId]);
      target.push(`${t.schema}.${sourceTable}=${g.n}`);
    }
  }
  return { source, target };
}

/**
 * Every sequence behind a serial or identity column of the unified tables, with
 * the highest value in its column: `run` must have moved each past it, or the
 * application's next insert collides with a migrated row. Read as the
 * superuser, whom row-level security does not hide rows from.
 */
async function sequencesBehind(adminUrl: string, tables: string[]): Promise<string[]> {
  const cols = await query<{ tbl: string; col: string; seq: string }>(
    adminUrl,
    `SELECT c.relname AS tbl, a.attname AS col, pg_catalog.pg_get_serial_sequence(pg_catalog.format('%I.%I', n.nspname, c.relname), a.attname) AS seq
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE n.nspname = 'public' AND c.relname = ANY ($1::text[])
        AND pg_catalog.pg_get_serial_sequence(pg_catalog.format('%I.%I', n.nspname, c.relname), a.attname) IS NOT NULL`,
    [tables],
  );
  expect(cols.length).toBeGreaterThan(0);
  const behind: string[] = [];
  for (const { tbl, col, seq } of cols) {
    const [m] = await query<{ m: string | null }>(adminUrl, `SELECT max(${ident(col)})::text AS m FROM ${ident('public', tbl)}`);
    // pg_get_serial_sequence returns the name already quoted and qualified.
    const [v] = await query<{ v: string; called: boolean }>(adminUrl, `SELECT last_value::text AS v, is_called AS called FROM ${seq}`);
    if (m.m !== null && (BigInt(v.v) < BigInt(m.m) || (BigInt(v.v) === BigInt(m.m) && !v.called))) behind.push(`${tbl}.${col}: ${seq} at ${v.v}, max ${m.m}`);
  }
  return behind;
}

/**
 * plan → run → verify → check-rls → revert from `sourceUrl` into `targetUrl`
 * (the same database for an in-place migration), asserting on the data at
 * every step and that revert restores the target's exact pre-run state.
 */
async function coreFlow(src: { admin: string; url: string; runner: string | null }, tgt: { admin: string; url: string; runner: string | null }) {
  const sameDatabase = src.url === tgt.url;
  const fx = await generateFixture(src.url, { tenants: 3, rowsPerTable: 30, preexistingUnified: sameDatabase });
  const cfg = loadConfig(sameDatabase ? { source: src.url } : { source: src.url, target: tgt.url }, {}, '/');
  const sourceBefore = await withClient(src.admin, (c) => fingerprint(c, []));
  const targetBefore = sameDatabase ? sourceBefore : await withClient(tgt.admin, (c) => fingerprint(c, []));

  const plan = await planCommand(cfg, log);
  expect(plan.plan.problems.filter((p) => p.severity === 'error')).toEqual([]);
  expect(plan.blocking).toBe(false);
  expect(plan.plan.tenants.map((t) => t.schema).sort()).toEqual(fx.tenants.map((t) => t.schema).sort());
  expect(plan.plan.tables.map((t) => t.source).sort()).toEqual([...fx.tenantTables].sort());

  const run = await runCommand(cfg, log);
  expect(run.verify.ok).toBe(true);
  expect(run.verify.results.filter((r) => r.tenant !== '(shared)')).toHaveLength(3 * fx.tenantTables.length);
  expect(run.rowsCopied).toBeGreaterThan(0);
  const tables = run.plan.tables.map((t) => [t.source, t.target]);
  const counts = await perTenantCounts(src.admin, tgt.admin, tables, run.plan.tenants);
  expect(counts.target).toEqual(counts.source);
  const [tx] = await query<{ n: number }>(tgt.admin, 'SELECT count(*)::int AS n FROM public.accounts_transaction');
  expect(tx.n).toBe(90);
  expect(await sequencesBehind(tgt.admin, run.plan.tables.map((t) => t.target))).toEqual([]);
  const [pk] = await query<{ def: string }>(tgt.admin, `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'public.accounts_account'::regclass AND contype = 'p'`);
  expect(pk.def).toBe('PRIMARY KEY (tenant_id, id)');

  const verify = await verifyCommand(cfg, log);
  expect(verify.ok).toBe(true);
  expect(verify.results.filter((r) => r.tenant !== '(shared)')).toHaveLength(3 * fx.tenantTables.length);

  // The application role: no superuser, no BYPASSRLS, not the tables' owner.
  const app = await createLoginRole(tgt.admin, 'oasys_app', 'NOSUPERUSER NOBYPASSRLS NOINHERIT');
  cleanups.push(app.drop);
  await withClient(tgt.admin, async (c) => {
    await c.query(`GRANT USAGE ON SCHEMA public TO ${ident(app.name)}`);
    await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${run.plan.tables.map((t) => ident('public', t.target)).join(', ')} TO ${ident(app.name)}`);
    // check-rls becomes the application role with SET ROLE: a non-superuser runner must be a member.
    if (tgt.runner) await c.query(`GRANT ${ident(app.name)} TO ${ident(tgt.runner)}`);
  });
  const rls = await checkRlsCommand(cfg, log, app.name);
  expect(rls.checks.filter((c) => !c.ok)).toEqual([]);
  expect(rls.ok).toBe(true);
  expect(new Set(rls.checks.filter((c) => c.table).map((c) => c.table))).toEqual(new Set(run.plan.tables.map((t) => t.target)));
  // The grants are not the run's: take them back so that the catalog can be compared with its pre-run state.
  await withClient(tgt.admin, (c) => c.query(`REVOKE ALL ON ${run.plan.tables.map((t) => ident('public', t.target)).join(', ')} FROM ${ident(app.name)}`));

  const revert = await revertCommand(cfg, log, async () => true);
  expect(revert.reverted).toBe(true);
  const targetAfter = await withClient(tgt.admin, (c) => fingerprint(c, []));
  expect(fingerprintDiff(targetBefore, targetAfter)).toEqual([]);
  if (!sameDatabase) {
    // A separate source is only ever read: no row, no catalog entry, no state schema.
    const sourceAfter = await withClient(src.admin, (c) => fingerprint(c, []));
    expect(fingerprintDiff(sourceBefore, sourceAfter)).toEqual([]);
    const state = await query(src.admin, `SELECT 1 FROM pg_namespace WHERE nspname = 'oasys_migrate'`);
    expect(state).toEqual([]);
  }
}

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('is running and is that major version', async () => {
    const [v] = await query<{ n: string }>(serverOf(major), `SELECT current_setting('server_version_num') AS n`);
    expect(Math.floor(Number(v.n) / 10000)).toBe(major);
  });

  it('in place: plan → run → verify → check-rls → revert restores the exact pre-run state', async () => {
    const db = await database(serverOf(major), `m${major}`);
    await coreFlow(db, db);
  });
});

/** Oldest → newest, newest → oldest, and between neighbours the other way round. */
const PAIRS: [Major, Major][] = [
  [14, 18],
  [18, 14],
  [17, 15],
  [15, 16],
];

describe.each(PAIRS)('from PostgreSQL %i to PostgreSQL %i (COPY streams between servers)', (from, to) => {
  it('plan → run → verify → check-rls → revert; the source is never written, the target is restored exactly', async () => {
    const src = await database(serverOf(from), `m${from}src`);
    const tgt = await database(serverOf(to), `m${to}tgt`);
    await coreFlow(src, tgt);
  });
});
