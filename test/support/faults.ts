/**
 * Shared code for the fault-injection and hostile-input suites (issue 6).
 *
 * Everything here works from the outside: the real built CLI is spawned with a
 * clean environment (see ./cli.ts), and the database is inspected with
 * independent SQL — nothing imports the tool's own code except the fixture
 * generators. Phases are stopped deterministically with conflicting locks held
 * from a second connection (never with sleeps): see `holdTx`, `waitBlockedIn`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl, createTestDatabase, urlFor } from './db.js';
import { generateFixture, type FixtureInfo, type FixtureOptions } from '../../fixtures/generate.js';
import {
  fingerprint,
  qi,
  runCli,
  schemaExists as schemaExistsImpl,
  show,
  sleep as sleepImpl,
  sql,
  startCli as startCliImpl,
  tempDir as tempDirImpl,
  waitFor,
  withClient as withClientImpl,
  type CliOptions,
  type CliResult,
} from './cli.js';

export { fingerprint, qi, show, sql, startCli, tempDir, unusedPort, urlAs, withClient, type CliResult } from './cli.js';

export type Db = Awaited<ReturnType<typeof createTestDatabase>>;

/** The unified tables the default fixture produces. */
export const TABLES = ['LedgerEntry', 'accounts_account', 'accounts_membership', 'accounts_transaction', 'audit_log'];

/** Phases in the order `run` executes them (SPEC §4; src/plan/model.ts). */
export const PHASE_ORDER = ['shared', 'types', 'tables', 'merge', 'copy', 'keys', 'indexes', 'foreign-keys', 'sequences', 'analyze', 'rls'];

/** Databases created by a test file, dropped in its afterAll. */
export function dbRegistry(): { add: (db: Db) => Db; dropAll: () => Promise<void> } {
  const dbs: Db[] = [];
  return {
    add(db) {
      dbs.push(db);
      return db;
    },
    async dropAll() {
      await Promise.all(dbs.map((d) => d.drop().catch(() => undefined)));
    },
  };
}

export interface FixtureDb {
  db: Db;
  url: string;
  info: FixtureInfo;
  tenantSchemas: string[];
  /** Tenant schemas only: catalog + content (must never change). */
  tenantFp: string[];
  /** Everything but the tenant schemas and oasys_migrate, before any run (what `revert` must restore). */
  targetFp: string[];
}

/** A fresh database with the default fixture and the fingerprints taken before anything runs. */
export async function fixtureDb(prefix: string, reg: { add: (db: Db) => Db }, opts: FixtureOptions = {}): Promise<FixtureDb> {
  const db = reg.add(await createTestDatabase(prefix));
  const info = await generateFixture(db.url, { rowsPerTable: 4, ...opts });
  const tenantSchemas = info.tenants.map((t) => t.schema);
  return {
    db,
    url: db.url,
    info,
    tenantSchemas,
    tenantFp: await fingerprint(db.url, { only: tenantSchemas }),
    targetFp: await targetFingerprint(db.url, tenantSchemas),
  };
}

/**
 * The fixture built once into a template database; `make()` clones it
 * (CREATE DATABASE … TEMPLATE, a file copy) with the fingerprints taken once —
 * they hold no OIDs or database names, so they are those of every clone.
 */
export async function fixtureTemplate(prefix: string, reg: { add: (db: Db) => Db }, opts: FixtureOptions = {}): Promise<{ make: () => Promise<FixtureDb> }> {
  const tpl = await fixtureDb(`${prefix}_tpl`, reg, opts);
  return {
    async make() {
      const name = `${prefix}_${randomBytes(4).toString('hex')}`;
      await sql(adminUrl(), `CREATE DATABASE ${qi(name)} TEMPLATE ${qi(tpl.db.name)}`);
      const db: Db = {
        name,
        url: urlFor(name),
        drop: () => sql(adminUrl(), `DROP DATABASE IF EXISTS ${qi(name)} WITH (FORCE)`).then(() => undefined),
      };
      reg.add(db);
      return { ...tpl, db, url: db.url };
    },
  };
}

/** Catalog facts and content of everything except the tenant schemas and the tool's state schema. */
export function targetFingerprint(url: string, tenantSchemas: string[]): Promise<string[]> {
  return fingerprint(url, { exclude: [...tenantSchemas, 'oasys_migrate'] });
}

/** Lines only in `a` (-) or only in `b` (+), for assertion messages. */
export function fpDiff(a: string[], b: string[]): string[] {
  const sa = new Set(a);
  const sb = new Set(b);
  return [...a.filter((l) => !sb.has(l)).map((l) => `- ${l}`), ...b.filter((l) => !sa.has(l)).map((l) => `+ ${l}`)];
}

// ---------------------------------------------------------------------------
// Blocking a phase from a second connection

export interface Held {
  /** Rolls the blocker's transaction back (undoing any object it created) and closes it. Idempotent. */
  release: () => Promise<void>;
  client: pg.Client;
}

/**
 * Opens a transaction on its own connection, runs `statements` in it (e.g. a
 * LOCK TABLE, an uncommitted CREATE TABLE, an ALTER SEQUENCE) and keeps it
 * open until `release()`, which rolls it back.
 */
export async function holdTx(url: string, statements: string[], label = 'faults blocker'): Promise<Held> {
  const client = new pg.Client({ connectionString: url, application_name: label });
  client.on('error', () => undefined);
  await client.connect();
  await client.query('BEGIN');
  try {
    for (const s of statements) await client.query(s);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  let released = false;
  return {
    client,
    async release() {
      if (released) return;
      released = true;
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

export const lockTable = (schema: string, table: string, mode = 'ACCESS EXCLUSIVE') => `LOCK TABLE ${qi(schema, table)} IN ${mode} MODE`;

export interface StepRow {
  step_id: string;
  phase: string;
  tenant: string | null;
  table_name: string | null;
  state: string;
  rows: string | null;
  error: string | null;
}

type Conn = string | Pick<pg.ClientBase, 'query'>;

/** Runs `fn` on the given client, or on a new connection to the given URL. */
async function onConn<T>(db: Conn, fn: (c: Pick<pg.ClientBase, 'query'>) => Promise<T>): Promise<T> {
  return typeof db === 'string' ? withClientImpl(db, fn) : fn(db);
}

/**
 * Polls `check` on ONE monitoring connection (new connections every few
 * milliseconds would cost more than the tool's own work) until it returns a
 * truthy value or `timeoutMs` passes (undefined).
 */
export async function poll<T>(
  url: string,
  check: (c: pg.Client) => Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
  everyMs = 20,
): Promise<T | undefined> {
  const c = new pg.Client({ connectionString: url, application_name: 'faults monitor' });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await waitFor(() => check(c), timeoutMs, everyMs);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** The steps of the latest run, from the journal (undefined while there is none). */
export async function latestSteps(db: Conn): Promise<StepRow[] | undefined> {
  try {
    return await onConn(
      db,
      async (c) =>
        (
          await c.query<StepRow>(
            `SELECT step_id, phase, tenant, table_name, state, rows::text AS rows, error FROM oasys_migrate.step
        WHERE run_id = (SELECT max(run_id) FROM oasys_migrate.run) ORDER BY ordinal`,
          )
        ).rows,
    );
  } catch {
    return undefined;
  }
}

export async function latestRun(db: Conn): Promise<{ run_id: string; state: string; error: string | null } | undefined> {
  try {
    return await onConn(db, async (c) => (await c.query(`SELECT run_id::text, state, error FROM oasys_migrate.run ORDER BY run_id DESC LIMIT 1`)).rows[0]);
  } catch {
    return undefined;
  }
}

/** Whether a session of the tool on this database waits on a heavyweight lock. */
export async function toolWaitsOnLock(db: Conn): Promise<boolean> {
  return onConn(
    db,
    async (c) =>
      (
        await c.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'oasys-migrate%' AND wait_event_type = 'Lock'`,
        )
      ).rows.length > 0,
  );
}

/** Waits until no session of the tool is left on the database (a killed client's backend goes away lazily). */
export async function waitNoToolSessions(url: string, timeoutMs = 15_000): Promise<boolean> {
  return !!(await poll(
    url,
    async (c) =>
      (await c.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'oasys-migrate%'`)).rows.length === 0,
    timeoutMs,
    30,
  ));
}

/**
 * Waits until the run is stopped in `phase`: every step of the earlier phases
 * done, a step of `phase` not done, and a tool session waiting on a lock.
 * `phase = 'verify'`: every step done, the run still running, a tool session
 * waiting on a lock. Returns a description of the journal, or undefined on timeout.
 */
export async function waitBlockedIn(url: string, phase: string, timeoutMs = 20_000, extra?: (steps: StepRow[]) => boolean): Promise<string | undefined> {
  return poll(
    url,
    async (c) => {
      const steps = await latestSteps(c);
      if (!steps || steps.length === 0) return undefined;
      if (extra && !extra(steps)) return undefined;
      if (phase === 'verify') {
        if (steps.some((s) => s.state !== 'done')) return undefined;
        if ((await latestRun(c))?.state !== 'running') return undefined;
      } else {
        const k = PHASE_ORDER.indexOf(phase);
        if (steps.some((s) => PHASE_ORDER.indexOf(s.phase) < k && s.state !== 'done')) return undefined;
        if (!steps.some((s) => s.phase === phase && s.state !== 'done')) return undefined;
      }
      if (!(await toolWaitsOnLock(c))) return undefined;
      return describeSteps(steps);
    },
    timeoutMs,
  );
}

/** Waits until `pred` holds on the journal and a tool session waits on a lock. */
export async function waitJournal(url: string, pred: (steps: StepRow[]) => boolean, timeoutMs = 20_000): Promise<string | undefined> {
  return poll(
    url,
    async (c) => {
      const steps = await latestSteps(c);
      if (!steps || steps.length === 0 || !pred(steps)) return undefined;
      if (!(await toolWaitsOnLock(c))) return undefined;
      return describeSteps(steps);
    },
    timeoutMs,
  );
}

export function describeSteps(steps: StepRow[]): string {
  const by = new Map<string, { done: number; total: number }>();
  for (const s of steps) {
    const e = by.get(s.phase) ?? { done: 0, total: 0 };
    e.total++;
    if (s.state === 'done') e.done++;
    by.set(s.phase, e);
  }
  return [...by].map(([p, e]) => `${p} ${e.done}/${e.total}`).join(', ');
}

/** Copy steps of `table` all done. */
export const copiedTable = (table: string) => (steps: StepRow[]) =>
  steps.filter((s) => s.phase === 'copy' && s.table_name === table).length > 0 &&
  steps.filter((s) => s.phase === 'copy' && s.table_name === table).every((s) => s.state === 'done');

// ---------------------------------------------------------------------------
// Independent checks of the data

/** The serial sequence of a table's column (qualified, quoted), or null. */
export async function serialSequence(url: string, schema: string, table: string, column: string): Promise<string | null> {
  const [r] = await sql<{ s: string | null }>(url, `SELECT pg_get_serial_sequence($1, $2) AS s`, [qi(schema, table), column]);
  return r.s;
}

type Q = Pick<pg.ClientBase, 'query'>;

async function columnsOf(c: Q, schema: string, table: string): Promise<string[]> {
  const r = await c.query<{ attname: string }>(
    `SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [qi(schema, table)],
  );
  return r.rows.map((x) => x.attname);
}

/** Count and order-free md5 of `columns` (each as text, so enums compare by label), optionally of one tenant. */
async function hashRows(
  c: Q,
  schema: string,
  table: string,
  columns: string[],
  tenantId?: string | number,
  tenantColumn = 'tenant_id',
): Promise<{ count: number; hash: string }> {
  const row = `ROW(${columns.map((x) => `${qi(x)}::text`).join(', ')})::text`;
  const where = tenantId === undefined ? '' : `WHERE ${qi(tenantColumn)}::text = $1`;
  const r = await c.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, md5(coalesce(string_agg(x.r, E'\\n' ORDER BY x.r COLLATE "C"), '')) AS h FROM (SELECT ${row} AS r FROM ${qi(schema, table)} ${where}) x`,
    tenantId === undefined ? [] : [String(tenantId)],
  );
  return { count: Number(r.rows[0].n), hash: r.rows[0].h };
}

/** One tenant table (source) against that tenant's rows of the unified table. */
export interface TargetShape {
  targetSchema?: string;
  tenantColumn?: string;
}

export async function compareOne(
  src: Q,
  tgt: Q,
  schema: string,
  tenantId: string | number,
  table: string,
  shape: TargetShape = {},
): Promise<{ source: { count: number; hash: string }; target: { count: number; hash: string } }> {
  const columns = await columnsOf(src, schema, table);
  return {
    source: await hashRows(src, schema, table, columns),
    target: await hashRows(tgt, shape.targetSchema ?? 'public', table, columns, tenantId, shape.tenantColumn),
  };
}

/**
 * Every (tenant, table): the source rows equal the unified rows of that tenant
 * (count and an order-free hash of every column as text — enums compare as
 * text); no unified row outside the migrated tenants (plus `extraRows` per
 * table, e.g. pre-existing rows), none with a NULL tenant_id, i.e. no row lost
 * or duplicated.
 */
export async function exactMigration(
  url: string,
  tenants: { schema: string; id: number | string }[],
  tables: string[] = TABLES,
  extraRows: Record<string, number> = {},
  targetUrl = url,
  shape: TargetShape = {},
): Promise<string[]> {
  const schema = shape.targetSchema ?? 'public';
  const col = qi(shape.tenantColumn ?? 'tenant_id');
  return withClientImpl(url, (src) =>
    withClientImpl(targetUrl, async (tgt) => {
      const problems: string[] = [];
      for (const table of tables) {
        let total = 0;
        for (const t of tenants) {
          const { source, target } = await compareOne(src, tgt, t.schema, t.id, table, shape);
          total += source.count;
          if (source.count !== target.count || source.hash !== target.hash) {
            problems.push(`${t.schema}/${table}: source ${source.count} rows (md5 ${source.hash}), unified ${target.count} rows (md5 ${target.hash})`);
          }
        }
        const r = await tgt.query<{ n: string; nulls: string }>(
          `SELECT count(*)::text AS n, count(*) FILTER (WHERE ${col} IS NULL)::text AS nulls FROM ${qi(schema, table)}`,
        );
        const expected = total + (extraRows[table] ?? 0);
        if (Number(r.rows[0].n) !== expected)
          problems.push(`${schema}.${table}: ${r.rows[0].n} rows in all, expected ${expected} (rows duplicated or foreign)`);
        if (Number(r.rows[0].nulls) !== 0) problems.push(`${schema}.${table}: ${r.rows[0].nulls} rows with a NULL tenant column`);
      }
      return problems;
    }),
  );
}

/**
 * The state a stopped run left is consistent: every copy step the journal
 * calls done has exactly its rows in the unified table, every other none.
 */
export async function journalMatchesData(url: string, tenants: { schema: string; id: number | string }[]): Promise<string[]> {
  const steps = (await latestSteps(url)) ?? [];
  return withClientImpl(url, async (c) => {
    const problems: string[] = [];
    for (const s of steps.filter((x) => x.phase === 'copy' && x.tenant !== null && x.table_name !== null)) {
      const t = tenants.find((x) => x.schema === s.tenant);
      if (!t) {
        problems.push(`journal names unknown tenant ${JSON.stringify(s.tenant)}`);
        continue;
      }
      const exists = (await c.query<{ r: string | null }>('SELECT to_regclass($1)::text AS r', [qi('public', s.table_name!)])).rows[0].r !== null;
      if (!exists) {
        if (s.state === 'done') problems.push(`${s.step_id}: done but public.${s.table_name} does not exist`);
        continue;
      }
      const { source, target } = await compareOne(c, c, t.schema, t.id, s.table_name!);
      if (s.state === 'done') {
        if (target.count !== source.count || target.hash !== source.hash)
          problems.push(`${s.step_id}: done (rows ${s.rows}) but unified has ${target.count}/${source.count} rows or another hash`);
        if (s.rows !== null && Number(s.rows) !== source.count) problems.push(`${s.step_id}: journal rows ${s.rows} ≠ source ${source.count}`);
      } else if (target.count !== 0) {
        problems.push(`${s.step_id}: ${s.state} but unified already holds ${target.count} rows of that tenant (half-written step)`);
      }
    }
    return problems;
  });
}

// ---------------------------------------------------------------------------
// CLI conveniences

/** Runs the CLI and expects `code`, with the output in the failure message. */
export async function cliExpect(args: string[], code: number, opts: CliOptions = {}): Promise<CliResult> {
  const r = await runCli(args, { timeoutMs: 40_000, ...opts });
  expectNoPassword(r);
  expect(r.code, `oasys-migrate ${args.map((a) => (a.includes('://') ? '<url>' : a)).join(' ')}\n${show(r)}`).toBe(code);
  return r;
}

/** The password of a connection URL (decoded), or '' when it has none. */
export function urlPassword(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}

/** The harness URL's password (in every --source the tests pass) appears in no output. */
export function expectNoPassword(r: CliResult): void {
  expectNoSecret(urlPassword(adminUrl()), { stdout: r.stdout, stderr: r.stderr });
}

/** Fails when `secret` (or its percent-encoded form) appears in any of `texts`. */
export function expectNoSecret(secret: string, texts: Record<string, string>): void {
  if (!secret) return;
  const forms = [...new Set([secret, encodeURIComponent(secret)])];
  for (const [where, text] of Object.entries(texts)) {
    for (const f of forms) expect(text.includes(f), `the password ${JSON.stringify(f)} appears in ${where}:\n${text.slice(0, 2000)}`).toBe(false);
  }
}

/** Sessions of the tool on any database of the server (cluster-wide). */
export async function toolPids(adminUrl: string, databases: string[]): Promise<{ pid: number; app: string; datname: string }[]> {
  return sql(
    adminUrl,
    `SELECT pid, application_name AS app, datname FROM pg_stat_activity WHERE application_name LIKE 'oasys-migrate%' AND datname = ANY($1) AND pid <> pg_backend_pid()`,
    [databases],
  );
}

// ---------------------------------------------------------------------------
// Stopping `run` in a chosen phase (fixture of fixtureDb: 3 tenants, 5 tables)

/**
 * How to stop `run` in one phase. `before` holds blockers before the CLI
 * starts; `arrive` (while the CLI runs) takes the phase's blocker at a moment
 * where it cannot block an earlier phase — while the copy is held at a gate —
 * opens the gates, and waits until the tool waits on the blocker in that
 * phase. Everything in `held` is rolled back after the signal.
 */
export interface PhaseScenario {
  phase: string;
  how: string;
  before(url: string, held: Held[]): Promise<void>;
  arrive(url: string, held: Held[]): Promise<string | undefined>;
}

/** Holds the copy of one source table of tenant globex (ACCESS EXCLUSIVE): the copy phase cannot finish. */
async function gate(url: string, held: Held[], table = 'audit_log'): Promise<Held> {
  const h = await holdTx(url, [lockTable('globex', table)], 'faults gate');
  held.push(h);
  return h;
}

const phaseDone = (phase: string) => (steps: StepRow[]) => steps.filter((s) => s.phase === phase).every((s) => s.state === 'done');

/** The scenarios' common start: the copy of globex.audit_log held (see gate). */
const holdGate = async (url: string, held: Held[]): Promise<void> => {
  await gate(url, held);
};

/**
 * Once the journal shows `after`, takes `lock` and releases the gate (held[0]): the copy goes on and
 * the `phase` step that needs that table waits on the lock.
 */
const releaseGateOnto =
  (after: (steps: StepRow[]) => boolean, lock: string, phase: string) =>
  async (url: string, held: Held[]): Promise<string | undefined> => {
    if (!(await waitJournal(url, after))) return undefined;
    held.push(await holdTx(url, [lock]));
    await held[0].release();
    return waitBlockedIn(url, phase);
  };

/** Gate on the copy, then an ALTER SEQUENCE on "LedgerEntry"'s id sequence (blocks its setval), then the gate opens: stops in `sequences`. */
async function stopAtSequences(url: string, held: Held[], g: Held): Promise<{ seq: Held; journal?: string }> {
  if (!(await waitJournal(url, phaseDone('tables')))) return { seq: g };
  const name = await serialSequence(url, 'public', 'LedgerEntry', 'id');
  const seq = await holdTx(url, [`ALTER SEQUENCE ${name} INCREMENT BY 1`], 'faults sequence blocker');
  held.push(seq);
  await g.release();
  return { seq, journal: await waitBlockedIn(url, 'sequences') };
}

export const PHASE_SCENARIOS: PhaseScenario[] = [
  {
    phase: 'tables',
    how: 'an uncommitted CREATE TABLE public.audit_log in another transaction: the tool’s CREATE TABLE waits on it',
    async before(url, held) {
      held.push(await holdTx(url, [`CREATE TABLE public.audit_log (blocker integer)`], 'faults ddl blocker'));
    },
    arrive: (url) => waitBlockedIn(url, 'tables'),
  },
  {
    phase: 'copy',
    how: 'ACCESS EXCLUSIVE on the source table globex.audit_log: the other copies finish, that one waits',
    before: holdGate,
    arrive: (url) => waitBlockedIn(url, 'copy', 20_000, (steps) => steps.some((s) => s.phase === 'copy' && s.state === 'done')),
  },
  {
    phase: 'keys',
    how: 'copy held at globex.audit_log; once accounts_account is copied, ACCESS EXCLUSIVE on public.accounts_account; copy released: its primary key waits',
    before: holdGate,
    arrive: releaseGateOnto(copiedTable('accounts_account'), lockTable('public', 'accounts_account'), 'keys'),
  },
  {
    phase: 'indexes',
    how: 'copy held at globex.audit_log; SHARE UPDATE EXCLUSIVE on public.audit_log (lets its copy through, audit_log has no key step, blocks CREATE INDEX); copy released: its tenant index build waits',
    before: holdGate,
    arrive: releaseGateOnto(phaseDone('tables'), lockTable('public', 'audit_log', 'SHARE UPDATE EXCLUSIVE'), 'indexes'),
  },
  {
    phase: 'foreign-keys',
    how: 'copy held; ACCESS EXCLUSIVE on the shared table public.auth_user (referenced by the tenant FKs); copy released: the FK steps wait',
    before: holdGate,
    arrive: releaseGateOnto(phaseDone('tables'), lockTable('public', 'auth_user'), 'foreign-keys'),
  },
  {
    phase: 'rls',
    how: 'copy held; ACCESS SHARE on public.audit_log (does not block its copy or index, blocks ENABLE ROW LEVEL SECURITY); copy released: its RLS step waits',
    before: holdGate,
    arrive: releaseGateOnto(phaseDone('tables'), lockTable('public', 'audit_log', 'ACCESS SHARE'), 'rls'),
  },
  {
    phase: 'sequences',
    how: 'copy held; ALTER SEQUENCE on "LedgerEntry"’s id sequence in an open transaction; copy released: its setval waits',
    before: holdGate,
    async arrive(url, held) {
      return (await stopAtSequences(url, held, held[0])).journal;
    },
  },
  {
    phase: 'analyze',
    how: 'stopped in sequences (as above); SHARE UPDATE EXCLUSIVE on public.audit_log; sequence released: its ANALYZE waits',
    before: holdGate,
    async arrive(url, held) {
      const s = await stopAtSequences(url, held, held[0]);
      if (!s.journal) return undefined;
      held.push(await holdTx(url, [lockTable('public', 'audit_log', 'SHARE UPDATE EXCLUSIVE')]));
      await s.seq.release();
      return waitBlockedIn(url, 'analyze');
    },
  },
  {
    phase: 'verify',
    how: 'stopped in sequences (as above); ACCESS EXCLUSIVE on the source table globex.audit_log (already copied); sequence released: every step done, verification waits reading the source',
    before: holdGate,
    async arrive(url, held) {
      const s = await stopAtSequences(url, held, held[0]);
      if (!s.journal) return undefined;
      held.push(await holdTx(url, [lockTable('globex', 'audit_log')]));
      await s.seq.release();
      return waitBlockedIn(url, 'verify');
    },
  },
];

export interface StoppedRun {
  result: CliResult;
  /** The journal when the signal was sent (phase done/total), or undefined when the phase was never reached. */
  journal: string | undefined;
}

/**
 * Starts `run` on the fixture database, stops it in `scenario.phase` and sends
 * `signal`; for SIGTERM the blockers are released shortly after, so the step
 * in flight can finish (the tool promises to stop after it). Returns the
 * CLI's result once it exited and its server sessions are gone.
 */
export async function stopRunIn(url: string, scenario: PhaseScenario, signal: NodeJS.Signals, args: string[] = []): Promise<StoppedRun> {
  const held: Held[] = [];
  let journal: string | undefined;
  let result: CliResult;
  try {
    await scenario.before(url, held);
    const { child, done } = startCliImpl(['run', '--source', url, '--concurrency', '2', ...args], { timeoutMs: 60_000 });
    try {
      journal = await scenario.arrive(url, held);
    } finally {
      child.kill(journal ? signal : 'SIGKILL');
    }
    if (signal !== 'SIGKILL') await sleepImpl(300);
    for (const h of held) await h.release();
    result = await done;
  } finally {
    for (const h of held) await h.release();
  }
  await waitNoToolSessions(url);
  return { result, journal };
}

// ---------------------------------------------------------------------------
// The kill suite, shared by kill.test.ts (SIGKILL) and kill-term.test.ts (SIGTERM)

const RUN_ARGS = ['--concurrency', '2'];

/** After a stopped run or revert: `run` again converges to the exact migration, tenant schemas untouched, then `revert` restores the pre-run target. */
export async function expectConvergesAndReverts(f: FixtureDb): Promise<void> {
  await cliExpect(['run', '--source', f.url, ...RUN_ARGS], 0);
  expect(await exactMigration(f.url, f.info.tenants), 'source vs unified rows per (tenant, table) after the resumed run').toEqual([]);
  expect((await latestRun(f.url))?.state).toBe('completed');
  expect(fpDiff(f.tenantFp, await fingerprint(f.url, { only: f.tenantSchemas })), 'tenant schemas unchanged').toEqual([]);
  await cliExpect(['revert', '--yes', '--source', f.url], 0);
  expect(fpDiff(f.targetFp, await targetFingerprint(f.url, f.tenantSchemas)), 'target after revert = before the run').toEqual([]);
  expect(fpDiff(f.tenantFp, await fingerprint(f.url, { only: f.tenantSchemas })), 'tenant schemas unchanged').toEqual([]);
}

/** What a signal must leave behind, right after the process is gone. */
export async function expectStoppedCleanly(f: FixtureDb, signal: NodeJS.Signals, s: StoppedRun, what: string): Promise<void> {
  expect(s.journal, `never got ${what} stopped where intended\n${show(s.result)}`).toBeDefined();
  expectNoPassword(s.result);
  if (signal === 'SIGKILL') {
    expect(s.result.signal, show(s.result)).toBe('SIGKILL');
  } else {
    expect.soft(s.result.code, `${signal} ${what}: exit code (SPEC §5: 130)\n${show(s.result)}`).toBe(130);
  }
  expect(await journalMatchesData(f.url, f.info.tenants), 'every copy step done in the journal has exactly its rows, every other none').toEqual([]);
  expect(fpDiff(f.tenantFp, await fingerprint(f.url, { only: f.tenantSchemas })), 'tenant schemas unchanged').toEqual([]);
}

/**
 * One case per phase, each in a fresh database: stop `run` there with
 * `signal`, check what it left, run again, compare independently, revert.
 * Then `revert` itself stopped by `signal` while it waits on a lock.
 */
export function defineKillSuite(signal: NodeJS.Signals): void {
  const reg = dbRegistry();
  let tpl: { make: () => Promise<FixtureDb> };
  beforeAll(async () => {
    tpl = await fixtureTemplate(signal === 'SIGKILL' ? 'kill' : 'term', reg);
  });
  afterAll(() => reg.dropAll());

  describe(`${signal} during run, in each phase`, () => {
    for (const sc of PHASE_SCENARIOS) {
      it(`${sc.phase}: ${signal === 'SIGKILL' ? 'the process dies' : 'exits 130'}; run again converges exactly; revert restores the pre-run target`, async () => {
        const f = await tpl.make();
        const s = await stopRunIn(f.url, sc, signal, RUN_ARGS);
        await expectStoppedCleanly(f, signal, s, `in ${sc.phase} (${sc.how})`);
        const run = await latestRun(f.url);
        expect.soft(run?.state, 'a stopped run is not recorded as finished').not.toMatch(/^(completed|reverted)$/);
        if (signal !== 'SIGKILL') expect.soft(run?.state, `after ${signal} in ${sc.phase} the run is recorded as interrupted`).toBe('interrupted');
        await expectConvergesAndReverts(f);
      });
    }
  });

  describe(`${signal} during revert`, () => {
    it('revert waits on a lock on public.audit_log and is stopped: the migration is intact or fully reverted; revert --yes again restores the pre-run target', async () => {
      const f = await tpl.make();
      await cliExpect(['run', '--source', f.url, ...RUN_ARGS], 0);
      const lock = await holdTx(f.url, [lockTable('public', 'audit_log')]);
      let r: CliResult;
      let blocked: boolean | undefined;
      try {
        const { child, done } = startCliImpl(['revert', '--yes', '--source', f.url], { timeoutMs: 60_000 });
        try {
          blocked = await poll(f.url, (c) => toolWaitsOnLock(c), 20_000);
        } finally {
          child.kill(blocked ? signal : 'SIGKILL');
        }
        if (signal !== 'SIGKILL') await sleepImpl(300);
        await lock.release();
        r = await done;
      } finally {
        await lock.release();
      }
      expect(blocked, `revert never waited on the lock\n${show(r)}`).toBe(true);
      expectNoPassword(r);
      if (signal === 'SIGKILL') expect(r.signal).toBe('SIGKILL');
      else expect.soft(r.code, `${signal} during revert: exit code (SPEC §5: 130)\n${show(r)}`).toBe(130);
      await waitNoToolSessions(f.url);
      const state = (await latestRun(f.url))?.state;
      if (state === 'reverted') {
        expect(fpDiff(f.targetFp, await targetFingerprint(f.url, f.tenantSchemas))).toEqual([]);
      } else {
        expect(state, 'a stopped revert leaves the run as it was').toBe('completed');
        expect(await exactMigration(f.url, f.info.tenants), 'the migration is intact after the stopped revert').toEqual([]);
      }
      expect(fpDiff(f.tenantFp, await fingerprint(f.url, { only: f.tenantSchemas }))).toEqual([]);
      await cliExpect(['revert', '--yes', '--source', f.url], 0);
      expect(fpDiff(f.targetFp, await targetFingerprint(f.url, f.tenantSchemas)), 'target after revert = before the run').toEqual([]);
      expect((await latestRun(f.url))?.state).toBe('reverted');
    });
  });
}

// ---------------------------------------------------------------------------
// Refusals (hostile and wrong input)

/** Writes a config file (JSON text as given, or an object as JSON) into a new temp dir. */
export function configFile(content: string | object): string {
  const file = path.join(tempDirImpl(), 'oasys.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

/**
 * Runs the CLI (with a --log-file) against `url` and asserts: exit `code`,
 * stderr matching every pattern of `names`, no oasys_migrate schema, the
 * fingerprint of the whole database unchanged, no secret in any output.
 */
export async function expectRefusal(
  url: string,
  args: string[],
  code: number,
  names: RegExp[],
  opts: { secrets?: string[]; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const before = await fingerprint(url);
  const hadState = await schemaExistsImpl(url, 'oasys_migrate');
  const log = path.join(tempDirImpl(), 'log.jsonl');
  const r = await runCli([...args, '--log-file', log], { timeoutMs: 30_000, env: opts.env });
  const logText = existsSync(log) ? readFileSync(log, 'utf8') : '';
  const shown = `oasys-migrate ${args.map((a) => (a.includes('://') ? '<url>' : a)).join(' ')}\n${show(r)}`;
  const said = `${r.stderr}\n${r.stdout}`; // plan prints its problems on stdout, errors go to stderr
  expect.soft(r.code, shown).toBe(code);
  for (const n of names) expect.soft(said, `the message names ${n}\n${shown}`).toMatch(n);
  expect.soft(r.stderr, `a message for people, not a crash\n${shown}`).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)|this is unexpected/);
  for (const s of [urlPassword(adminUrl()), ...(opts.secrets ?? [])]) expectNoSecret(s, { stdout: r.stdout, stderr: r.stderr, 'the log file': logText });
  const hasState = await schemaExistsImpl(url, 'oasys_migrate');
  if (!hadState) expect.soft(hasState, `no oasys_migrate schema was created\n${shown}`).toBe(false);
  expect.soft(fpDiff(before, await fingerprint(url)), `nothing changed in the database\n${shown}`).toEqual([]);
  // A refusal that wrongly created the state schema must not hide the same fault in the next case on this database.
  if (!hadState && hasState) await sql(url, 'DROP SCHEMA oasys_migrate CASCADE').catch(() => undefined);
  return r;
}
