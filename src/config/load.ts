/**
 * Resolves the effective configuration from, in order of precedence,
 * command-line flags > environment > config file > defaults (SPEC §3).
 * Every problem is a `UsageError` (exit 2) that names the flag, variable or
 * key path, says what to do, and never shows a password.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { passwordOf, registerSecret } from '../db/redact.js';
import { parseIntegerFlag } from './numbers.js';
import { DEFAULT_ID_COLUMN, DEFAULT_REGISTRY_TABLE, DEFAULT_SCHEMA_COLUMN, type FileConfig, identifierProblem, splitQualifiedName } from './schema.js';
import { connectionIssue, sameEndpoint } from './url.js';
import { readConfigFile } from './file.js';
import { dedupe, envValue } from './common.js';
import { LOG_LEVELS, type CliOptions, type LogLevel, type Origin, type ResolvedConfig, type TenantSelection } from './types.js';

export { LOG_LEVELS, type CliOptions, type LogLevel, type Origin, type RegistryRef, type ResolvedConfig, type TenantSelection } from './types.js';
export { DEFAULT_CONFIG_FILE } from './common.js';

export { configFingerprint } from './fingerprint.js';
export { formatPath } from './file.js';

export const MAX_CONCURRENCY = 64;

const TENANTS_HINT = 'give comma-separated schema names, e.g. --tenants acme,globex';
const URL_HINT =
  'use postgres://user@host:5432/dbname (percent-encode special characters of the password, e.g. "@" as %40), ' +
  'or libpq key=value pairs such as "host=db1 dbname=app"; leave it out to use the PG* environment variables';

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

  // Precedence, the same for every setting: flag > environment > config file > default.
  const onlyPick = precedence<string[] | undefined>(undefined, [
    ['flag --tenants', cli.tenants, (v: string) => parseTenantList(v, '--tenants', cwd)],
    ['env OASYS_TENANTS', envValue(env, 'OASYS_TENANTS'), (v: string) => parseTenantList(v, 'OASYS_TENANTS', cwd)],
  ]);
  const only = onlyPick.value;
  const onlyOrigin = onlyPick.origin;
  if (only) checkOnly(only, onlyOrigin === 'flag --tenants' ? '--tenants' : 'OASYS_TENANTS', tenants, exclude, file?.display);
  const skip = cli.excludeTenants === undefined ? undefined : parseTenantList(cli.excludeTenants, '--exclude-tenants', cwd);

  const { value: concurrency, origin: concurrencyOrigin } = precedence(Math.min(MAX_CONCURRENCY, Math.max(2, os.availableParallelism())), [
    ['flag --concurrency', cli.concurrency, (v: string | number) => parseConcurrency(v, '--concurrency')],
    ['env OASYS_CONCURRENCY', envValue(env, 'OASYS_CONCURRENCY'), (v: string) => parseConcurrency(v, 'OASYS_CONCURRENCY')],
    ['config file', f.concurrency, (v: number) => v],
  ]);

  // A whale table is copied in chunks of about this many rows (src/plan/chunks.ts): a kill redoes at most one.
  const { value: chunkRows } = precedence(1_000_000, [
    [
      'flag --chunk-rows',
      cli.chunkRows,
      (v: string | number) => parseIntegerFlag(v, '--chunk-rows', { min: 1000, meaning: 'rows per copy chunk of a big table' }),
    ],
    [
      'env OASYS_CHUNK_ROWS',
      envValue(env, 'OASYS_CHUNK_ROWS'),
      (v: string) => parseIntegerFlag(v, 'OASYS_CHUNK_ROWS', { min: 1000, meaning: 'rows per copy chunk of a big table' }),
    ],
    ['config file', f.chunkRows, (v: number) => v],
  ]);

  const { value: logLevel, origin: logLevelOrigin } = precedence<LogLevel>('info', [
    ['flag --log-level', cli.logLevel, (v: string) => parseLogLevel(v, '--log-level')],
    ['env OASYS_LOG_LEVEL', envValue(env, 'OASYS_LOG_LEVEL'), (v: string) => parseLogLevel(v, 'OASYS_LOG_LEVEL')],
  ]);

  const { value: logFile, origin: logFileOrigin } = precedence<string | undefined>(undefined, [
    [
      'flag --log-file',
      cli.logFile,
      (v: string) => {
        if (v.trim() === '') throw new UsageError('--log-file: the path is empty', 'give a file path, or leave the flag out');
        return path.resolve(cwd, v);
      },
    ],
    ['env OASYS_LOG_FILE', envValue(env, 'OASYS_LOG_FILE'), (v: string) => path.resolve(cwd, v)],
  ]);

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
    chunkRows,
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
    ...(cli.distribute === 'citus' ? { distribute: 'citus' as const } : {}),
    online: cli.online === true,
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
 * The first candidate that is set (flag, environment, config file — in that order), parsed,
 * with where it came from; else the default.
 */
function precedence<T>(fallback: T, candidates: [origin: Origin, raw: unknown, parse: (raw: never) => T][]): { value: T; origin: Origin } {
  for (const [origin, raw, parse] of candidates) if (raw !== undefined) return { value: parse(raw as never), origin };
  return { value: fallback, origin: 'default' };
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
    const known = new Set(tenants.schemas);
    const unknown = only.filter((s) => !known.has(s));
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
