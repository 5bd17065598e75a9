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

export type Phase = 'shared' | 'types' | 'tables' | 'distribute' | 'merge' | 'copy' | 'keys' | 'indexes' | 'foreign-keys' | 'sequences' | 'analyze' | 'rls';
/**
 * RLS comes last: a migrating role that owns the tables without BYPASSRLS is itself
 * subject to a FORCEd policy, and the sequence reset must see every row.
 */
export const PHASES: Phase[] = ['shared', 'types', 'tables', 'distribute', 'merge', 'copy', 'keys', 'indexes', 'foreign-keys', 'sequences', 'analyze', 'rls'];

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
  /** For merge steps: the merged table (see MergeTable; executed by src/merge/execute.ts). */
  merge?: string;
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
  /** Never grouped with other tenants' copies (translated columns: its statement joins the mappings on $1). */
  alone?: boolean;
  /** One chunk of a big table (src/plan/chunks.ts): the rows whose integer key is in [from, to); no bound = open. */
  range?: CopyRange;
}

export interface CopyRange {
  column: string;
  /** Integers as text (checked digits: rendered into COPY, which takes no parameters). */
  from?: string;
  to?: string;
  /** 1-based chunk number and how many chunks the table has. */
  chunk: number;
  chunks: number;
}

/**
 * The stored plan's format. Bumped whenever a field's meaning changes; a run
 * recorded with another version is read only where src/plan/stored.ts says how.
 * 3: runs of plain copy steps of one table are stored as one entry (storedPlanJson).
 */
export const PLAN_VERSION = 3;

/** What a plan into a Citus cluster distributes (recorded in the plan: revert and the checks read it). */
export interface CitusPlan {
  /** Unified tables distributed by the tenant column, referenced ones first; all colocated with the first. */
  distributed: string[];
  /** Shared tables (the registry, those tenant tables reference) made reference tables, as `schema.table`. */
  reference: string[];
  /** Citus rejects sub-selects in policies: the setting is compared directly (src/plan/rls.ts). */
  policy: 'direct';
}

/**
 * What the planner needs from the configuration, and nothing else (the whole
 * config with its connection strings and flags stays with the commands).
 */
export interface PlanSettings {
  targetSchema: string;
  tenantColumn: string;
  tables: { include?: string[]; exclude: string[]; map: Record<string, string>; partial: string[]; merge?: Record<string, string[]> };
  rls: { setting: string; force: boolean };
  /** --distribute citus: plan for a Citus target even before discovery sees the extension (src/plan/citus.ts). */
  distribute?: 'citus';
  /** A tenant table estimated above this many rows is copied in key-range chunks (default: never). */
  chunkRows?: number;
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
  /** Tables merged into the shared table by natural key, in dependency order (absent in older stored plans). */
  merges?: MergeTable[];
  /** A hash of every tenant's table definitions, to notice that the source changed under an interrupted run. */
  sourceFingerprint: string;
  /** A Citus target: what is distributed and how (absent for plain PostgreSQL; src/plan/citus.ts). */
  citus?: CitusPlan;
}

/** A source relation in a FROM clause: ONLY for ordinary tables (inheritance children are tables of their own). */
export function sourceRelation(qualified: string, partitioned: boolean): string {
  return partitioned ? qualified : `ONLY ${qualified}`;
}

/**
 * A plan without its steps: all that verification reads. A recorded run's is loaded without
 * parsing its steps (loadPlanFacts): 250,000 copy steps at 50,000 tenants are verify's to skip.
 */
export type PlanFacts = Omit<Plan, 'steps'>;

/** A tenant's copy step: `copy:<tenant>:<unified table>` (a whale's chunks add `#<n>`). */
export function copyStepId(tenant: string, table: string): string {
  return `copy:${tenant}:${table}`;
}

/** The statements of a step that has none of its own (a copy: the executor renders it). Shared, never written. */
const NO_SQL: string[] = Object.freeze([]) as unknown as string[];

/** What the plain copy steps of one table share: one object per table (and binary-ness), not per tenant. */
export interface CopyFacts {
  sourceTable: string;
  targetTable: string;
  binary: boolean;
  effects: Effect[] | undefined;
}

/**
 * One tenant's rows of one table, as plan/steps.ts plans them and a stored plan's compact entry
 * says them (src/plan/stored.ts): no chunk, no translation. 250,000 of these at 50,000 tenants, so
 * each holds only its tenant, its table's shared facts and its estimate (48 bytes, where a plain
 * step with an id string and a copy object of its own took 176), and says the rest through
 * getters. `copy` is made anew on each read: never mutate it. Read-only; as JSON, the plain step.
 */
class PlainCopyStep implements Step {
  constructor(
    private readonly of: Tenant,
    private readonly facts: CopyFacts,
    private readonly estimatedRows: number,
  ) {}
  get id(): string {
    return copyStepId(this.of.schema, this.facts.targetTable);
  }
  get phase(): Phase {
    return 'copy';
  }
  get table(): string {
    return this.facts.targetTable;
  }
  get tenant(): string {
    return this.of.schema;
  }
  get sql(): string[] {
    return NO_SQL;
  }
  get effects(): Effect[] | undefined {
    return this.facts.effects;
  }
  get copy(): CopyStep {
    const { sourceTable, targetTable, binary } = this.facts;
    return { tenant: this.of.schema, tenantId: this.of.tenantId, sourceTable, targetTable, estimatedRows: this.estimatedRows, binary };
  }
  toJSON(): Step {
    return copyStepOf(this.copy, this.effects);
  }
}

/** Whether `s` is a plain copy step (plainCopyStep): stored by storedPlanJson as one entry with its table's others. */
export function isPlainCopyStep(s: Step): boolean {
  return s instanceof PlainCopyStep;
}

export function plainCopyStep(tenant: Tenant, facts: CopyFacts, estimatedRows: number): Step {
  return new PlainCopyStep(tenant, facts, estimatedRows);
}

/** Any other copy step (translated columns, a chunk): a plain object that holds its copy. */
export function copyStepOf(copy: CopyStep, effects: Effect[] | undefined): Step {
  return { id: copyStepId(copy.tenant, copy.targetTable), phase: 'copy', table: copy.targetTable, tenant: copy.tenant, sql: NO_SQL, copy, effects };
}

/** The plan's tenants among `schemas` (a table's, a merged table's), in plan order. */
export function tenantsAmong(plan: Pick<Plan, 'tenants'>, schemas: readonly string[]): Tenant[] {
  const among = new Set(schemas);
  return plan.tenants.filter((t) => among.has(t.schema));
}
