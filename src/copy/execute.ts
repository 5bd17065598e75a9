import pLimit from 'p-limit';
import type pg from 'pg';
import { describeError, EnvironmentError, InterruptedError, isNetworkError } from '../errors.js';
import type { Session } from '../db/session.js';
import type { ReadBy } from '../db/warm.js';
import { backendPid } from '../db/connect.js';
import { PHASES, type CopyStep, type Phase, type Plan, type Step } from '../plan/model.js';
import { COPY_TENANT_SETTING, copyStatements, insertSelectSql, type CopySql } from '../plan/copySql.js';
import { claimSteps, markDone, markFailed } from '../state/journal.js';
import { retryOnLockTimeout, setLockTimeout, watchBlockers, type Blocker, type LockPolicy } from '../db/locks.js';
import { diagnoseCopyFailure, type Diagnosis } from './diagnose.js';
import { batchCopies, copyWaves } from './batch.js';
import { copyTasks } from './chunks.js';
import { isEnvironment, stepError } from './stepError.js';
import { streamCopy } from './stream.js';
import { batchCopySql, copyChecksumSql, ONE_SCAN_ROWS } from '../verify/closing.js';
import { runMerge } from '../merge/execute.js';

export interface Progress {
  phase: Phase;
  stepsDone: number;
  stepsTotal: number;
  rowsDone: number;
  rowsTotal: number;
}

export interface StopSignal {
  stopping: boolean;
}

export interface ExecuteOptions {
  session: Session;
  runId: number;
  plan: Plan;
  /** Steps already done in an earlier attempt of this run (skipped). */
  done: Map<string, number>;
  concurrency: number;
  stop: StopSignal;
  onProgress?: (p: Progress) => void;
  /** Same-database copies of small tenants are grouped up to this many rows per statement. */
  batchRows?: number;
  batchSteps?: number;
  /** True once the run lock's connection is gone: no new step may start. */
  lockLost?: () => boolean;
  /** Registers a callback for the moment the lock is lost. */
  onLockLost?: (fn: () => void) => void;
  /** How long a step waits for a table lock per attempt, and how often it tries (--lock-timeout). */
  lock?: LockPolicy;
  /**
   * Online mode: the snapshot every copy reads the source under (a replication slot's), made when the
   * copy phase starts, released when it ends (and by the caller on any error). Copies then go one
   * step at a time through COPY, whose source transaction can import it.
   */
  copySnapshot?: { open(): Promise<string>; close(): Promise<void> };
  /** Notes which connection copied which tenant tables (for run's closing verification). */
  readBy?: ReadBy;
}

/** Backends running steps now: cancelled at once if the run lock is lost, so two runs never overlap. */
const inflight = new Set<number>();

/** Phases where steps touch different tables and may run side by side. */
const PARALLEL: Set<Phase> = new Set(['shared', 'copy', 'keys', 'indexes', 'rls', 'sequences', 'analyze']);

/**
 * Executes the plan's pending steps phase by phase. Every unit of work commits
 * together with its journal entry, so a crash at any moment leaves each step
 * either done (and recorded) or not started; resuming redoes only the latter.
 */
export async function executePlan(o: ExecuteOptions): Promise<{ rowsCopied: number }> {
  o.onLockLost?.(() => {
    for (const pid of inflight) void o.session.target.query('SELECT pg_catalog.pg_cancel_backend($1)', [pid]).catch(() => undefined);
  });
  let rowsCopied = 0;
  const copyRowsTotal = o.plan.steps.filter((s) => s.copy).reduce((a, s) => a + s.copy!.estimatedRows, 0);
  let rowsDone = [...o.done.values()].reduce((a, b) => a + b, 0);
  for (const phase of PHASES) {
    const steps = o.plan.steps.filter((s) => s.phase === phase);
    if (steps.length === 0) continue;
    const pending = steps.filter((s) => !o.done.has(s.id));
    let stepsDone = steps.length - pending.length;
    const report = () => o.onProgress?.({ phase, stepsDone, stepsTotal: steps.length, rowsDone, rowsTotal: copyRowsTotal });
    report();
    if (pending.length === 0) continue;
    if (o.stop.stopping) throw new InterruptedError();
    const snapshot = phase === 'copy' && o.copySnapshot ? await o.copySnapshot.open() : undefined;

    const units: Step[][] =
      phase === 'copy' && o.plan.sameDatabase && !snapshot ? batchCopies(pending, o.batchRows ?? 50_000, o.batchSteps ?? 250) : pending.map((s) => [s]);
    const limit = pLimit(PARALLEL.has(phase) ? Math.max(1, o.concurrency) : 1);
    // Every step ends done, failed or not executed. A data error fails its own step and the
    // others go on; an environment error (connection, privilege, the run lock lost) stops the phase.
    const failures: { err: unknown; step: Step }[] = [];
    let fatal: unknown;
    const attempt = async (unit: Step[]): Promise<void> => {
      try {
        const rows = o.lock
          ? await retryOnLockTimeout(`step ${unit[0].id}${unit.length > 1 ? ` (and ${unit.length - 1} more)` : ''}`, o.lock, (report) =>
              runUnit(o, unit, report, snapshot),
            )
          : await runUnit(o, unit, () => undefined, snapshot);
        stepsDone += unit.length;
        rowsDone += rows;
        rowsCopied += rows;
        report();
      } catch (err) {
        if (unit.length > 1 && !isEnvironment(err)) {
          // A batch failed on data: redo its steps one by one so the error names the tenant, and the good ones land.
          const before = failures.length;
          for (const s of unit) {
            if (fatal !== undefined || o.stop.stopping) return;
            await attempt([s]);
          }
          // Every tenant went through alone: the batch statement, not the data, was at fault. Said, not hidden.
          if (failures.length === before && fatal === undefined && !o.stop.stopping)
            o.session.log.warn(
              `the batched copy of ${unit.length} tenants of "${unit[0].table}" failed (${describeError(err)}) but each of them copied alone: the run goes on, more slowly; please report this`,
            );
          return;
        }
        const lost = o.lockLost?.() === true;
        failures.push({ err: lost ? lockLostError() : err, step: unit[0] });
        if (lost || isEnvironment(err)) fatal ??= lost ? lockLostError() : err;
        await markFailed(
          o.session.target,
          o.runId,
          unit.map((s) => s.id),
          describeError(err),
        ).catch(() => undefined);
      }
    };
    // Tables filled while their foreign keys already exist (a second batch of tenants) take their
    // rows parents first, one wave per level; otherwise every copy may run side by side.
    for (const wave of phase === 'copy' ? copyWaves(o.plan, units) : [units]) {
      // A task is units run one after another: a whale's chunks in one database (chunks.ts).
      const tasks = phase === 'copy' ? copyTasks(wave, o.plan.sameDatabase, o.concurrency) : wave.map((u) => [u]);
      await Promise.all(
        tasks.map((task) =>
          limit(async () => {
            for (const unit of task) {
              if (fatal === undefined && o.lockLost?.()) fatal = lockLostError();
              if (fatal !== undefined || o.stop.stopping) return;
              const failed = failures.length;
              await attempt(unit);
              if (failures.length > failed) return;
            }
          }),
        ),
      );
      if (fatal !== undefined || failures.length > 0) break;
    }
    if (fatal instanceof EnvironmentError && failures.length === 0) throw fatal;
    if (failures.length > 0) {
      const f = failures.find((x) => isEnvironment(x.err)) ?? failures[0];
      let diagnosis: Diagnosis | undefined;
      if (f.step.copy && o.plan.sameDatabase && !isEnvironment(f.err)) {
        const table = o.plan.tables.find((t) => t.target === f.step.table);
        if (table)
          diagnosis = await diagnoseCopyFailure(
            o.session.target,
            table,
            f.step.copy,
            copyStatements(o.plan, f.step.copy).insertSelect!,
            table.sourceKey,
            f.err,
          );
      }
      throw stepError(f.err, f.step, diagnosis, failures.length, steps.length - failures.length);
    }
    if (snapshot) await o.copySnapshot!.close();
    if (o.stop.stopping) throw new InterruptedError();
  }
  return { rowsCopied };
}

function lockLostError(): EnvironmentError {
  return new EnvironmentError(
    'the connection holding the run lock was lost (terminated or dropped); stopping before another process can start',
    'check the server, then run `run` again: it resumes where it stopped (steps already done are never redone)',
  );
}

async function runUnit(o: ExecuteOptions, unit: Step[], report: (b: Blocker[]) => void, snapshot?: string): Promise<number> {
  if (unit[0].copy && (!o.plan.sameDatabase || snapshot)) return copyAcross(o, unit[0], report, snapshot);
  const client = await o.session.target.connect();
  const pid = backendPid(client);
  inflight.add(pid);
  const watch = o.lock ? watchBlockers(o.session.target, pid, o.lock) : undefined;
  let broken = false;
  try {
    if (o.lockLost?.()) throw lockLostError();
    await client.query('BEGIN');
    try {
      if (o.lock) await setLockTimeout(client, o.lock);
      const claimed = await claimSteps(
        client,
        o.runId,
        unit.map((s) => s.id),
      );
      const todo = unit.filter((s) => claimed.has(s.id));
      let rows: (number | null)[] = [];
      let snapshot: string | null = null;
      let checksums: (string | null)[] = [];
      if (todo.length > 0 && todo[0].copy) {
        // What the copy could see of the source: rows written later are found by `sourceWrites`.
        snapshot = (await client.query<{ s: string }>('SELECT pg_catalog.pg_current_snapshot()::text AS s')).rows[0].s;
        ({ rows, checksums } = await insertSelect(
          client,
          o.plan,
          todo.map((s) => s.copy!),
        ));
      } else if (todo.length > 0 && todo[0].merge !== undefined) {
        // Merge by natural key: reads the tenants' lookup rows from the source, writes the shared table and the mapping.
        rows = [await runMerge(client, o.session.source, o.plan, todo[0].merge, o.runId)];
      } else if (todo.length > 0) {
        if (todo[0].phase === 'indexes' || todo[0].phase === 'keys') await client.query(`SET LOCAL maintenance_work_mem = '256MB'`);
        for (const sql of todo[0].sql) await client.query(sql);
        rows = [null];
      }
      if (todo.length > 0)
        await markDone(
          client,
          o.runId,
          todo.map((s) => s.id),
          rows,
          snapshot,
          checksums,
        );
      await client.query('COMMIT');
      if (todo.length > 0 && todo[0].copy)
        o.readBy?.note(
          todo[0].copy.targetTable,
          pid,
          todo.map((s) => s.tenant ?? s.copy!.tenant),
        );
      return rows.reduce<number>((a, r) => a + (r ?? 0), 0);
    } catch (err) {
      broken = isNetworkError(err);
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw err;
    }
  } finally {
    watch?.stop();
    report(watch?.blockers() ?? []);
    inflight.delete(pid);
    client.release(broken);
  }
}

/**
 * Same database: rows never leave the server. Several tenants of one table go in one statement.
 * The same statement counts and hashes the source rows it copies (src/verify/closing.ts), under
 * the same snapshot, for the closing verification; those counts are the rows copied.
 */
async function insertSelect(client: pg.PoolClient, plan: Plan, copies: CopyStep[]): Promise<{ rows: number[]; checksums: (string | null)[] }> {
  const table = plan.tables.find((t) => t.target === copies[0].targetTable)!;
  const ids = copies.map((c) => c.tenantId);
  const oneScan = copies.length > 1 && copies.reduce((a, c) => a + c.estimatedRows, 0) <= ONE_SCAN_ROWS ? batchCopySql(plan, table, copies) : undefined;
  const check = oneScan === undefined ? copyChecksumSql(plan, table, copies, copies.length + 1) : undefined;
  if (oneScan !== undefined || check !== undefined) {
    const r = await client.query<{ schema: string; n: string; h: string }>(
      oneScan ?? `WITH ins AS (${insertSelectSql(plan, table, copies, false).sql})\n${check}`,
      [...ids, ...copies.map((c) => c.tenant)],
    );
    const by = new Map(r.rows.map((x) => [x.schema, x]));
    return { rows: copies.map((c) => Number(by.get(c.tenant)?.n ?? 0)), checksums: copies.map((c) => by.get(c.tenant)?.h ?? null) };
  }
  if (copies.length === 1) {
    // One tenant: its own statement (translated columns join the mappings on it).
    const r = await client.query(copyStatements(plan, copies[0]).insertSelect!, ids);
    return { rows: [r.rowCount ?? 0], checksums: [] };
  }
  const { sql } = insertSelectSql(plan, table, copies);
  const r = await client.query<{ t: string; n: string }>(sql, ids);
  const counts = new Map(r.rows.map((x) => [x.t, Number(x.n)]));
  return { rows: copies.map((c) => counts.get(c.tenantId) ?? 0), checksums: [] };
}

/**
 * Separate target: COPY out of the source streams straight into COPY into the
 * target, bytes untouched (binary where the types allow), with back-pressure
 * from the pipe. The tenant column is filled by its temporary default, which
 * reads a transaction-local setting bound as a parameter.
 */
async function copyAcross(o: ExecuteOptions, step: Step, report: (b: Blocker[]) => void, snapshot?: string): Promise<number> {
  const c = step.copy!;
  const src = await o.session.source.connect();
  let tgt: pg.PoolClient | undefined;
  let tgtPid: number | undefined;
  let watch: ReturnType<typeof watchBlockers> | undefined;
  let broken = false;
  try {
    tgt = await o.session.target.connect();
    tgtPid = backendPid(tgt);
    inflight.add(tgtPid);
    watch = o.lock ? watchBlockers(o.session.target, tgtPid, o.lock) : undefined;
    if (o.lockLost?.()) throw lockLostError();
    await tgt.query('BEGIN');
    try {
      if (o.lock) await setLockTimeout(tgt, o.lock);
      if (!(await claimSteps(tgt, o.runId, [step.id])).has(step.id)) {
        await tgt.query('ROLLBACK');
        return 0; // done by another process meanwhile
      }
      if (c.shared)
        for (const sql of step.sql) await tgt.query(sql); // create the shared table, then fill it
      else {
        // The tenant column's default reads rls.setting; a plan stored by an older version used a
        // temporary default reading COPY_TENANT_SETTING: both are set, transaction-local.
        await tgt.query('SELECT pg_catalog.set_config($1, $3, true), pg_catalog.set_config($2, $3, true)', [
          COPY_TENANT_SETTING,
          o.plan.rls.setting,
          c.tenantId,
        ]);
      }
      // An online same-database copy reads through COPY too: its source transaction imports the slot's snapshot.
      const statements = copyStatements(snapshot ? { ...o.plan, sameDatabase: false } : o.plan, c) as CopySql;
      const table = c.shared ? undefined : o.plan.tables.find((t) => t.target === c.targetTable);
      const check = table && copyChecksumSql(o.plan, table, [c], 1);
      const copied = await streamCopy(src, tgt, statements, c.tenantId, snapshot, check !== undefined ? { sql: check, schema: c.tenant } : undefined);
      await markDone(tgt, o.runId, [step.id], [copied.rows], copied.snapshot, [copied.checksum ?? null]);
      const rows = copied.rows;
      await tgt.query('COMMIT');
      if (!c.shared) o.readBy?.note(c.targetTable, backendPid(src), [c.tenant]);
      return rows;
    } catch (err) {
      broken = true; // a half-finished COPY leaves the connection unusable
      await tgt.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    watch?.stop();
    report(watch?.blockers() ?? []);
    if (tgtPid !== undefined) inflight.delete(tgtPid);
    src.release(broken);
    tgt?.release(broken);
  }
}
