import type { Problem } from './problems.js';
import type { Tenant } from '../discover/model.js';

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
  /** Stored generated columns are recomputed by the target, never copied. */
  generatedExpr: string | null;
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
  /** Columns referring to a merged table (SPEC §4, Django's lookup tables): translated to the shared ids while copied. */
  translations?: Translation[];
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

export type Phase = 'shared' | 'types' | 'tables' | 'merge' | 'copy' | 'keys' | 'indexes' | 'foreign-keys' | 'sequences' | 'analyze' | 'rls';
/**
 * RLS comes last: a migrating role that owns the tables without BYPASSRLS is itself
 * subject to a FORCEd policy, and the sequence reset must see every row.
 */
export const PHASES: Phase[] = ['shared', 'types', 'tables', 'merge', 'copy', 'keys', 'indexes', 'foreign-keys', 'sequences', 'analyze', 'rls'];

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
  /** For merge steps: the merged table (see MergeTable; executed by src/merge/execute.ts). */
  merge?: string;
}

// ---- merge by natural key (SPEC §4 "Django's lookup tables", tables.merge) -------------------

/**
 * A same-name table in the shared schema and in the tenants whose tenant rows are merged into the
 * shared table by a natural key instead of becoming a unified table: matched rows take the shared
 * row's id, unmatched ones are added; the mapping (tenant, old id → shared id) is kept in
 * oasys_migrate.<mapTable> and every referring tenant column is translated through it.
 */
export interface MergeTable {
  table: string;
  /** The shared table it is merged into (in the target). */
  sharedSchema: string;
  /** The single-column primary key (Django's `id`) and its type in the shared table. */
  idColumn: string;
  idType: string;
  key: string[];
  /** Key columns that are themselves references to another merged table (auth_permission.content_type_id). */
  keyRefs: Record<string, string>;
  /** Columns written when a row is added (tenant and shared table both have them; id excluded), with the shared table's types. */
  columns: { name: string; type: string }[];
  tenants: string[];
  /** Merged without being named (django_content_type, auth_permission) or named in tables.merge. */
  auto: boolean;
  /** oasys_migrate table holding the id mapping. */
  mapTable: string;
  /** Filled by `plan` from the data (read-only): rows in the shared table, tenant rows matched, rows the tenants add. */
  counts?: { sharedRows: number; tenantRows: number; matched: number; added: number };
}

/** A column translated through a merged table's mapping while copied. */
export interface Translation {
  column: string;
  merged: string;
  /**
   * A GenericForeignKey's object id (merged = django_content_type): the content-type column it goes
   * with. When that content type is a merged model (auth.user …) the id is translated through
   * oasys_migrate.merge_objects; other objects keep their ids.
   */
  genericOf?: string;
}

export interface CopyStep {
  /** A shared table's copy: no tenant column to stamp. */
  shared?: boolean;
  tenant: string;
  tenantId: string;
  sourceTable: string;
  targetTable: string;
  estimatedRows: number;
  /** Same database: INSERT … SELECT with $1 = tenant id. */
  insertSelect: string;
  /** Separate target: COPY out of the source and into the target (tenant id from the session default). */
  copyOut: string;
  copyIn: string;
  binary: boolean;
  /**
   * Separate target, translated columns: copyIn fills a transaction-local staging table (created by
   * `create`), then `insert` ($1 = tenant id) moves the rows into the unified table through the mappings.
   */
  stage?: { create: string; insert: string };
  /** Never grouped with other tenants' copies (its statement joins the mappings on $1). */
  alone?: boolean;
}

/** The role the tool connects as to the target, and whether row-level security applies to it. */
export interface MigratingRole {
  name: string;
  superuser: boolean;
  bypassRls: boolean;
}

export interface Plan {
  tenants: Tenant[];
  /** The role the run uses on the target (absent in plans stored by older versions). */
  role?: MigratingRole;
  tenantColumn: string;
  tenantColumnType: string;
  /** rls.setting: the tenant column's default reads it, and a separate target's COPY sets it per tenant (absent in older stored plans). */
  tenantSetting?: string;
  targetSchema: string;
  sameDatabase: boolean;
  tables: UnifiedTable[];
  types: UnifiedType[];
  problems: Problem[];
  steps: Step[];
  /** Shared tables copied first into a separate target that lacks them (empty in one database). */
  shared: SharedTable[];
  /** Tables merged into the shared table by natural key, in dependency order (absent in older stored plans). */
  merges?: MergeTable[];
  /** A hash of every tenant's table definitions, to notice that the source changed under an interrupted run. */
  sourceFingerprint: string;
}

/** Every statement a step runs, for printing: a copy step's come from its `copy`. */
export function stepStatements(step: Step): string[] {
  const c = step.copy;
  if (!c) return step.sql;
  const copy = c.insertSelect ? [c.insertSelect] : c.stage ? [c.stage.create, c.copyOut, c.copyIn, c.stage.insert] : [c.copyOut, c.copyIn];
  return [...step.sql, ...copy];
}

/** A source relation in a FROM clause: ONLY for ordinary tables (inheritance children are tables of their own). */
export function sourceRelation(qualified: string, partitioned: boolean): string {
  return partitioned ? qualified : `ONLY ${qualified}`;
}
