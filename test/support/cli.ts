/**
 * Shared code for the black-box CLI tests: spawn the real built CLI
 * (`node bin/oasys-migrate.js`, dist/ must already be built) with a clean
 * environment and a timeout, and inspect the database with independent SQL —
 * nothing here imports the tool's own code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { withClient } from './client.js';
export { withClient };

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = path.join(ROOT, 'bin', 'oasys-migrate.js');

/** A private working directory: no `oasys-migrate.config.json` there, so none is picked up by default. */
export const WORKDIR = mkdtempSync(path.join(os.tmpdir(), 'oasys-cli-test-'));

/** A fresh temp directory for files a test writes (config, log, report). */
export function tempDir(): string {
  return mkdtempSync(path.join(WORKDIR, 'd-'));
}

/** Writes `content` as JSON into a new temp dir and returns the file path. */
export function writeJson(content: unknown, name = 'config.json'): string {
  const file = path.join(tempDir(), name);
  writeFileSync(file, JSON.stringify(content, null, 2));
  return file;
}

/**
 * The environment the CLI gets: only PATH and HOME (and TMPDIR when set) —
 * no OASYS_*, DATABASE_URL or PG* variable from the host can leak in.
 */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  if (process.env.PATH) env.PATH = process.env.PATH;
  if (process.env.HOME) env.HOME = process.env.HOME;
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR;
  return { ...env, ...extra };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

export interface CliOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

/** Starts the CLI; stdin is a pipe that is closed at once (not a terminal, EOF). */
export function startCli(args: string[], opts: CliOptions = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? WORKDIR,
    env: cliEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin?.end();
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let timedOut = false;
  const timeoutMs = opts.timeoutMs ?? 45_000;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0, timedOut });
    });
  });
  return { child, done };
}

/** Runs the CLI to completion (or timeout) and returns exit code, output and wall time. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return startCli(args, opts).done;
}

/** A short description of a CLI result, for assertion messages. */
export function show(r: CliResult): string {
  const cut = (s: string) => (s.length > 3000 ? s.slice(0, 3000) + '…[cut]' : s);
  return `exit=${r.code} signal=${r.signal} timedOut=${r.timedOut} ms=${Math.round(r.ms)}\n--- stdout ---\n${cut(r.stdout)}\n--- stderr ---\n${cut(r.stderr)}`;
}

/** Parses stdout as exactly one JSON document (throws with the output otherwise). */
export function parseJson<T = any>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch (err) {
    throw new Error(`stdout is not one JSON document (${(err as Error).message})\n${show(r)}`);
  }
}

/** A loopback port nothing listens on. */
export async function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------
// SQL helpers (independent of the tool)

/** Quotes an identifier (or a dotted list of parts). */
export function qi(...parts: string[]): string {
  return parts.map((p) => '"' + p.replace(/"/g, '""') + '"').join('.');
}

export async function sql<R extends pg.QueryResultRow = any>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  return withClient(url, async (c) => (await c.query<R>(text, params)).rows);
}

/** The URL of the same server and database, logging in as another role. */
export function urlAs(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
}

/** Non-dropped user columns of a table, in order. */
export async function tableColumns(url: string, schema: string, table: string): Promise<string[]> {
  const rows = await sql<{ attname: string }>(
    url,
    `SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [schema, table],
  );
  return rows.map((r) => r.attname);
}

export interface RowsHash {
  count: number;
  hash: string;
}

/**
 * Count and order-independent content hash of `columns` of `schema.table`
 * (each column cast to text, so a per-schema enum and its unified copy hash the
 * same), optionally restricted to `tenant_id::text = tenantId`.
 */
export async function rowsHash(
  url: string,
  schema: string,
  table: string,
  columns: string[],
  tenant?: { column?: string; id: string | number },
): Promise<RowsHash> {
  const rowText = `ROW(${columns.map((c) => `${qi(c)}::text`).join(', ')})::text`;
  const where = tenant ? `WHERE ${qi(tenant.column ?? 'tenant_id')}::text = $1` : '';
  const params = tenant ? [String(tenant.id)] : [];
  const [r] = await sql<{ n: string; h: string }>(
    url,
    `SELECT count(*)::text AS n, md5(coalesce(string_agg(x.r, E'\\n' ORDER BY x.r COLLATE "C"), '')) AS h
       FROM (SELECT ${rowText} AS r FROM ${qi(schema, table)} ${where}) x`,
    params,
  );
  return { count: Number(r.n), hash: r.h };
}

/** Source rows of one tenant table vs. the unified rows of that tenant. */
export async function compareTenantTable(
  sourceUrl: string,
  targetUrl: string,
  tenantSchema: string,
  tenantId: string | number,
  table: string,
  opts: { targetSchema?: string; targetTable?: string } = {},
): Promise<{ source: RowsHash; target: RowsHash; columns: string[] }> {
  const columns = await tableColumns(sourceUrl, tenantSchema, table);
  const source = await rowsHash(sourceUrl, tenantSchema, table, columns);
  const target = await rowsHash(targetUrl, opts.targetSchema ?? 'public', opts.targetTable ?? table, columns, { id: tenantId });
  return { source, target, columns };
}

// ---------------------------------------------------------------------------
// Fingerprint of catalog and data

export interface FingerprintScope {
  /** Only these schemas (default: every non-system schema). */
  only?: string[];
  /** Leave these schemas out. */
  exclude?: string[];
  /** Leave out the content hashes of tables (catalog only). */
  noData?: boolean;
}

/**
 * A readable, OID-free fingerprint: one line per catalog fact (schemas,
 * relations with RLS flags/owner/ACL/options, columns with types/defaults/
 * identity, constraints, indexes, policies, types incl. enum labels and domains,
 * functions, triggers, views, sequences with their values and owners,
 * extensions) for the schemas in scope, plus the row count and a content hash
 * of every table. Compare two with `toEqual` to see what changed.
 */
export async function fingerprint(url: string, scope: FingerprintScope = {}): Promise<string[]> {
  return withClient(url, async (c) => {
    await c.query(
      `SET search_path = pg_catalog; SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'`,
    );
    const all = (
      await c.query<{ nspname: string }>(
        `SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY nspname COLLATE "C"`,
      )
    ).rows.map((r) => r.nspname);
    const schemas = all.filter((s) => (scope.only ? scope.only.includes(s) : true) && !(scope.exclude ?? []).includes(s));
    const lines: string[] = [];
    const add = async (text: string, params: unknown[] = []) => {
      const r = await c.query<{ l: string }>(text, params);
      for (const row of r.rows) lines.push(row.l);
    };
    const S = [schemas];

    await add(
      `SELECT 'schema ' || quote_ident(nspname) || ' owner=' || pg_get_userbyid(nspowner) || ' acl=' || coalesce(nspacl::text, '-') AS l
                 FROM pg_namespace WHERE nspname = ANY($1)`,
      S,
    );
    await add(`SELECT 'extension ' || extname || ' ' || extversion || ' in ' || quote_ident(n.nspname) AS l
                 FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace`);
    await add(
      `SELECT 'rel ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
              || ' owner=' || pg_get_userbyid(c.relowner) || ' rls=' || c.relrowsecurity || ' force_rls=' || c.relforcerowsecurity
              || ' replident=' || c.relreplident::text || ' options=' || coalesce(c.reloptions::text, '-') || ' acl=' || coalesce(c.relacl::text, '-')
              || ' partition=' || c.relispartition || ' bound=' || coalesce(pg_get_expr(c.relpartbound, c.oid), '-')
              || ' partkey=' || CASE WHEN c.relkind::text = 'p' THEN coalesce(pg_get_partkeydef(c.oid), '-') ELSE '-' END
              || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '-') AS l
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1) AND c.relkind <> 't'`,
      S,
    );
    await add(
      `SELECT 'col ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' #' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
              || ' ' || quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
              || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-') || ' identity=' || coalesce(nullif(a.attidentity::text, ''), '-')
              || ' generated=' || coalesce(nullif(a.attgenerated::text, ''), '-') || ' collation=' || coalesce(co.collname, '-')
              || ' acl=' || coalesce(a.attacl::text, '-') || ' comment=' || coalesce(col_description(c.oid, a.attnum), '-') AS l
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 100
        WHERE n.nspname = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')`,
      S,
    );
    await add(
      `SELECT 'constraint ' || quote_ident(n.nspname) || '.' || coalesce(quote_ident(c.relname), 'type ' || quote_ident(t.typname)) || ' '
              || quote_ident(con.conname) || ' ' || con.contype::text || ' ' || pg_get_constraintdef(con.oid)
              || ' deferrable=' || con.condeferrable || ' deferred=' || con.condeferred || ' validated=' || con.convalidated
              || ' local=' || con.conislocal || ' inh=' || con.coninhcount AS l
         FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace
         LEFT JOIN pg_class c ON c.oid = con.conrelid
         LEFT JOIN pg_type t ON t.oid = con.contypid
        WHERE n.nspname = ANY($1)`,
      S,
    );
    await add(
      `SELECT 'index ' || quote_ident(n.nspname) || '.' || quote_ident(ic.relname) || ' ' || pg_get_indexdef(i.indexrelid)
              || ' primary=' || i.indisprimary || ' unique=' || i.indisunique || ' valid=' || i.indisvalid
              || ' clustered=' || i.indisclustered || ' replident=' || i.indisreplident AS l
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace
        WHERE n.nspname = ANY($1)`,
      S,
    );
    await add(
      `SELECT 'policy ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' ' || quote_ident(p.polname) || ' cmd=' || p.polcmd::text
              || ' permissive=' || p.polpermissive
              || ' roles=' || (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END, ',' ORDER BY 1) FROM unnest(p.polroles) r)
              || ' using=' || coalesce(pg_get_expr(p.polqual, p.polrelid), '-') || ' check=' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-') AS l
         FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1)`,
      S,
    );
    await add(
      `SELECT 'type ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname) || ' typtype=' || t.typtype::text || ' category=' || t.typcategory::text
              || ' owner=' || pg_get_userbyid(t.typowner)
              || ' base=' || CASE WHEN t.typbasetype <> 0 THEN format_type(t.typbasetype, t.typtypmod) ELSE '-' END
              || ' notnull=' || t.typnotnull || ' default=' || coalesce(t.typdefault, '-')
              || ' labels=' || coalesce((SELECT string_agg(quote_literal(e.enumlabel), ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '-') AS l
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = ANY($1)`,
      S,
    );
    await add(
      `SELECT 'function ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ') kind=' || p.prokind::text
              || ' returns=' || pg_get_function_result(p.oid) || ' volatile=' || p.provolatile::text || ' secdef=' || p.prosecdef
              || ' owner=' || pg_get_userbyid(p.proowner) || ' src=' || md5(coalesce(p.prosrc, '')) AS l
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = ANY($1)`,
      S,
    );
    await add(
      `SELECT 'trigger ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' ' || quote_ident(t.tgname) || ' enabled=' || t.tgenabled::text || ' ' || pg_get_triggerdef(t.oid) AS l
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1) AND NOT t.tgisinternal`,
      S,
    );
    await add(
      `SELECT 'rule ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' ' || quote_ident(r.rulename) || ' ' || md5(pg_get_ruledef(r.oid)) AS l
         FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY($1)`,
      S,
    );
    await add(
      `SELECT 'sequence ' || quote_ident(schemaname) || '.' || quote_ident(sequencename) || ' ' || data_type::text || ' start=' || start_value
              || ' min=' || min_value || ' max=' || max_value || ' inc=' || increment_by || ' cycle=' || cycle || ' cache=' || cache_size
              || ' last_value=' || coalesce(last_value::text, 'not called') AS l
         FROM pg_sequences WHERE schemaname = ANY($1)`,
      S,
    );
    await add(
      `SELECT 'sequence-owner ' || quote_ident(sn.nspname) || '.' || quote_ident(s.relname) || ' -> ' || quote_ident(tn.nspname) || '.'
              || quote_ident(t.relname) || '.' || quote_ident(a.attname) || ' deptype=' || d.deptype::text AS l
         FROM pg_depend d
         JOIN pg_class s ON s.oid = d.objid AND d.classid = 'pg_class'::regclass AND s.relkind = 'S'
         JOIN pg_namespace sn ON sn.oid = s.relnamespace
         JOIN pg_class t ON t.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass
         JOIN pg_namespace tn ON tn.oid = t.relnamespace
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
        WHERE sn.nspname = ANY($1) AND d.deptype IN ('a', 'i')`,
      S,
    );

    if (!scope.noData) {
      const tables = (
        await c.query<{ nspname: string; relname: string }>(
          `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'm')`,
          S,
        )
      ).rows;
      for (const t of tables) {
        const r = await c.query<{ n: string; h: string }>(
          `SELECT count(*)::text AS n, md5(coalesce(string_agg(x.r, E'\\n' ORDER BY x.r COLLATE "C"), '')) AS h
             FROM (SELECT t::text AS r FROM ONLY ${qi(t.nspname, t.relname)} t) x`,
        );
        lines.push(`data ${qi(t.nspname, t.relname)} rows=${r.rows[0].n} md5=${r.rows[0].h}`);
      }
    }
    return lines.sort();
  });
}

/** Whether a schema exists. */
export async function schemaExists(url: string, schema: string): Promise<boolean> {
  const [r] = await sql<{ ok: boolean }>(url, 'SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS ok', [schema]);
  return r.ok;
}

// ---------------------------------------------------------------------------
// Controlling a run from outside

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns a truthy value or `timeoutMs` passes (then returns undefined). */
export async function waitFor<T>(check: () => Promise<T | undefined | null | false>, timeoutMs: number, everyMs = 25): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch {
      // not there yet (e.g. the state schema does not exist)
    }
    if (Date.now() > end) return undefined;
    await sleep(everyMs);
  }
}

export interface CopyProgress {
  done: number;
  total: number;
}

/** Copy steps done / total from the journal, or undefined when there is no journal yet. */
export async function copyProgress(url: string): Promise<CopyProgress | undefined> {
  const rows = await sql<{ done: string; total: string }>(
    url,
    `SELECT count(*) FILTER (WHERE state = 'done')::text AS done, count(*)::text AS total FROM oasys_migrate.step
      WHERE phase = 'copy' AND run_id = (SELECT max(run_id) FROM oasys_migrate.run)`,
  );
  return { done: Number(rows[0].done), total: Number(rows[0].total) };
}

/** Sessions of the tool (application_name oasys-migrate…) on the database, with their wait state. */
export async function toolSessions(url: string): Promise<{ pid: number; app: string; waitType: string | null; state: string | null }[]> {
  return sql(
    url,
    `SELECT pid, application_name AS app, wait_event_type AS "waitType", state FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE 'oasys-migrate%'`,
  );
}

/** Waits until the killed tool's server sessions are gone (the server notices a dead client lazily). */
export async function waitNoToolSessions(url: string, timeoutMs = 15_000): Promise<boolean> {
  return !!(await waitFor(async () => (await toolSessions(url)).length === 0, timeoutMs, 50));
}

/**
 * Holds ACCESS EXCLUSIVE on one source table in an open transaction, so the
 * copy of that table blocks (deterministically "half-way") while other copy
 * steps go on. `release()` commits (nothing was written).
 */
export async function holdTableLock(url: string, schema: string, table: string): Promise<{ release: () => Promise<void> }> {
  const c = new pg.Client({ connectionString: url, application_name: 'cli-test lock holder' });
  c.on('error', () => undefined);
  await c.connect();
  await c.query('BEGIN');
  await c.query(`LOCK TABLE ${qi(schema, table)} IN ACCESS EXCLUSIVE MODE`);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await c.query('COMMIT').catch(() => undefined);
      await c.end().catch(() => undefined);
    },
  };
}

/**
 * Waits until the run is half-way through the copy: at least one copy step
 * done, at least one not done, and a tool session blocked on a lock.
 */
export async function waitForHalfWayCopy(url: string, timeoutMs = 30_000): Promise<CopyProgress | undefined> {
  return waitFor(async () => {
    const p = await copyProgress(url);
    if (!p || p.done < 1 || p.done >= p.total) return undefined;
    const blocked = (await toolSessions(url)).some((s) => s.waitType === 'Lock');
    return blocked ? p : undefined;
  }, timeoutMs);
}

/** Tenant schemas of the fixture (as a list for fingerprint scopes). */
export function tenantSchemas(info: { tenants: { schema: string }[] }): string[] {
  return info.tenants.map((t) => t.schema);
}

/** Unified tables the default fixture produces. */
export const FIXTURE_TABLES = ['accounts_account', 'accounts_transaction', 'accounts_membership', 'audit_log', 'LedgerEntry'];

/** Every (tenant, table) of the fixture: source equals the unified rows of that tenant. Returns mismatch descriptions. */
export async function compareAll(
  sourceUrl: string,
  targetUrl: string,
  tenants: { schema: string; id: number | string }[],
  tables: string[] = FIXTURE_TABLES,
): Promise<{ mismatches: string[]; totals: Record<string, number> }> {
  const mismatches: string[] = [];
  const totals: Record<string, number> = {};
  for (const table of tables) {
    for (const t of tenants) {
      const { source, target } = await compareTenantTable(sourceUrl, targetUrl, t.schema, t.id, table);
      totals[table] = (totals[table] ?? 0) + source.count;
      if (source.count !== target.count || source.hash !== target.hash) {
        mismatches.push(`${t.schema}/${table}: source ${source.count} rows md5 ${source.hash}, unified ${target.count} rows md5 ${target.hash}`);
      }
    }
  }
  return { mismatches, totals };
}

/** Tool sessions holding an advisory lock on this database. */
export async function advisoryLockHolders(url: string): Promise<{ pid: number; app: string }[]> {
  return sql(
    url,
    `SELECT a.pid, a.application_name AS app FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND a.application_name LIKE 'oasys-migrate%'`,
  );
}

export interface StatusDoc {
  runs: { runId: unknown; state: string; startedAt: string | null; finishedAt: string | null }[];
  steps: { tenant: string | null; table: string | null; state: string; rows: number | null }[];
}
