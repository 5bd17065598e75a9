import { describeError, EnvironmentError, InterruptedError, isEnvironmentSqlState, isNetworkError, pgFields, WantingError } from '../errors.js';
import type { Step } from '../plan/model.js';
import type { Diagnosis } from './diagnose.js';

/** An error that is the environment's (connection, privilege, the run lock lost): it stops the phase. */
export function isEnvironment(err: unknown): boolean {
  return err instanceof EnvironmentError || isNetworkError(err) || isEnvironmentSqlState(pgFields(err)?.code);
}

/** Turns a failed step's error into one that names the tenant, table, column and row, and says what to do. */
export function stepError(err: unknown, step: Step, diagnosis?: Diagnosis, failed = 1, others = 0): Error {
  if (err instanceof InterruptedError || err instanceof WantingError || err instanceof EnvironmentError) return err;
  const f = pgFields(err);
  const msg = describeError(err);
  const subject = step.copy?.shared
    ? `copying shared table ${step.table}`
    : step.tenant !== undefined
      ? `tenant "${step.tenant}", table "${step.copy?.sourceTable ?? step.table}"`
      : `step ${step.id}`;
  if (isEnvironment(err)) {
    return new EnvironmentError(
      `${subject}: the database environment failed: ${msg}`,
      'fix the cause (connection, privileges, disk space), then run `run` again: it resumes where it stopped',
      err,
      { tenant: step.tenant, table: step.table },
    );
  }
  const column = f?.column ?? diagnosis?.column ?? copyColumn(f?.where);
  const where = [
    diagnosis?.rowKey && `row ${diagnosis.rowKey}`,
    column && `column "${column}"`,
    f?.constraint && `constraint "${f.constraint}"`,
    copyLine(f?.where),
  ]
    .filter(Boolean)
    .join(', ');
  const collision = f?.code === '23505' && step.copy ? ' — a migrated row collides with a row already in the unified table (the key above names both)' : '';
  const tally = failed > 1 ? ` [${failed} steps of this phase failed; see \`oasys-migrate status\`]` : '';
  void others;
  return new WantingError(
    `${subject}: ${msg}${where ? ` (${where})` : ''}${collision}${tally}`,
    'this step was rolled back and nothing of it was written; fix the data (or the config) and run `run` again to resume, or `revert` to undo the run',
    { tenant: step.tenant, table: step.table, column, row: diagnosis?.rowKey },
    err,
  );
}

/** A COPY FROM error's context says `COPY t, line 12, column c: "…"`. */
function copyColumn(where: string | undefined): string | undefined {
  return where?.match(/^COPY [^,]+, line \d+, column ([^:]+):/)?.[1];
}

function copyLine(where: string | undefined): string | undefined {
  const m = where?.match(/^COPY [^,]+, line (\d+)/);
  return m ? `source row ${m[1]} of the COPY stream` : undefined;
}
