/**
 * Features a source table may use that an older target server cannot
 * express (SPEC §1: source and target may be different majors, 14 to 18).
 * Planning either renders an equivalent the target has, or reports the table
 * with the version it needs — never a statement that fails half-way through
 * a run.
 */
export const MIN_VERSION = {
  /** UNIQUE … NULLS NOT DISTINCT (pg_index.indnullsnotdistinct). */
  nullsNotDistinct: 150000,
  /** ON DELETE SET NULL / SET DEFAULT (columns) (pg_constraint.confdelsetcols). */
  onDeleteSetColumns: 150000,
  /** GENERATED ALWAYS AS (…) VIRTUAL (attgenerated = 'v'). */
  virtualGenerated: 180000,
  /** CHECK (…) NOT ENFORCED (pg_constraint.conenforced). */
  notEnforced: 180000,
} as const;

export type VersionFeature = keyof typeof MIN_VERSION;

/** Whether a server of `versionNum` (server_version_num) has `feature`. */
export function supports(versionNum: number, feature: VersionFeature): boolean {
  return versionNum >= MIN_VERSION[feature];
}

/** "PostgreSQL 15" for 150000 or 150007. */
export function versionName(versionNum: number): string {
  return `PostgreSQL ${Math.floor(versionNum / 10000)}`;
}
