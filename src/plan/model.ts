import type { Problem } from '../discover/problems.js';
import type { MigratingRole, Tenant } from '../discover/model.js';

export type { MigratingRole };

/** A column of a unified table, ready for DDL and for the copy's select list. */
export interface UnifiedColumn {
  name: string;
  /** SQL type in the target, already quoted/qualified. */
  type: string;
  notNull: boolean;
  identity: '' | 'a' | 'd';
  /** A serial column: the unified table gets its own sequence. */
  serial: boolean;
  /** A default expression that is valid in the target, or null. */
  defaultExpr: string | null;
  /** Source values of a type local to each tenant schema are cast through text. */
  castViaText: boolean;
  /** Generated columns are recomputed by the target, never copied. */
  generatedExpr: string | null;
  /** A virtual generated column (PostgreSQL 18+), kept virtual on a target that has them. */
  generatedVirtual?: boolean;
}

export interface KeyDef {
  name: string;
  columns: string[];
  nullsNotDistinct?: boolean;
  deferrable?: boolean;
  deferred?: boolean;
}

export interface ForeignKeyDef {
  name: string;
  columns: string[];
  /** Target relation, already quoted. */
  refTable: string;
  /** For foreign keys to shared tables: the referenced table's schema and name, unquoted. */
  refSchema?: string;
  refTableName?: string;
  refColumns: string[];
  /** True when both ends are tenant tables: (tenant_id, …) on both sides. */
  tenantScoped: boolean;
  onUpdate: string;
  onDelete: string;
  /** ON DELETE SET NULL/DEFAULT (columns): the source's column list; absent or empty when it sets them all. */
  onDeleteSetColumns?: string[];
  matchFull: boolean;
  deferrable: boolean;
  deferred: boolean;
}

export interface IndexDef {
  name: string;
  /** The full CREATE INDEX statement for the target. */
  sql: string;
  tenantLeading: boolean;
}

export type TableAction = 'create' | 'fill';

export interface UnifiedTable {
  /** Table name in the tenant schemas. */
  source: string;
  /** Table name in targetSchema (after tables.map). */
  target: string;
  action: TableAction;
  /**
   * The tenants' table is partitioned: read through its root (all partitions). An ordinary
   * table is read ONLY, so an inheritance child's rows are not taken twice.
   */
  partitioned: boolean;
  /** Tenant schemas that hold this table. */
  tenants: string[];
  estimatedRows: number;
  /** Columns as created (create) or as filled (fill: the ones the tenants have). */
  columns: UnifiedColumn[];
  tenantColumnType: string;
  primaryKey?: KeyDef;
  /** The tenant tables' primary key columns (names a row in messages), when they have one. */
  sourceKey?: string[];
  uniques: KeyDef[];
  checks: { name: string; definition: string }[];
  foreignKeys: ForeignKeyDef[];
  indexes: IndexDef[];
  /** Columns whose sequence (serial or identity) must be moved past the highest migrated value. */
  sequenceColumns: string[];
  /** Local enum/domain types this table uses (names in targetSchema). */
  types: string[];
  /**
   * A pre-existing table with FORCE ROW LEVEL SECURITY while the migrating role is subject to it:
   * FORCE is lifted (for the owner only) when the run is recorded, and put back by the rls phase.
   */
  liftForce?: boolean;
  /** A filled table: what it was before the run (absent for tables the run creates). */
  existing?: ExistingTableFacts;
  /**
   * Unified tables this pre-existing table already references with foreign keys: their rows must be
   * copied first (a second batch of tenants fills tables whose keys the first batch created).
   */
  copyAfter?: string[];
}

/** A unified type made from the per-tenant-schema enum/domain of the same name. */
export interface UnifiedType {
  name: string;
  kind: 'e' | 'd';
  action: 'create' | 'exists';
  sql: string;
}

export type Phase = 'shared' | 'types' | 'tables' | 'copy' | 'keys' | 'indexes' | 'foreign-keys' | 'sequences' | 'analyze' | 'rls';
/**
 * RLS comes last: a migrating role that owns the tables without BYPASSRLS is itself
 * subject to a FORCEd policy, and the sequence reset must see every row.
 */
export const PHASES: Phase[] = ['shared', 'types', 'tables', 'copy', 'keys', 'indexes', 'foreign-keys', 'sequences', 'analyze', 'rls'];

/**
 * A shared table (the registry, or one that tenant tables reference, such as
 * public.auth_user) copied as it is into a separate target that lacks it.
 */
export interface SharedTable {
  schema: string;
  table: string;
  partitioned: boolean;
  columns: UnifiedColumn[];
  primaryKey: string[];
  /** Unique constraints' columns and check constraints' text, kept as they are (e.g. auth_user.username). */
  uniques: string[][];
  checks: string[];
}

/**
 * One unit of work. The same objects are printed by `plan --sql`, executed by
 * `run` (each in a transaction with its journal entry) and undone by `revert`.
 */
export interface Step {
  /** Stable across plans of the same database and config, e.g. `copy:acme:accounts_account`. */
  id: string;
  phase: Phase;
  /** Unified table (target name), when the step concerns one. */
  table?: string;
  /** Tenant schema, for copy steps. */
  tenant?: string;
  /** Statements run in order in one transaction (copy steps: see `copy`, and `stepStatements`). */
  sql: string[];
  /** For copy steps: what to read and where to write; the executor binds the tenant id. */
  copy?: CopyStep;
  /**
   * What the step does that `revert` must undo. The rollback snapshot is derived from these
   * (src/state/snapshot.ts), so a step that declares its effect cannot be forgotten by revert;
   * a step without effects changes nothing revert cares about (ANALYZE), or only objects that
   * another step creates (dropped with them).
   */
  effects?: Effect[];
}

export type Effect =
  /** A table this run creates (quoted, qualified): revert drops it. */
  | { kind: 'creates-table'; object: string }
  /** A type this run creates: revert drops it. */
  | { kind: 'creates-type'; object: string }
  /** A pre-existing unified table (target name) whose rows, keys, policies or defaults change: revert restores it. */
  | { kind: 'changes-table'; table: string };

/** What a pre-existing unified table looked like when planned: what revert puts back. */
export interface ExistingTableFacts {
  /** Its columns that hold data (not generated). */
  columns: string[];
  rlsEnabled: boolean;
  rlsForced: boolean;
  policies: string[];
  indexes: string[];
  tenantDefault: string | null;
}

export interface CopyStep {
  /** A shared table's copy: no tenant column to stamp (`tenant` is then the shared table's schema). */
  shared?: boolean;
  /** Tenant schema the rows come from. */
  tenant: string;
  tenantId: string;
  sourceTable: string;
  targetTable: string;
  estimatedRows: number;
  /** Separate target: COPY in binary (every type built in on both ends). */
  binary: boolean;
}


/**
 * The stored plan's format. Bumped whenever a field's meaning changes; a run
 * recorded with another version is read only where src/plan/stored.ts says how.
 */
export const PLAN_VERSION = 2;

/**
 * What the planner needs from the configuration, and nothing else (the whole
 * config with its connection strings and flags stays with the commands).
 */
export interface PlanSettings {
  targetSchema: string;
  tenantColumn: string;
  tables: { include?: string[]; exclude: string[]; map: Record<string, string>; partial: string[] };
  rls: { setting: string; force: boolean };
}

export interface Plan {
  version: number;
  /** The run's own RLS settings: verify, check-rls and revert read them here, not from today's config. */
  rls: { setting: string; force: boolean };
  tenants: Tenant[];
  /** The role the run uses on the target (absent in plans stored by older versions). */
  role?: MigratingRole;
  tenantColumn: string;
  tenantColumnType: string;
  targetSchema: string;
  sameDatabase: boolean;
  tables: UnifiedTable[];
  types: UnifiedType[];
  problems: Problem[];
  steps: Step[];
  /** Shared tables copied first into a separate target that lacks them (empty in one database). */
  shared: SharedTable[];
  /** A hash of every tenant's table definitions, to notice that the source changed under an interrupted run. */
  sourceFingerprint: string;
}

/** A source relation in a FROM clause: ONLY for ordinary tables (inheritance children are tables of their own). */
export function sourceRelation(qualified: string, partitioned: boolean): string {
  return partitioned ? qualified : `ONLY ${qualified}`;
}
