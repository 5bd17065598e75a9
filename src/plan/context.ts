import type { Catalog } from '../discover/model.js';
import type { Problem } from '../discover/problems.js';

/** What turning a table group into its unified table needs to know beyond the group itself. */
export interface TableContext {
  targetSchema: string;
  tenantColumn: string;
  tenantColumnType: string;
  /** tenant table name → unified table name (after tables.map), for every migrated table. */
  targetNames: Map<string, string>;
  /** The target schema's catalog (pre-existing unified or shared tables). */
  target: Catalog;
  /** The target server's server_version_num: which syntax the DDL may use. */
  targetVersionNum: number;
  tenantSchemas: Set<string>;
  /** Relation names already taken in targetSchema, plus every name this plan gives out. */
  usedNames: Set<string>;
  problems: Problem[];
  /** Tenant tables merged into the shared table of the same name (plan/merge.ts): references to them point there. */
  merged?: Set<string>;
}
