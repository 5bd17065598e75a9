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
import type { Problem } from '../src/discover/problems.js';
import { WantingError } from '../src/errors.js';
import { fingerprint, fingerprintDiff } from '../src/verify/fingerprint.js';
import { withClient } from './support/client.js';
import { createTestDatabase, query } from './support/db.js';
import { MAJORS, type Major } from './support/majors.js';
import { createLoginRole, runnerUrl, type RunAs } from './support/roles.js';

/**
 * The core flow — plan → run → verify → check-rls → revert — on every
 * supported PostgreSQL major (SPEC §1 "Servers": 14 to 18), in place and
 * across servers of different majors (oldest → newest, newest → oldest), so
 * that neither the catalog SQL, the DDL nor the checksums depend on one
 * version. The servers come from test/support/globalSetup.ts; one that could
 * not be started makes its tests fail with the reason and the cure.
 */

/**
 * Who runs the tool (and builds the fixture, so that it owns every object).
 * 'owner' is the managed-service case of SPEC §1: a NOSUPERUSER NOBYPASSRLS
 * role owning the database: every flow below runs that way ('superuser' to compare).
 */
const RUN_AS: RunAs = 'owner';

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

/** A test database: the superuser's URL, the URL the tool connects with, and that role when it is not the superuser. */
interface Db {
  admin: string;
  url: string;
  runner: string | null;
}

/** Extra steps of a flow: change the source after the fixture is built; look at the plan's problems; inspect the migrated target. */
interface FlowHooks {
  prepare?: (sourceUrl: string, schemas: string[]) => Promise<void>;
  planned?: (problems: Problem[]) => void;
  migrated?: (targetAdminUrl: string, tenants: { schema: string; tenantId: string }[]) => Promise<void>;
}

/** A fresh database on `server` and the URL the tool connects to it with (see RUN_AS). */
async function database(server: string, prefix: string): Promise<Db> {
  const db = await createTestDatabase(prefix, server);
  const runner = await runnerUrl(server, db.name, db.url, RUN_AS);
  cleanups.push(runner.drop, db.drop);
  // The tool really connects as RUN_AS says.
  const [me] = await query<{ usr: string; su: boolean; bypass: boolean }>(
    runner.url,
    'SELECT current_user AS usr, rolsuper AS su, rolbypassrls AS bypass FROM pg_catalog.pg_roles WHERE rolname = current_user',
  );
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
      const [g] = await query<{ n: number }>(targetUrl, `SELECT count(*)::int AS n FROM ${ident('public', targetTable)} WHERE tenant_id::text = $1`, [
        t.tenantId,
      ]);
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
async function coreFlow(src: Db, tgt: Db, hooks: FlowHooks = {}) {
  const sameDatabase = src.url === tgt.url;
  const fx = await generateFixture(src.url, { tenants: 3, rowsPerTable: 30, preexistingUnified: sameDatabase });
  await hooks.prepare?.(
    src.url,
    fx.tenants.map((t) => t.schema),
  );
  const cfg = loadConfig(sameDatabase ? { source: src.url } : { source: src.url, target: tgt.url }, {}, '/');
  const sourceBefore = await withClient(src.admin, (c) => fingerprint(c, []));
  const targetBefore = sameDatabase ? sourceBefore : await withClient(tgt.admin, (c) => fingerprint(c, []));

  const plan = await planCommand(cfg, log);
  expect(plan.plan.problems.filter((p) => p.severity === 'error')).toEqual([]);
  hooks.planned?.(plan.plan.problems);
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
  expect(
    await sequencesBehind(
      tgt.admin,
      run.plan.tables.map((t) => t.target),
    ),
  ).toEqual([]);
  const [pk] = await query<{ def: string }>(
    tgt.admin,
    `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'public.accounts_account'::regclass AND contype = 'p'`,
  );
  expect(pk.def).toBe('PRIMARY KEY (tenant_id, id)');

  const verify = await verifyCommand(cfg, log);
  expect(verify.ok).toBe(true);
  expect(verify.results.filter((r) => r.tenant !== '(shared)')).toHaveLength(3 * fx.tenantTables.length);
  await hooks.migrated?.(tgt.admin, run.plan.tenants);

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

/**
 * Features later majors added to what a tenant table can be, in every tenant
 * schema: UNIQUE NULLS NOT DISTINCT (a constraint and an index) and
 * ON DELETE SET NULL (columns) from 15; a virtual generated column and a
 * NOT ENFORCED check from 18.
 */
function newerFeatures(sourceMajor: Major) {
  return async (url: string, schemas: string[]) => {
    await withClient(url, async (c) => {
      for (const s of schemas) {
        const account = ident(s, 'accounts_account');
        const tx = ident(s, 'accounts_transaction');
        await c.query(`ALTER TABLE ${account} ADD COLUMN code text`);
        // One NULL per tenant: NULLS NOT DISTINCT allows no second one, yet every tenant has its own.
        await c.query(`UPDATE ${account} SET code = 'c' || id WHERE id > (SELECT min(id) FROM ${account})`);
        await c.query(`ALTER TABLE ${account} ADD CONSTRAINT account_code_nnd UNIQUE NULLS NOT DISTINCT (code)`);
        await c.query(`CREATE UNIQUE INDEX account_code_id_nnd ON ${account} (code, id) NULLS NOT DISTINCT`);
        // A two-column key whose ON DELETE sets only one of them: a delete keeps reviewer_id, clears reviewer_code.
        await c.query(`ALTER TABLE ${account} ADD CONSTRAINT account_id_code_key UNIQUE (id, code)`);
        await c.query(`ALTER TABLE ${tx} ADD COLUMN reviewer_id integer, ADD COLUMN reviewer_code text`);
        await c.query(`UPDATE ${tx} t SET reviewer_id = a.id, reviewer_code = a.code FROM ${account} a WHERE a.id = t.account_id`);
        await c.query(
          `ALTER TABLE ${tx} ADD CONSTRAINT tx_reviewer_fk FOREIGN KEY (reviewer_id, reviewer_code) REFERENCES ${account} (id, code) ON DELETE SET NULL (reviewer_code)`,
        );
        if (sourceMajor >= 18) {
          await c.query(`ALTER TABLE ${account} ADD COLUMN id_twice bigint GENERATED ALWAYS AS (id * 2) VIRTUAL`);
          // Every row breaks it: recreated enforced, it would stop the run.
          await c.query(`ALTER TABLE ${account} ADD CONSTRAINT id_negative CHECK (id < 0) NOT ENFORCED`);
        }
      }
    });
  };
}

/** The features of `newerFeatures` on the migrated target: kept, tenant-scoped, and behaving so. */
function featuresKept(expectVirtual: 'v' | 's' | null) {
  return async (admin: string, tenants: { schema: string; tenantId: string }[]) => {
    const defs = await query<{ name: string; def: string }>(
      admin,
      `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conname IN ('account_code_nnd', 'tx_reviewer_fk') AND connamespace = 'public'::regnamespace ORDER BY 1`,
    );
    expect(defs).toEqual([
      { name: 'account_code_nnd', def: 'UNIQUE NULLS NOT DISTINCT (tenant_id, code)' },
      {
        name: 'tx_reviewer_fk',
        def: 'FOREIGN KEY (tenant_id, reviewer_id, reviewer_code) REFERENCES accounts_account(tenant_id, id, code) ON DELETE SET NULL (reviewer_code)',
      },
    ]);
    const [idx] = await query<{ def: string }>(admin, `SELECT pg_get_indexdef('public.account_code_id_nnd'::regclass) AS def`);
    expect(idx.def).toMatch(/\(tenant_id, code, id\) NULLS NOT DISTINCT$/);
    const [check] = await query<{ n: number; def: string | null }>(
      admin,
      `SELECT count(*)::int AS n, max(pg_get_constraintdef(oid)) AS def FROM pg_constraint WHERE conname = 'id_negative' AND connamespace = 'public'::regnamespace`,
    );
    // Kept NOT ENFORCED on 18; on an older target, not recreated (a warning says so).
    expect(check).toEqual(expectVirtual === 'v' ? { n: 1, def: 'CHECK ((id < 0)) NOT ENFORCED' } : { n: 0, def: null });
    if (expectVirtual) {
      const [g] = await query<{ kind: string; wrong: number }>(
        admin,
        `SELECT (SELECT attgenerated::text FROM pg_attribute WHERE attrelid = 'public.accounts_account'::regclass AND attname = 'id_twice') AS kind,
                (SELECT count(*)::int FROM public.accounts_account WHERE id_twice IS DISTINCT FROM id * 2) AS wrong`,
      );
      expect(g).toEqual({ kind: expectVirtual, wrong: 0 });
    }
    // Deleting a tenant's account clears reviewer_code of that tenant's rows only, keeping their
    // reviewer_id and tenant_id; other tenants' rows with the same reviewer_id are left alone
    // (rolled back: the run's rows stay).
    const tenant = tenants[0].tenantId;
    await withClient(admin, async (c) => {
      await c.query('BEGIN');
      try {
        // An account id that reviews transactions in this tenant and in another one (ids restart in every tenant).
        const [{ id }] = (
          await c.query<{ id: number }>(
            `SELECT reviewer_id AS id FROM public.accounts_transaction WHERE reviewer_code IS NOT NULL GROUP BY reviewer_id
            HAVING bool_or(tenant_id::text = $1) AND bool_or(tenant_id::text <> $1) ORDER BY 1 LIMIT 1`,
            [tenant],
          )
        ).rows;
        const count = async () =>
          (
            await c.query<{ mine: number; others: number }>(
              `SELECT count(*) FILTER (WHERE tenant_id::text = $1)::int AS mine, count(*) FILTER (WHERE tenant_id::text <> $1)::int AS others
               FROM public.accounts_transaction WHERE reviewer_id = $2 AND reviewer_code IS NOT NULL`,
              [tenant, id],
            )
          ).rows[0];
        const before = await count();
        expect(before.mine).toBeGreaterThan(0);
        expect(before.others).toBeGreaterThan(0);
        const del = await c.query(`DELETE FROM public.accounts_account WHERE tenant_id::text = $1 AND id = $2`, [tenant, id]);
        expect(del.rowCount).toBe(1);
        expect(await count()).toEqual({ mine: 0, others: before.others });
        const [{ n }] = (
          await c.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM public.accounts_transaction WHERE tenant_id::text = $1 AND reviewer_id = $2 AND reviewer_code IS NULL`,
            [tenant, id],
          )
        ).rows;
        expect(n).toBe(before.mine);
      } finally {
        await c.query('ROLLBACK');
      }
    });
  };
}

describe('features of newer majors', () => {
  it('PostgreSQL 18 in place keeps NULLS NOT DISTINCT, ON DELETE SET NULL (columns), a virtual generated column and a NOT ENFORCED check', async () => {
    const db = await database(serverOf(18), 'f18');
    await coreFlow(db, db, { prepare: newerFeatures(18), migrated: featuresKept('v') });
  });

  it('PostgreSQL 15 in place keeps NULLS NOT DISTINCT and ON DELETE SET NULL (columns)', async () => {
    const db = await database(serverOf(15), 'f15');
    await coreFlow(db, db, { prepare: newerFeatures(15), migrated: featuresKept(null) });
  });

  it('18 → 17: the virtual generated column becomes STORED with the same values and the NOT ENFORCED check is left out, each with a warning', async () => {
    const src = await database(serverOf(18), 'f18src');
    const tgt = await database(serverOf(17), 'f17tgt');
    let warnings: Problem[] = [];
    await coreFlow(src, tgt, {
      prepare: newerFeatures(18),
      planned: (problems) => {
        warnings = problems.filter((p) => p.code === 'TARGET_VERSION');
      },
      migrated: featuresKept('s'),
    });
    expect(warnings.map((w) => w.message).sort()).toEqual([
      'check constraint "id_negative" of "accounts_account" is NOT ENFORCED, which the target (PostgreSQL 17) cannot express (PostgreSQL 18+); it is not recreated',
      'virtual generated column "id_twice" of "accounts_account" becomes STORED: the target is PostgreSQL 17, virtual columns need PostgreSQL 18',
    ]);
    expect(warnings.every((w) => w.severity === 'warning' && w.table === 'accounts_account')).toBe(true);
  });

  it('18 → 14: plan names each key the target cannot create and run refuses, writing nothing', async () => {
    const src = await database(serverOf(18), 'f18src');
    const tgt = await database(serverOf(14), 'f14tgt');
    const fx = await generateFixture(src.url, { tenants: 3, rowsPerTable: 30 });
    await newerFeatures(18)(
      src.url,
      fx.tenants.map((t) => t.schema),
    );
    const cfg = loadConfig({ source: src.url, target: tgt.url }, {}, '/');
    const plan = await planCommand(cfg, log);
    expect(plan.blocking).toBe(true);
    const versionProblems = plan.plan.problems
      .filter((p) => p.code === 'TARGET_VERSION')
      .map((p) => `${p.severity} ${p.table}: ${p.message}`)
      .sort();
    expect(versionProblems).toEqual([
      'error accounts_account: UNIQUE NULLS NOT DISTINCT ("account_code_id_nnd") of "accounts_account" needs PostgreSQL 15 or later; the target is PostgreSQL 14',
      'error accounts_account: UNIQUE NULLS NOT DISTINCT ("account_code_nnd") of "accounts_account" needs PostgreSQL 15 or later; the target is PostgreSQL 14',
      'error accounts_transaction: foreign key "tx_reviewer_fk" ON DELETE SET NULL (columns) of "accounts_transaction" needs PostgreSQL 15 or later; the target is PostgreSQL 14',
      'warning accounts_account: check constraint "id_negative" of "accounts_account" is NOT ENFORCED, which the target (PostgreSQL 14) cannot express (PostgreSQL 18+); it is not recreated',
      'warning accounts_account: virtual generated column "id_twice" of "accounts_account" becomes STORED: the target is PostgreSQL 14, virtual columns need PostgreSQL 18',
    ]);
    const before = await withClient(tgt.admin, (c) => fingerprint(c, []));
    await expect(runCommand(cfg, log)).rejects.toBeInstanceOf(WantingError);
    expect(fingerprintDiff(before, await withClient(tgt.admin, (c) => fingerprint(c, [])))).toEqual([]);
    expect(await query(tgt.admin, `SELECT 1 FROM pg_namespace WHERE nspname = 'oasys_migrate'`)).toEqual([]);
  });
});
