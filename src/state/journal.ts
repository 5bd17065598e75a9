import os from 'node:os';
import type pg from 'pg';
import { sqlFile } from '../db/sqlFiles.js';
import { copyStepId, type Plan, type PlanFacts } from '../plan/model.js';
import { parseStoredPlan, StoredPlanError, storedPlanJson } from '../plan/stored.js';
import { WantingError } from '../errors.js';
import { withTransaction } from '../db/connect.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** following: an online run that copied everything and applies the source's changes until its cut-over. */
export type RunState = 'running' | 'following' | 'completed' | 'failed' | 'interrupted' | 'reverting' | 'reverted';

export interface RunRow {
  runId: number;
  state: RunState;
  configFingerprint: string;
  sourceFingerprint: string;
  startedAt: Date;
  finishedAt: Date | null;
  startedBy: string;
  rowsCopied: number;
  error: string | null;
  /** Where the run wrote: revert uses these, never the config it is run with. */
  targetSchema: string;
  tenantColumn: string;
  /** The transaction (xid8) that completed the run; null before completion or from an older version. */
  finishedXid: string | null;
}

/** Creates the state schema when missing (idempotent; `plan` never calls it). */
export async function ensureStateSchema(db: Queryable): Promise<void> {
  await db.query(sqlFile('state/schema'));
}

export async function stateSchemaExists(db: Queryable): Promise<boolean> {
  const r = await db.query<{ ok: boolean }>(`SELECT pg_catalog.to_regclass('oasys_migrate.run') IS NOT NULL AS ok`);
  return r.rows[0].ok;
}

const RUN_COLUMNS = `run_id AS "runId", state, config_fingerprint AS "configFingerprint", source_fingerprint AS "sourceFingerprint",
  started_at AS "startedAt", finished_at AS "finishedAt", started_by AS "startedBy", rows_copied::float8 AS "rowsCopied", error,
  target_schema AS "targetSchema", tenant_column AS "tenantColumn"`;

/**
 * The run columns, finished_xid included where the state schema has it (an older version's may
 * not, and a read-only command does not upgrade it). Asked of the catalog, not read through
 * to_jsonb(run): that converts the whole row, the stored plan too (60 MB at 50,000 tenants, ~1 s).
 */
async function runColumns(db: Queryable): Promise<string> {
  const has = (
    await db.query<{ has: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                       WHERE attrelid = 'oasys_migrate.run'::regclass AND attname = 'finished_xid' AND NOT attisdropped) AS has`,
    )
  ).rows[0].has;
  return `${RUN_COLUMNS}, ${has ? 'finished_xid' : 'NULL::text'} AS "finishedXid"`;
}

/** The latest run that did not complete and was not reverted: the one `run` resumes and `revert` undoes. */
export async function findUnfinishedRun(db: Queryable): Promise<RunRow | undefined> {
  const r = await db.query<RunRow>(
    `SELECT ${await runColumns(db)} FROM oasys_migrate.run WHERE state IN ('running', 'following', 'failed', 'interrupted', 'reverting') ORDER BY run_id DESC LIMIT 1`,
  );
  return r.rows[0];
}

export async function latestRun(db: Queryable): Promise<RunRow | undefined> {
  return (await db.query<RunRow>(`SELECT ${await runColumns(db)} FROM oasys_migrate.run ORDER BY run_id DESC LIMIT 1`)).rows[0];
}

export async function listRuns(db: Queryable): Promise<RunRow[]> {
  return (await db.query<RunRow>(`SELECT ${await runColumns(db)} FROM oasys_migrate.run ORDER BY run_id`)).rows;
}

/**
 * The plan a run executed, validated (src/plan/stored.ts). `fallbackRls` is used only for a plan
 * recorded by a version that did not store its RLS settings (format 1).
 */
export async function loadPlan(db: Queryable, runId: number, fallbackRls: { setting: string; force: boolean } = DEFAULT_RLS): Promise<Plan> {
  const raw = (await db.query<{ plan: unknown }>('SELECT plan FROM oasys_migrate.run WHERE run_id = $1', [runId])).rows[0].plan;
  return parsed(raw, runId, fallbackRls);
}

function parsed(raw: unknown, runId: number, fallbackRls: { setting: string; force: boolean }): Plan {
  try {
    return parseStoredPlan(raw, runId, fallbackRls);
  } catch (err) {
    if (!(err instanceof StoredPlanError)) throw err;
    throw new WantingError(err.message, 'finish or revert that run with the oasys-migrate version that recorded it; nothing was changed');
  }
}

/** A recorded run's plan without its steps, which are not even sent (verify: 250,000 copy steps at 50,000 tenants). */
export async function loadPlanFacts(db: Queryable, runId: number, fallbackRls: { setting: string; force: boolean } = DEFAULT_RLS): Promise<PlanFacts> {
  const raw = (await db.query<{ plan: Record<string, unknown> }>(`SELECT plan - 'steps' AS plan FROM oasys_migrate.run WHERE run_id = $1`, [runId])).rows[0]
    .plan;
  const { steps: _none, ...facts } = parsed({ ...raw, steps: [] }, runId, fallbackRls);
  return facts;
}

const DEFAULT_RLS = { setting: 'app.current_tenant', force: true };

/** Records a new run and all its steps as pending, in the caller's transaction. */
export async function createRun(db: Queryable, plan: Plan, configFingerprint: string, targetSchema: string, tenantColumn: string): Promise<number> {
  const r = await db.query<{ run_id: number }>(
    `INSERT INTO oasys_migrate.run (state, config_fingerprint, source_fingerprint, target_schema, tenant_column, same_database, plan, client_host, client_pid)
     VALUES ('running', $1, $2, $3, $4, $5, $6, $7, $8) RETURNING run_id`,
    [configFingerprint, plan.sourceFingerprint, targetSchema, tenantColumn, plan.sameDatabase, storedPlanJson(plan), os.hostname(), process.pid],
  );
  const runId = Number(r.rows[0].run_id);
  // In pages: five arrays of 250,000 (50,000 tenants) sent at once were a peak of run's memory.
  for (let first = 0; first < plan.steps.length; first += STEP_PAGE) {
    const page = plan.steps.slice(first, first + STEP_PAGE);
    await db.query(
      `INSERT INTO oasys_migrate.step (run_id, step_id, ordinal, phase, tenant, table_name)
       SELECT $1, s.id, $2::int + s.ord::int - 1, s.phase, s.tenant, s.tbl
         FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS s(id, phase, tenant, tbl, ord)`,
      [runId, first, page.map((s) => s.id), page.map((s) => s.phase), page.map((s) => s.tenant ?? null), page.map((s) => s.table ?? null)],
    );
  }
  // Fresh statistics, or every batch's journal update plans a scan of all 50,000 steps at 10,000 tenants.
  await db.query('ANALYZE oasys_migrate.step');
  await addEvent(db, runId, 'started', { tenants: plan.tenants.length, tables: plan.tables.length, steps: plan.steps.length });
  return runId;
}

const STEP_PAGE = 20_000;

export async function doneSteps(db: Queryable, runId: number): Promise<Map<string, number>> {
  const r = await db.query<{ step_id: string; rows: string | null }>(`SELECT step_id, rows FROM oasys_migrate.step WHERE run_id = $1 AND state = 'done'`, [
    runId,
  ]);
  return new Map(r.rows.map((x) => [x.step_id, Number(x.rows ?? 0)]));
}

/**
 * Claims steps at the start of the transaction that will do their work: locks
 * their journal rows and returns those not done yet. Two processes can never
 * both do a step — the second waits for the first to commit, then finds it
 * done — even if the run lock were lost.
 */
export async function claimSteps(db: Queryable, runId: number, stepIds: string[]): Promise<Set<string>> {
  const r = await db.query<{ step_id: string }>(
    `UPDATE oasys_migrate.step SET started_at = clock_timestamp()
      WHERE run_id = $1 AND step_id = ANY($2::text[]) AND state <> 'done'
      RETURNING step_id`,
    [runId, stepIds],
  );
  return new Set(r.rows.map((x) => x.step_id));
}

/** Marks steps done — call inside the transaction that claimed them and did their work. */
export async function markDone(
  db: Queryable,
  runId: number,
  stepIds: string[],
  rows: (number | null)[],
  sourceSnapshot: string | null = null,
  sourceChecksums: (string | null)[] = [],
): Promise<void> {
  const r = await db.query(
    `UPDATE oasys_migrate.step s SET state = 'done', rows = u.rows, error = NULL, finished_at = clock_timestamp(),
            source_snapshot = COALESCE($4, s.source_snapshot), source_checksum = u.h
       FROM unnest($2::text[], $3::int8[], $5::text[]) AS u(step_id, rows, h)
      WHERE s.run_id = $1 AND s.step_id = u.step_id AND s.state <> 'done'`,
    [runId, stepIds, rows, sourceSnapshot, stepIds.map((_, i) => sourceChecksums[i] ?? null)],
  );
  if (r.rowCount !== stepIds.length) {
    // Someone else finished one of these steps meanwhile: this transaction must not commit.
    throw new Error(`journal conflict: ${stepIds.length - (r.rowCount ?? 0)} of ${stepIds.length} steps were already done by another process`);
  }
  const copied = rows.reduce<number>((a, r) => a + (r ?? 0), 0);
  if (copied > 0) await db.query('UPDATE oasys_migrate.run SET rows_copied = rows_copied + $2 WHERE run_id = $1', [runId, copied]);
}

export async function markFailed(db: Queryable, runId: number, stepIds: string[], error: string): Promise<void> {
  await db.query(
    `UPDATE oasys_migrate.step SET state = 'failed', error = $3, finished_at = clock_timestamp()
      WHERE run_id = $1 AND step_id = ANY($2::text[]) AND state <> 'done'`,
    [runId, stepIds, error],
  );
}

export async function setRunState(db: Queryable, runId: number, state: RunState, error: string | null = null): Promise<void> {
  const final = state === 'completed' || state === 'reverted' || state === 'failed' || state === 'interrupted';
  await db.query(
    `UPDATE oasys_migrate.run SET state = $2, error = $3, finished_at = CASE WHEN $4 THEN clock_timestamp() ELSE NULL END,
            client_host = $5, client_pid = $6,
            finished_xid = CASE WHEN $2 = 'completed' THEN pg_catalog.pg_current_xact_id()::text ELSE finished_xid END
      WHERE run_id = $1`,
    [runId, state, error, final, os.hostname(), process.pid],
  );
  await addEvent(db, runId, state, error ? { error } : null);
}

/**
 * Stores the verification with the run, and each (tenant, table)'s verified checksum with its
 * copy step (SPEC §4: the journal holds each step's row count and checksum), in one transaction.
 * The results reach the server in pages, into a table that lives only in this transaction, and the
 * stored document and the steps' checksums are made from it there: at 50,000 tenants the document
 * is 63 MB of JSON, which sent as one parameter was the run's peak of memory (as text, then as a
 * buffer). The table is in oasys_migrate, which the migrating role owns: TEMP can be revoked.
 */
export async function saveVerify(
  pool: pg.Pool,
  runId: number,
  verify: { results: { tenant: string; table: string; targetChecksum: string; ok: boolean }[] },
  page = VERIFY_PAGE,
): Promise<void> {
  await withTransaction(pool, async (db) => {
    await db.query('CREATE UNLOGGED TABLE oasys_migrate.verify_stage (ord integer NOT NULL, step_id text, result jsonb NOT NULL)');
    const { results } = verify;
    for (let i = 0; i < results.length; i += page) {
      const part = results.slice(i, i + page);
      await db.query(
        `INSERT INTO oasys_migrate.verify_stage (ord, step_id, result)
         SELECT $1::int + x.i::int, x.id, x.r FROM ROWS FROM (pg_catalog.jsonb_array_elements($2::jsonb), unnest($3::text[])) WITH ORDINALITY AS x(r, id, i)`,
        [i, JSON.stringify(part), part.map((r) => (r.tenant === '(shared)' ? null : copyStepId(r.tenant, r.table)))],
      );
    }
    await db.query(
      `UPDATE oasys_migrate.run
          SET verify = pg_catalog.jsonb_set($2::jsonb, '{results}', COALESCE((SELECT pg_catalog.jsonb_agg(v.result ORDER BY v.ord) FROM oasys_migrate.verify_stage AS v), '[]'))
        WHERE run_id = $1`,
      [runId, JSON.stringify({ ...verify, results: [] })],
    );
    await db.query(
      `UPDATE oasys_migrate.step AS s SET checksum = CASE WHEN (v.result ->> 'ok')::boolean THEN v.result ->> 'targetChecksum' END
         FROM oasys_migrate.verify_stage AS v
        WHERE s.run_id = $1 AND s.step_id = v.step_id`,
      [runId],
    );
    await db.query('DROP TABLE oasys_migrate.verify_stage');
  });
}

const VERIFY_PAGE = 5_000;

export async function addEvent(db: Queryable, runId: number | null, kind: string, detail: unknown): Promise<void> {
  await db.query('INSERT INTO oasys_migrate.event (run_id, kind, detail) VALUES ($1, $2, $3)', [runId, kind, detail === null ? null : JSON.stringify(detail)]);
}

export interface StepRow {
  stepId: string;
  phase: string;
  tenant: string | null;
  table: string | null;
  state: string;
  rows: number | null;
  checksum: string | null;
  error: string | null;
}

export async function stepsOf(db: Queryable, runId: number): Promise<StepRow[]> {
  const r = await db.query<StepRow>(
    `SELECT step_id AS "stepId", phase, tenant, table_name AS "table", state, rows::float8 AS rows, checksum, error
       FROM oasys_migrate.step WHERE run_id = $1 ORDER BY ordinal`,
    [runId],
  );
  return r.rows;
}

/** Completed runs that were not reverted, with the tenant schemas they migrated (their rows are in the target). */
export async function completedRuns(db: Queryable): Promise<(RunRow & { tenants: string[] })[]> {
  const r = await db.query<RunRow & { tenants: string[] | null }>(
    `SELECT ${await runColumns(db)}, (SELECT array_agg(t->>'schema') FROM jsonb_array_elements(plan->'tenants') t) AS tenants
       FROM oasys_migrate.run WHERE state = 'completed' ORDER BY run_id`,
  );
  return r.rows.map((x) => ({ ...x, tenants: x.tenants ?? [] }));
}
