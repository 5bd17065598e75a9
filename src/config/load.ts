/**
 * Resolves the effective configuration from, in order of precedence,
 * command-line flags > environment > config file > defaults (SPEC §3).
 * Every problem is a `UsageError` (exit 2) that names the flag, variable or
 * key path, says what to do, and never shows a password.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import { UsageError } from '../errors.js';
import { passwordOf, registerSecret } from '../db/redact.js';
import { JsonSyntaxError, parseJsonStrict } from './json.js';
import { parseIntegerFlag } from './numbers.js';
import {
  ALLOWED_KEYS,
  ConfigFileSchema,
  DEFAULT_ID_COLUMN,
  DEFAULT_REGISTRY_TABLE,
  DEFAULT_SCHEMA_COLUMN,
  type FileConfig,
  identifierProblem,
  splitQualifiedName,
} from './schema.js';
import { connectionIssue, sameEndpoint } from './url.js';

export interface CliOptions {
  config?: string;
  source?: string;
  target?: string;
  /** comma list, or @file (one schema per line, # comments) */
  tenants?: string;
  /** --exclude-tenants: comma list or @file; these selected tenants are left out of this invocation */
  excludeTenants?: string;
  concurrency?: string | number;
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
  /** run --recopy: tenants whose rows are replaced in the unified tables of the latest run */
  recopy?: string[];
  /** where source, target, only, concurrency, logLevel and logFile came from */
  origins?: { source: Origin; target: Origin; only: Origin; concurrency: Origin; logLevel: Origin; logFile: Origin };
}

export const DEFAULT_CONFIG_FILE = 'oasys-migrate.config.json';
export const MAX_CONCURRENCY = 64;

const TENANTS_HINT = 'give comma-separated schema names, e.g. --tenants acme,globex';
const URL_HINT =
  'use postgres://user@host:5432/dbname (percent-encode special characters of the password, e.g. "@" as %40), ' +
  'or libpq key=value pairs such as "host=db1 dbname=app"; leave it out to use the PG* environment variables';

/** A set environment variable, trimmed; empty counts as unset. */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

interface LoadedFile {
  path: string;
  display: string;
  data: FileConfig;
}

export function loadConfig(cli: CliOptions, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): ResolvedConfig {
  const file = readConfigFile(cli, env, cwd);
  const f: FileConfig = file?.data ?? {};
  const fileLabel = file ? `config file ${file.display}: ` : '';

  // Connections.
  const source = pickConnection([
    ['--source', cli.source, 'flag --source'],
    ['OASYS_SOURCE_URL', envValue(env, 'OASYS_SOURCE_URL'), 'env OASYS_SOURCE_URL'],
    ['DATABASE_URL', envValue(env, 'DATABASE_URL'), 'env DATABASE_URL'],
    [`${fileLabel}source`, f.source, 'config file'],
  ]);
  const target = pickConnection([
    ['--target', cli.target, 'flag --target'],
    ['OASYS_TARGET_URL', envValue(env, 'OASYS_TARGET_URL'), 'env OASYS_TARGET_URL'],
    [`${fileLabel}target`, f.target, 'config file'],
  ]);
  for (const c of [source.value, target.value]) registerSecret(passwordOf(c));
  // The PG* variables fill what the strings leave out: refuse those the tool cannot honour now, as usage errors.
  checkConnectionEnv('source', source, env);
  if (target.value !== undefined) checkConnectionEnv('target', target, env);
  const sameDatabase = target.value === undefined || sameEndpoint(source.value, target.value, env);

  // Tenants.
  const t = f.tenants ?? {};
  let tenants: TenantSelection;
  if (t.schemas) tenants = { mode: 'schemas', schemas: [...t.schemas] };
  else if (t.pattern !== undefined) tenants = { mode: 'pattern', pattern: t.pattern };
  else {
    const { schema, table } = splitQualifiedName(t.registry?.table ?? DEFAULT_REGISTRY_TABLE);
    tenants = {
      mode: 'registry',
      registry: {
        schema,
        table,
        schemaColumn: t.registry?.schemaColumn ?? DEFAULT_SCHEMA_COLUMN,
        idColumn: t.registry?.idColumn ?? DEFAULT_ID_COLUMN,
      },
      explicit: t.registry !== undefined,
    };
  }
  const exclude = dedupe(['public', ...(t.exclude ?? [])]);

  let only: string[] | undefined;
  let onlyOrigin: Origin = 'default';
  if (cli.tenants !== undefined) {
    only = parseTenantList(cli.tenants, '--tenants', cwd);
    onlyOrigin = 'flag --tenants';
  } else if (envValue(env, 'OASYS_TENANTS') !== undefined) {
    only = parseTenantList(env.OASYS_TENANTS as string, 'OASYS_TENANTS', cwd);
    onlyOrigin = 'env OASYS_TENANTS';
  }
  if (only) checkOnly(only, onlyOrigin === 'flag --tenants' ? '--tenants' : 'OASYS_TENANTS', tenants, exclude, file?.display);
  const skip = cli.excludeTenants === undefined ? undefined : parseTenantList(cli.excludeTenants, '--exclude-tenants', cwd);

  // Concurrency.
  let concurrency = Math.min(MAX_CONCURRENCY, Math.max(2, os.availableParallelism()));
  let concurrencyOrigin: Origin = 'default';
  if (cli.concurrency !== undefined) {
    concurrency = parseConcurrency(cli.concurrency, '--concurrency');
    concurrencyOrigin = 'flag --concurrency';
  } else if (envValue(env, 'OASYS_CONCURRENCY') !== undefined) {
    concurrency = parseConcurrency(env.OASYS_CONCURRENCY as string, 'OASYS_CONCURRENCY');
    concurrencyOrigin = 'env OASYS_CONCURRENCY';
  } else if (f.concurrency !== undefined) {
    concurrency = f.concurrency;
    concurrencyOrigin = 'config file';
  }

  // Logging and output.
  let logLevel: LogLevel = 'info';
  let logLevelOrigin: Origin = 'default';
  if (cli.logLevel !== undefined) {
    logLevel = parseLogLevel(cli.logLevel, '--log-level');
    logLevelOrigin = 'flag --log-level';
  } else if (envValue(env, 'OASYS_LOG_LEVEL') !== undefined) {
    logLevel = parseLogLevel(env.OASYS_LOG_LEVEL as string, 'OASYS_LOG_LEVEL');
    logLevelOrigin = 'env OASYS_LOG_LEVEL';
  }

  let logFile: string | undefined;
  let logFileOrigin: Origin = 'default';
  if (cli.logFile !== undefined) {
    if (cli.logFile.trim() === '') throw new UsageError('--log-file: the path is empty', 'give a file path, or leave the flag out');
    logFile = path.resolve(cwd, cli.logFile);
    logFileOrigin = 'flag --log-file';
  } else if (envValue(env, 'OASYS_LOG_FILE') !== undefined) {
    logFile = path.resolve(cwd, env.OASYS_LOG_FILE as string);
    logFileOrigin = 'env OASYS_LOG_FILE';
  }

  const color = cli.color !== false && !env.NO_COLOR;

  return {
    source: source.value,
    target: target.value,
    sameDatabase,
    tenants,
    exclude,
    only,
    skip,
    targetSchema: f.targetSchema ?? 'public',
    tenantColumn: f.tenantColumn ?? 'tenant_id',
    tables: {
      include: f.tables?.include ? [...f.tables.include] : undefined,
      exclude: [...(f.tables?.exclude ?? ['django_migrations'])],
      map: { ...(f.tables?.map ?? {}) },
      partial: [...(f.tables?.partial ?? [])],
      // Only when given (the resolved config of a file without it stays as it was).
      ...(f.tables?.merge ? { merge: Object.fromEntries(Object.entries(f.tables.merge).map(([k, v]) => [k, [...v]])) } : {}),
    },
    rls: { setting: f.rls?.setting ?? 'app.current_tenant', force: f.rls?.force ?? true },
    concurrency,
    logLevel,
    logFile,
    json: cli.json === true,
    quiet: cli.quiet === true,
    yes: cli.yes === true,
    color,
    sql: cli.sql === true,
    lockTimeoutMs: cli.lockTimeout === undefined ? 5_000 : parseDuration(cli.lockTimeout, '--lock-timeout'),
    discardWrites: cli.discardWrites === true,
    recopy: cli.recopy === undefined ? undefined : parseTenantList(cli.recopy, '--recopy'),
    configFile: file?.path,
    origins: {
      source: source.origin,
      target: target.value === undefined ? 'default' : target.origin,
      only: onlyOrigin,
      concurrency: concurrencyOrigin,
      logLevel: logLevelOrigin,
      logFile: logFileOrigin,
    },
  };
}

/**
 * A short stable hash of the settings that change what `run` does: tenant
 * selection (mode, registry, schemas, pattern, exclude), targetSchema,
 * tenantColumn, tables and rls. Not URLs, concurrency, output flags, nor
 * `only` (--tenants narrows which steps an invocation does, not how a step is
 * done). Independent of key order and of the order of lists that are sets.
 */
export function configFingerprint(cfg: ResolvedConfig): string {
  const t = cfg.tenants;
  const tenants =
    t.mode === 'registry'
      ? { mode: t.mode, registry: t.registry }
      : t.mode === 'schemas'
        ? { mode: t.mode, schemas: sorted(t.schemas) }
        : { mode: t.mode, pattern: t.pattern };
  const material = {
    v: 1,
    tenants,
    exclude: sorted(cfg.exclude),
    targetSchema: cfg.targetSchema,
    tenantColumn: cfg.tenantColumn,
    tables: {
      include: cfg.tables.include ? sorted(cfg.tables.include) : null,
      exclude: sorted(cfg.tables.exclude),
      map: cfg.tables.map,
      // Only when given, so the fingerprint of every run recorded before the key existed stays the same.
      ...(cfg.tables.partial.length > 0 ? { partial: sorted(cfg.tables.partial) } : {}),
      ...(Object.keys(cfg.tables.merge ?? {}).length > 0 ? { merge: cfg.tables.merge } : {}),
    },
    rls: { setting: cfg.rls.setting, force: cfg.rls.force },
  };
  return createHash('sha256').update(canonicalJson(material)).digest('hex').slice(0, 16);
}

// ---------------------------------------------------------------------------

function sorted(list: readonly string[]): string[] {
  return dedupe(list).sort();
}

function dedupe(list: readonly string[]): string[] {
  return [...new Set(list)];
}

/** JSON with object keys sorted at every level. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return (
      '{' +
      Object.keys(o)
        .filter((k) => o[k] !== undefined)
        .sort()
        .map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k]))
        .join(',') +
      '}'
    );
  }
  return JSON.stringify(v ?? null);
}

function pickConnection(candidates: [label: string, value: string | undefined, origin: Origin][]): { value?: string; origin: Origin } {
  for (const [label, value, origin] of candidates) {
    if (value === undefined) continue;
    const issue = connectionIssue(value);
    if (issue) throw new UsageError(`${label}: ${issue.message}`, issue.hint ?? URL_HINT, { keyPath: label });
    return { value: value.trim(), origin };
  }
  return { value: undefined, origin: 'default' };
}

function checkConnectionEnv(role: string, picked: { value?: string; origin: Origin }, env: NodeJS.ProcessEnv): void {
  const issue = connectionIssue(picked.value, env);
  if (issue) {
    const label = picked.value === undefined ? `${role} (from the PG* environment)` : `${role} (${picked.origin})`;
    throw new UsageError(`${label}: ${issue.message}`, issue.hint ?? URL_HINT, { keyPath: role });
  }
}

/**
 * A comma-separated list of schema names, or `@file`: one schema per line, `#`
 * starts a comment, blank lines ignored (a schema name may hold commas there).
 */
function parseTenantList(raw: string, label: string, cwd: string = process.cwd()): string[] {
  let names: string[];
  if (raw.trim().startsWith('@')) {
    const file = path.resolve(cwd, raw.trim().slice(1));
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(
        `${label}: cannot read the tenant list ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        'give @<file> with one schema name per line (# starts a comment)',
        { keyPath: label },
      );
    }
    // A line whose first character is # is a comment, and so is the rest of a line after whitespace and #.
    names = text
      .split(/\r?\n/)
      .map((l) =>
        l
          .replace(/^\s*#.*$/, '')
          .replace(/\s+#.*$/, '')
          .trim(),
      )
      .filter((l) => l.length > 0);
    if (names.length === 0)
      throw new UsageError(`${label}: the tenant list ${file} names no schema`, 'one schema name per line; # starts a comment', { keyPath: label });
  } else {
    names = raw.split(',');
  }
  const list = dedupe(names.map((s) => s.trim()).filter((s) => s.length > 0));
  if (list.length === 0) throw new UsageError(`${label}: no schema names in ${JSON.stringify(raw)}`, TENANTS_HINT);
  for (const name of list) {
    const problem = identifierProblem(name);
    if (problem) throw new UsageError(`${label}: ${problem}`, TENANTS_HINT);
  }
  return list;
}

/** What configuration alone can tell about --tenants; discovery checks the rest against the database. */
function checkOnly(only: string[], label: string, tenants: TenantSelection, exclude: string[], fileDisplay?: string): void {
  const excluded = only.filter((s) => exclude.includes(s));
  if (excluded.length > 0) {
    throw new UsageError(
      `${label}: ${excluded.map((s) => JSON.stringify(s)).join(', ')} ${excluded.length === 1 ? 'is' : 'are'} excluded (tenants.exclude${excluded.includes('public') ? '; "public" is the shared schema, never a tenant' : ''})`,
      'name tenant schemas only',
    );
  }
  if (tenants.mode === 'schemas') {
    const unknown = only.filter((s) => !tenants.schemas.includes(s));
    if (unknown.length > 0) {
      throw new UsageError(
        `${label}: unknown tenant ${unknown.map((s) => JSON.stringify(s)).join(', ')}: not in tenants.schemas${fileDisplay ? ` of ${fileDisplay}` : ''}`,
        `choose from: ${tenants.schemas.join(', ')}`,
      );
    }
  }
}

/** "5s", "500ms", "2min", "1.5s" or a number of milliseconds; at least 1 ms, at most an hour. */
export function parseDuration(raw: string | number, label: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min)?\s*$/.exec(String(raw));
  const ms = m ? Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'min' ? 60_000 : 1) : NaN;
  if (!Number.isFinite(ms) || ms < 1 || ms > 3_600_000) {
    throw new UsageError(`${label}: "${String(raw)}" is not a duration between 1ms and 60min`, `e.g. ${label} 5s, ${label} 500ms or ${label} 2min`);
  }
  return Math.round(ms);
}

function parseConcurrency(raw: string | number, label: string): number {
  return parseIntegerFlag(raw, label, { min: 1, max: MAX_CONCURRENCY, meaning: 'the number of tenant tables copied at once' });
}

function parseLogLevel(raw: string, label: string): LogLevel {
  const v = raw.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new UsageError(`${label} must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(raw)})`, undefined, {
    keyPath: label,
  });
}

// --- the config file --------------------------------------------------------

function readConfigFile(cli: CliOptions, env: NodeJS.ProcessEnv, cwd: string): LoadedFile | undefined {
  let display: string;
  let via: string;
  if (cli.config !== undefined) {
    display = cli.config;
    via = '--config';
  } else if (envValue(env, 'OASYS_CONFIG') !== undefined) {
    display = (env.OASYS_CONFIG as string).trim();
    via = 'OASYS_CONFIG';
  } else {
    const fallback = path.join(cwd, DEFAULT_CONFIG_FILE);
    if (!existsSync(fallback)) return undefined;
    display = `./${DEFAULT_CONFIG_FILE}`;
    via = '';
  }
  if (display.trim() === '') throw new UsageError(`${via}: the config file path is empty`, 'give a file path, or leave it out');
  const abs = path.resolve(cwd, display);

  let text: string;
  try {
    if (statSync(abs).isDirectory()) {
      throw new UsageError(`config file ${display} is a directory`, 'name a JSON file');
    }
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') {
      throw new UsageError(
        `config file ${display} does not exist (given by ${via}${abs !== display ? `; looked for ${abs}` : ''})`,
        `check the path given to ${via}, or leave it out to use ./${DEFAULT_CONFIG_FILE} when present`,
        { keyPath: via },
      );
    }
    throw new UsageError(
      `cannot read config file ${display}: ${code === 'EACCES' ? 'permission denied' : (code ?? String(err))}`,
      'check the file and its permissions',
    );
  }

  let raw: unknown;
  try {
    raw = parseJsonStrict(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) {
      throw new UsageError(
        `config file ${display}: invalid JSON at line ${err.line}, column ${err.column} (position ${err.offset}): ${err.message}`,
        'fix the JSON syntax there (double-quoted keys and strings, no trailing commas, no comments)',
        { keyPath: err.path ? formatPath(err.path) : undefined },
      );
    }
    throw err;
  }

  const parsed = ConfigFileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = dedupe(parsed.error.issues.flatMap((i) => formatIssue(i, raw)));
    const first = parsed.error.issues[0];
    throw new UsageError(
      lines.map((l) => `config file ${display}: ${l}`).join('\n'),
      `fix ${lines.length === 1 ? 'the key' : 'the keys'} named above in ${display}; the top-level keys are ${ALLOWED_KEYS[''].join(', ')}`,
      { keyPath: first ? formatPath(first.path as (string | number)[]) : undefined },
    );
  }
  return { path: abs, display, data: parsed.data };
}

/** `tenants.registry.table`, `tenants.schemas[1]`, `tables.map["odd.name"]`; '(root)' for the top. */
export function formatPath(p: readonly PropertyKey[]): string {
  if (p.length === 0) return '(root)';
  let out = '';
  for (const seg of p) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += (out ? '.' : '') + seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

function valueAt(root: unknown, p: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const seg of p) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function typeName(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'number' : `number ${v}`;
  return typeof v;
}

const EXPECTED_NAMES: Record<string, string> = {
  int: 'integer',
  object: 'object',
  array: 'array',
  string: 'string',
  boolean: 'boolean (true or false)',
  number: 'number',
  record: 'object',
};

/** Where zod's own type name is less precise than what the key needs. */
const EXPECTED_AT: Record<string, string> = { concurrency: 'integer' };

function formatIssue(issue: z.core.$ZodIssue, raw: unknown): string[] {
  const where = formatPath(issue.path as PropertyKey[]);
  switch (issue.code) {
    case 'invalid_type': {
      const got = valueAt(raw, issue.path as PropertyKey[]);
      const expected = EXPECTED_AT[where] ?? EXPECTED_NAMES[issue.expected] ?? issue.expected;
      if (got === undefined) return [`${where}: missing (expected ${expected})`];
      return [`${where}: expected ${expected}, got ${typeName(got)}`];
    }
    case 'unrecognized_keys': {
      const allowed = ALLOWED_KEYS[issue.path.join('.')] ?? [];
      return issue.keys.map((key) => {
        const guess = closest(key, allowed);
        return (
          `unknown key ${JSON.stringify(key)} at ${where}` +
          (guess ? ` — did you mean ${JSON.stringify(guess)}?` : '') +
          (allowed.length ? ` (allowed here: ${allowed.join(', ')})` : '')
        );
      });
    }
    default:
      return [`${where}: ${issue.message}`];
  }
}

/** The allowed key nearest to a misspelt one (edit distance ≤ 2, or same ignoring case), if any. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const a of allowed) {
    const d = a.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, a);
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  return bestD <= 2 ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}
