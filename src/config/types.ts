/** The configuration's shapes: what the CLI passes in, and what every command gets out (SPEC §3). */
export interface CliOptions {
  config?: string;
  source?: string;
  target?: string;
  /** comma list, or @file (one schema per line, # comments) */
  tenants?: string;
  /** --exclude-tenants: comma list or @file; these selected tenants are left out of this invocation */
  excludeTenants?: string;
  concurrency?: string | number;
  /** --chunk-rows: a table above this many rows is copied in chunks */
  chunkRows?: string | number;
  json?: boolean;
  sql?: boolean;
  logFile?: string;
  logLevel?: string;
  quiet?: boolean;
  yes?: boolean;
  /** false from --no-color */
  color?: boolean;
  /** --lock-timeout: "5s", "500ms", "2min" or milliseconds */
  lockTimeout?: string | number;
  /** revert --discard-writes */
  discardWrites?: boolean;
  /** run --recopy a,b */
  recopy?: string;
  /** plan/run --distribute citus */
  distribute?: string;
  /** plan/run --online: copy while the application writes, then follow a replication slot */
  online?: boolean;
}

export interface RegistryRef {
  schema: string;
  table: string;
  schemaColumn: string;
  idColumn: string;
}

export type TenantSelection =
  /** explicit=false: the SPEC default public.customers_client(id, schema_name), used when that table exists (discovery decides). */
  { mode: 'registry'; registry: RegistryRef; explicit: boolean } | { mode: 'schemas'; schemas: string[] } | { mode: 'pattern'; pattern: string };

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** Where a value came from, for `--log-level debug` ("source from DATABASE_URL"). */
export type Origin = 'default' | 'config file' | `flag ${string}` | `env ${string}`;

export interface ResolvedConfig {
  /** undefined ⇒ libpq PG* environment */
  source?: string;
  /** undefined ⇒ same as source */
  target?: string;
  /** true when target is undefined or names the same database as source (host, port, database, user) */
  sameDatabase: boolean;
  tenants: TenantSelection;
  /** default ['public']; 'public' always excluded */
  exclude: string[];
  /** from --tenants a,b (restrict to these schemas) */
  only?: string[];
  /** from --exclude-tenants a,b (leave these schemas out of this invocation; like `only`, not part of the configuration's fingerprint) */
  skip?: string[];
  /** default 'public' */
  targetSchema: string;
  /** default 'tenant_id' */
  tenantColumn: string;
  /** exclude default ['django_migrations'] */
  /** partial: tables only some tenants have, migrated for those (default []) */
  /** merge: same-name tables merged into the public one by a natural key (table → key columns; default {}) */
  tables: { include?: string[]; exclude: string[]; map: Record<string, string>; partial: string[]; merge?: Record<string, string[]> };
  /** default 'app.current_tenant', true */
  rls: { setting: string; force: boolean };
  /** default: max(2, os.availableParallelism()), at most 64 */
  concurrency: number;
  /** A tenant table estimated above this many rows is copied in key-range chunks (default 1,000,000). */
  chunkRows: number;
  /** default 'info' */
  logLevel: LogLevel;
  logFile?: string;
  json: boolean;
  quiet: boolean;
  yes: boolean;
  color: boolean;
  sql: boolean;
  /** the path actually read (absolute), if any */
  configFile?: string;
  /** --lock-timeout (default 5 s): how long DDL on a table the application may use waits for its lock, per attempt */
  lockTimeoutMs: number;
  /** revert --discard-writes: revert even though the unified tables were written after the run */
  discardWrites?: boolean;
  /** --distribute citus: a Citus target even before the extension is seen (src/plan/citus.ts) */
  distribute?: 'citus';
  /** run --recopy: tenants whose rows are replaced in the unified tables of the latest run */
  recopy?: string[];
  /** plan/run --online (issue 14): prerequisites checked; the run copies under a slot's snapshot and follows it until `cutover` */
  online?: boolean;
  /** where source, target, only, concurrency, logLevel and logFile came from */
  origins?: { source: Origin; target: Origin; only: Origin; concurrency: Origin; logLevel: Origin; logFile: Origin };
}
