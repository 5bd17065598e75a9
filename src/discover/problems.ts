/**
 * Problems found while planning. `error` blocks `run` (exit 1); `warning` and
 * `info` are reported and do not. Codes are stable: CI jobs may match on them.
 */
export type Severity = 'error' | 'warning' | 'info';

export const ProblemCode = {
  NO_TENANTS: 'NO_TENANTS',
  ORPHAN_SCHEMA: 'ORPHAN_SCHEMA',
  MISSING_SCHEMA: 'MISSING_SCHEMA',
  DRIFT_MISSING_TABLE: 'DRIFT_MISSING_TABLE',
  DRIFT_MISSING_COLUMN: 'DRIFT_MISSING_COLUMN',
  DRIFT_EXTRA_COLUMN: 'DRIFT_EXTRA_COLUMN',
  DRIFT_COLUMN_TYPE: 'DRIFT_COLUMN_TYPE',
  DRIFT_NULLABILITY: 'DRIFT_NULLABILITY',
  DRIFT_ENUM_LABELS: 'DRIFT_ENUM_LABELS',
  /** A primary key, unique constraint/index, foreign key or check missing or different in some tenants (blocking). */
  DRIFT_CONSTRAINT: 'DRIFT_CONSTRAINT',
  /** A non-unique index missing or different in some tenants (warning: no row can fail it). */
  DRIFT_INDEX: 'DRIFT_INDEX',
  TARGET_CONFLICT: 'TARGET_CONFLICT',
  TARGET_MISSING_COLUMN: 'TARGET_MISSING_COLUMN',
  TARGET_REQUIRED_COLUMN: 'TARGET_REQUIRED_COLUMN',
  TARGET_TYPE_CONFLICT: 'TARGET_TYPE_CONFLICT',
  TENANT_COLUMN_EXISTS: 'TENANT_COLUMN_EXISTS',
  MAP_COLLISION: 'MAP_COLLISION',
  UNKNOWN_TABLE: 'UNKNOWN_TABLE',
  RLS_BYPASS_ROLE: 'RLS_BYPASS_ROLE',
  NOT_MIGRATED_OBJECT: 'NOT_MIGRATED_OBJECT',
  INDEX_NOT_TENANT_LEADING: 'INDEX_NOT_TENANT_LEADING',
  INDEX_SKIPPED: 'INDEX_SKIPPED',
  FK_DROPPED: 'FK_DROPPED',
  CHECK_SKIPPED: 'CHECK_SKIPPED',
  DEFAULT_DROPPED: 'DEFAULT_DROPPED',
  NO_PRIMARY_KEY: 'NO_PRIMARY_KEY',
  SHARED_TABLE_MISSING: 'SHARED_TABLE_MISSING',
  PRIVILEGE_MISSING: 'PRIVILEGE_MISSING',
  EXCLUSION_SKIPPED: 'EXCLUSION_SKIPPED',
  TARGET_POLICY_CONFLICT: 'TARGET_POLICY_CONFLICT',
  TENANT_IS_TARGET: 'TENANT_IS_TARGET',
  TARGET_HAS_TENANT_ROWS: 'TARGET_HAS_TENANT_ROWS',
  ALREADY_MIGRATED: 'ALREADY_MIGRATED',
  MIGRATING_ROLE: 'MIGRATING_ROLE',
  TARGET_VERSION: 'TARGET_VERSION',
  /** A same-name table merged into the shared one by natural key (info: what run does, with counts). */
  MERGE: 'MERGE',
  /** A merge that cannot be done as configured (blocking). */
  MERGE_INVALID: 'MERGE_INVALID',
  /** A column that looks like a content-type reference but has no foreign key: not translated (warning). */
  MERGE_UNTRANSLATED: 'MERGE_UNTRANSLATED',
  /** Citus readiness (src/plan/citus.ts): warnings for any target, blocking on a Citus target that cannot take them. */
  CITUS_TARGET: 'CITUS_TARGET',
  CITUS_NOT_INSTALLED: 'CITUS_NOT_INSTALLED',
  CITUS_SHARED_REFERENCES_TENANT: 'CITUS_SHARED_REFERENCES_TENANT',
  CITUS_FK_ACTION: 'CITUS_FK_ACTION',
  CITUS_UNIQUE_WITHOUT_TENANT: 'CITUS_UNIQUE_WITHOUT_TENANT',
  CITUS_TENANT_ID_TYPE: 'CITUS_TENANT_ID_TYPE',
  CITUS_POLICY_FORM: 'CITUS_POLICY_FORM',
  CITUS_PARTITIONED: 'CITUS_PARTITIONED',
  CITUS_SEQUENCE: 'CITUS_SEQUENCE',
  CITUS_FILL_UNSUPPORTED: 'CITUS_FILL_UNSUPPORTED',
  /** run --online: wal_level, a free slot and WAL sender, the REPLICATION attribute (blocking). */
  ONLINE_PREREQUISITE: 'ONLINE_PREREQUISITE',
  /** run --online: a table whose changes cannot be applied (replica identity without the key; merged lookup tables) (blocking). */
  ONLINE_UNSUPPORTED: 'ONLINE_UNSUPPORTED',
  /** run --online: a table without a primary key, copied again during the cut-over's write stop (warning). */
  ONLINE_FROZEN: 'ONLINE_FROZEN',
  /** run --online into a separate target: shared tables copied once, whose writes during the run stop it (warning). */
  ONLINE_SHARED: 'ONLINE_SHARED',
  /** run --online with lookup tables merged by natural key: a tenant's copy changing during the run stops it (warning). */
  ONLINE_MERGED: 'ONLINE_MERGED',
  /** run --online: what it leaves on the source while it runs (info). */
  ONLINE_FOOTPRINT: 'ONLINE_FOOTPRINT',
  /** Free space where the target's tables go looks short of the estimate (warning; only where the server lets it be seen). */
  DISK_SPACE_SHORT: 'DISK_SPACE_SHORT',
  /** The server's lock table is too small for the transactions the run would open (blocking). */
  LOCK_TABLE_TOO_SMALL: 'LOCK_TABLE_TOO_SMALL',
} as const;
export type ProblemCodeValue = (typeof ProblemCode)[keyof typeof ProblemCode];

export interface Problem {
  severity: Severity;
  code: ProblemCodeValue;
  tenant?: string;
  table?: string;
  column?: string;
  message: string;
  hint?: string;
}

export function hasBlocking(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}

const order: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
export function sortProblems(problems: Problem[]): Problem[] {
  return problems.sort(
    (a, b) =>
      order[a.severity] - order[b.severity] ||
      a.code.localeCompare(b.code) ||
      (a.tenant ?? '').localeCompare(b.tenant ?? '') ||
      (a.table ?? '').localeCompare(b.table ?? ''),
  );
}
