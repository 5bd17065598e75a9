import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { configFingerprint, loadConfig, type CliOptions, type ResolvedConfig } from '../src/config/load.js';

// Pure unit tests: no database. Every config file lives in its own temp dir.

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'oasys-config-'));
  roots.push(dir);
  return dir;
}

/** A temp dir holding `name` with `content` (an object is written as JSON). */
function withFile(content: unknown, name = 'x.json'): { dir: string; file: string } {
  const dir = tempDir();
  const file = path.join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return { dir, file };
}

/** Loads with `./x.json` (relative to the temp dir) as --config, and no environment unless given. */
function loadFile(content: unknown, cli: CliOptions = {}, env: NodeJS.ProcessEnv = {}): ResolvedConfig {
  const { dir } = withFile(content);
  return loadConfig({ config: './x.json', ...cli }, env, dir);
}

function usageError(fn: () => unknown): UsageError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a UsageError').toBeInstanceOf(UsageError);
  const err = caught as UsageError;
  expect(err.exitCode).toBe(2);
  return err;
}

function fileError(content: unknown): UsageError {
  return usageError(() => loadFile(content));
}

const emptyDir = tempDir();

describe('defaults', () => {
  it('resolves every default with no flags, no environment and no file', () => {
    const cfg = loadConfig({}, {}, emptyDir);
    expect(cfg.source).toBeUndefined();
    expect(cfg.target).toBeUndefined();
    expect(cfg.sameDatabase).toBe(true);
    expect(cfg.tenants).toEqual({
      mode: 'registry',
      registry: { schema: 'public', table: 'customers_client', schemaColumn: 'schema_name', idColumn: 'id' },
      explicit: false,
    });
    expect(cfg.exclude).toEqual(['public']);
    expect(cfg.only).toBeUndefined();
    expect(cfg.targetSchema).toBe('public');
    expect(cfg.tenantColumn).toBe('tenant_id');
    expect(cfg.tables).toEqual({ include: undefined, exclude: ['django_migrations'], map: {}, partial: [] });
    expect(cfg.rls).toEqual({ setting: 'app.current_tenant', force: true });
    expect(cfg.concurrency).toBe(Math.min(64, Math.max(2, os.availableParallelism())));
    expect(cfg.logLevel).toBe('info');
    expect(cfg.logFile).toBeUndefined();
    expect(cfg).toMatchObject({ json: false, quiet: false, yes: false, color: true, sql: false });
    expect(cfg.configFile).toBeUndefined();
    expect(cfg.origins?.source).toBe('default');
  });

  it('passes output flags through', () => {
    const cfg = loadConfig({ json: true, quiet: true, yes: true, sql: true }, {}, emptyDir);
    expect(cfg).toMatchObject({ json: true, quiet: true, yes: true, sql: true });
  });
});

describe('precedence: flag > environment > config file > default', () => {
  const fileUrl = 'postgres://file@h/db';
  const dbUrl = 'postgres://dburl@h/db';
  const envUrl = 'postgres://envsrc@h/db';
  const flagUrl = 'postgres://flag@h/db';

  it.each([
    ['default', {}, {}, undefined, undefined],
    ['config file', {}, {}, fileUrl, fileUrl],
    ['DATABASE_URL beats the file', {}, { DATABASE_URL: dbUrl }, fileUrl, dbUrl],
    ['OASYS_SOURCE_URL beats DATABASE_URL', {}, { DATABASE_URL: dbUrl, OASYS_SOURCE_URL: envUrl }, fileUrl, envUrl],
    ['--source beats everything', { source: flagUrl }, { DATABASE_URL: dbUrl, OASYS_SOURCE_URL: envUrl }, fileUrl, flagUrl],
    ['an empty variable counts as unset', {}, { OASYS_SOURCE_URL: '', DATABASE_URL: dbUrl }, fileUrl, dbUrl],
  ] as const)('source: %s', (_name, cli, env, inFile, expected) => {
    const cfg = loadFile(inFile ? { source: inFile } : {}, cli, { ...env });
    expect(cfg.source).toBe(expected);
  });

  it.each([
    ['default', {}, {}, undefined, undefined],
    ['config file', {}, {}, 'postgres://file@h/t', 'postgres://file@h/t'],
    ['OASYS_TARGET_URL beats the file', {}, { OASYS_TARGET_URL: 'postgres://env@h/t' }, 'postgres://file@h/t', 'postgres://env@h/t'],
    [
      '--target beats the environment',
      { target: 'postgres://flag@h/t' },
      { OASYS_TARGET_URL: 'postgres://env@h/t' },
      'postgres://file@h/t',
      'postgres://flag@h/t',
    ],
  ] as const)('target: %s', (_name, cli, env, inFile, expected) => {
    const cfg = loadFile(inFile ? { target: inFile } : {}, cli, { ...env });
    expect(cfg.target).toBe(expected);
  });

  it('DATABASE_URL is not a target', () => {
    const cfg = loadConfig({}, { DATABASE_URL: 'postgres://u@h/db' }, emptyDir);
    expect(cfg.target).toBeUndefined();
    expect(cfg.sameDatabase).toBe(true);
  });

  it('concurrency: flag > OASYS_CONCURRENCY > file > default', () => {
    expect(loadFile({ concurrency: 3 }).concurrency).toBe(3);
    expect(loadFile({ concurrency: 3 }, {}, { OASYS_CONCURRENCY: '5' }).concurrency).toBe(5);
    expect(loadFile({ concurrency: 3 }, { concurrency: '7' }, { OASYS_CONCURRENCY: '5' }).concurrency).toBe(7);
    expect(loadFile({ concurrency: 3 }, { concurrency: 9 }, { OASYS_CONCURRENCY: '5' }).concurrency).toBe(9);
    const cfg = loadFile({ concurrency: 3 }, { concurrency: ' 8 ' }, {});
    expect(cfg.concurrency).toBe(8);
    expect(cfg.origins?.concurrency).toBe('flag --concurrency');
  });

  it('tenants restriction: --tenants > OASYS_TENANTS', () => {
    expect(loadConfig({}, { OASYS_TENANTS: 'b, c' }, emptyDir).only).toEqual(['b', 'c']);
    expect(loadConfig({ tenants: 'a' }, { OASYS_TENANTS: 'b,c' }, emptyDir).only).toEqual(['a']);
  });

  it('log level: flag > OASYS_LOG_LEVEL > default', () => {
    expect(loadConfig({}, {}, emptyDir).logLevel).toBe('info');
    expect(loadConfig({}, { OASYS_LOG_LEVEL: 'warn' }, emptyDir).logLevel).toBe('warn');
    expect(loadConfig({ logLevel: 'debug' }, { OASYS_LOG_LEVEL: 'warn' }, emptyDir).logLevel).toBe('debug');
    expect(loadConfig({ logLevel: 'ERROR' }, {}, emptyDir).logLevel).toBe('error');
  });

  it('log file: flag > OASYS_LOG_FILE, resolved against cwd', () => {
    expect(loadConfig({}, { OASYS_LOG_FILE: 'env.log' }, emptyDir).logFile).toBe(path.join(emptyDir, 'env.log'));
    expect(loadConfig({ logFile: '/tmp/flag.log' }, { OASYS_LOG_FILE: 'env.log' }, emptyDir).logFile).toBe('/tmp/flag.log');
  });

  it('colour: off with --no-color or any non-empty NO_COLOR', () => {
    expect(loadConfig({}, {}, emptyDir).color).toBe(true);
    expect(loadConfig({ color: true }, {}, emptyDir).color).toBe(true);
    expect(loadConfig({ color: false }, {}, emptyDir).color).toBe(false);
    expect(loadConfig({}, { NO_COLOR: '1' }, emptyDir).color).toBe(false);
    expect(loadConfig({ color: true }, { NO_COLOR: 'yes' }, emptyDir).color).toBe(false);
    expect(loadConfig({}, { NO_COLOR: '' }, emptyDir).color).toBe(true);
  });

  it('config file: --config > OASYS_CONFIG > ./oasys-migrate.config.json', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'oasys-migrate.config.json'), JSON.stringify({ tenantColumn: 'from_default' }));
    writeFileSync(path.join(dir, 'env.json'), JSON.stringify({ tenantColumn: 'from_env' }));
    writeFileSync(path.join(dir, 'flag.json'), JSON.stringify({ tenantColumn: 'from_flag' }));

    const byDefault = loadConfig({}, {}, dir);
    expect(byDefault.tenantColumn).toBe('from_default');
    expect(byDefault.configFile).toBe(path.join(dir, 'oasys-migrate.config.json'));

    const byEnv = loadConfig({}, { OASYS_CONFIG: 'env.json' }, dir);
    expect(byEnv.tenantColumn).toBe('from_env');
    expect(byEnv.configFile).toBe(path.join(dir, 'env.json'));

    const byFlag = loadConfig({ config: 'flag.json' }, { OASYS_CONFIG: 'env.json' }, dir);
    expect(byFlag.tenantColumn).toBe('from_flag');
    expect(byFlag.configFile).toBe(path.join(dir, 'flag.json'));
  });
});

describe('config file contents', () => {
  const specExample = {
    source: 'postgres://user@host:5432/db',
    target: 'postgres://user@host:5432/db2',
    tenants: {
      registry: { table: 'public.customers_client', schemaColumn: 'schema_name', idColumn: 'id' },
      exclude: ['public'],
    },
    targetSchema: 'public',
    tenantColumn: 'tenant_id',
    tables: { include: ['accounts_account'], exclude: ['django_migrations'], map: { auth_user: 'tenant_auth_user' } },
    rls: { setting: 'app.current_tenant', force: true },
    concurrency: 4,
  };

  it('accepts the SPEC §3 example', () => {
    const cfg = loadFile(specExample);
    expect(cfg.source).toBe('postgres://user@host:5432/db');
    expect(cfg.target).toBe('postgres://user@host:5432/db2');
    expect(cfg.sameDatabase).toBe(false);
    expect(cfg.tenants).toEqual({
      mode: 'registry',
      registry: { schema: 'public', table: 'customers_client', schemaColumn: 'schema_name', idColumn: 'id' },
      explicit: true,
    });
    expect(cfg.tables).toEqual({ include: ['accounts_account'], exclude: ['django_migrations'], map: { auth_user: 'tenant_auth_user' }, partial: [] });
    expect(cfg.concurrency).toBe(4);
    expect(cfg.origins?.source).toBe('config file');
  });

  it('splits registry.table on the first dot; no dot means public', () => {
    expect(loadFile({ tenants: { registry: { table: 'shared.tenants.v2' } } }).tenants).toMatchObject({
      registry: { schema: 'shared', table: 'tenants.v2', schemaColumn: 'schema_name', idColumn: 'id' },
    });
    expect(loadFile({ tenants: { registry: { table: 'clients', idColumn: 'uuid' } } }).tenants).toMatchObject({
      registry: { schema: 'public', table: 'clients', idColumn: 'uuid' },
    });
  });

  it('selects by schemas or by pattern', () => {
    expect(loadFile({ tenants: { schemas: ['acme', 'globex'] } }).tenants).toEqual({ mode: 'schemas', schemas: ['acme', 'globex'] });
    expect(loadFile({ tenants: { pattern: 'tenant_%' } }).tenants).toEqual({ mode: 'pattern', pattern: 'tenant_%' });
  });

  it('always excludes public', () => {
    expect(loadFile({ tenants: { exclude: ['legacy'] } }).exclude).toEqual(['public', 'legacy']);
    expect(loadFile({ tenants: { exclude: [] } }).exclude).toEqual(['public']);
  });

  it('reads tables.partial (tables only some tenants have)', () => {
    expect(loadFile({ tables: { partial: ['LedgerEntry'] } }).tables.partial).toEqual(['LedgerEntry']);
  });

  it('lets tables.exclude replace its default', () => {
    expect(loadFile({ tables: { exclude: [] } }).tables.exclude).toEqual([]);
  });

  it('accepts a byte-order mark', () => {
    expect(loadFile('\uFEFF{"tenantColumn":"tid"}').tenantColumn).toBe('tid');
  });
});

describe('config file errors (exit 2, naming the key path)', () => {
  it('a named file that does not exist names the path', () => {
    const err = usageError(() => loadConfig({ config: './nope.json' }, {}, emptyDir));
    expect(err.message).toContain('./nope.json');
    expect(err.message).toContain('does not exist');
    const viaEnv = usageError(() => loadConfig({}, { OASYS_CONFIG: 'missing.json' }, emptyDir));
    expect(viaEnv.message).toContain('missing.json');
    expect(viaEnv.message).toContain('OASYS_CONFIG');
  });

  it('malformed JSON names the file, the line and the column', () => {
    const err = fileError('{\n  "tenantColumn": "x",\n  "concurrency": 4,\n}\n');
    expect(err.message).toContain('config file ./x.json');
    expect(err.message).toContain('line 4, column 1');
    expect(err.message).toMatch(/trailing comma/);
  });

  it.each([
    ['', /empty/],
    ['{"a": }', /line 1, column 7/],
    ['{"a": 1', /unexpected end of file/],
    ["{'a': 1}", /double quotes/],
    ['{"a": 1} // note', /comments/],
    ['{"a": 01}', /malformed number/],
    ['[1, 2,]', /trailing comma/],
    ['{"a": "x\ny"}', /line break inside a string/],
  ])('malformed JSON %j', (text, pattern) => {
    const err = fileError(text);
    expect(err.message).toMatch(/invalid JSON|empty/);
    expect(err.message).toMatch(pattern);
  });

  it('a duplicate key is an error, not silently the last one', () => {
    const err = fileError('{"tenantColumn": "a", "tenantColumn": "b"}');
    expect(err.message).toContain('duplicate key "tenantColumn"');
    expect(err.message).toContain('line 1, column 23');
  });

  it('malformed JSON never echoes a password', () => {
    const err = fileError('{"source": "postgres://alice:hunter2-secret@db/app",}');
    expect(err.message).not.toContain('hunter2');
    expect(err.hint ?? '').not.toContain('hunter2');
  });

  it('a wrong type names the dotted key path and both types', () => {
    const err = fileError({ tenants: { registry: { table: 5 } } });
    expect(err.message).toBe('config file ./x.json: tenants.registry.table: expected string, got number');
    expect(err.hint).toMatch(/fix/);
    expect(err.context.keyPath).toBe('tenants.registry.table');
  });

  it('an unknown key is named with its place and a suggestion', () => {
    const err = fileError({ tenantz: { schemas: ['a'] } });
    expect(err.message).toContain('unknown key "tenantz" at (root)');
    expect(err.message).toContain('did you mean "tenants"?');
  });

  it('unknown keys are errors in nested objects too', () => {
    expect(fileError({ rls: { forced: true } }).message).toContain('unknown key "forced" at rls');
    expect(fileError({ tenants: { registry: { tabel: 'x' } } }).message).toContain('unknown key "tabel" at tenants.registry');
    expect(fileError({ tables: { excludes: [] } }).message).toContain('unknown key "excludes" at tables');
  });

  it('reports every issue, one line each', () => {
    const err = fileError({ concurrency: 0, tenantColumn: '', rls: { force: 'yes' }, bogus: 1 });
    const lines = err.message.split('\n');
    expect(lines).toHaveLength(4);
    for (const l of lines) expect(l.startsWith('config file ./x.json: ')).toBe(true);
    expect(err.message).toContain('concurrency: must be an integer from 1 to 64');
    expect(err.message).toContain('tenantColumn: must not be empty');
    expect(err.message).toContain('rls.force: expected boolean (true or false), got string');
    expect(err.message).toContain('unknown key "bogus" at (root)');
  });

  it.each([
    [{ tenants: { registry: { table: 'x' }, schemas: ['a'] } }, 'found registry and schemas'],
    [{ tenants: { schemas: ['a'], pattern: 't_%' } }, 'found schemas and pattern'],
    [{ tenants: { registry: {}, schemas: ['a'], pattern: 't_%' } }, 'found registry, schemas and pattern'],
  ])('more than one tenant selector: %j', (content, found) => {
    const err = fileError(content);
    expect(err.message).toContain('tenants: give only one of tenants.registry, tenants.schemas or tenants.pattern');
    expect(err.message).toContain(found);
  });

  it('every problem of a list is reported, not only the first', () => {
    const err = fileError({ tenants: { schemas: ['a', 'a', 'public'] } });
    expect(err.message).toContain('tenants.schemas[1]: "a" is listed twice');
    expect(err.message).toContain('tenants.schemas[2]: "public" is the shared schema');
  });

  it('three tables mapped to one name are listed together', () => {
    expect(fileError({ tables: { map: { a: 'x', b: 'x', c: 'x' } } }).message).toContain('"a", "b" and "c" are all mapped to "x"');
  });

  it('more than one tenant selector is reported even beside another error in tenants', () => {
    const err = fileError({ tenants: { registry: { table: 1 }, pattern: 't_%' } });
    expect(err.message).toContain('tenants.registry.table: expected string, got number');
    expect(err.message).toContain('give only one of');
  });

  it('two tables mapped to one target name names both keys', () => {
    const err = fileError({ tables: { map: { auth_user: 'users', accounts_user: 'users', other: 'fine' } } });
    expect(err.message).toContain('tables.map.accounts_user');
    expect(err.message).toContain('"auth_user" and "accounts_user" are all mapped to "users"');
  });

  it('a map target equal to an included unmapped table is a collision', () => {
    const err = fileError({ tables: { include: ['a', 'b'], map: { a: 'b' } } });
    expect(err.message).toContain('tables.map.a');
  });

  it.each([
    [{ tenants: { schemas: [] } }, 'tenants.schemas: must list at least one schema'],
    [{ tenants: { schemas: ['a', 'b', 'a'] } }, 'tenants.schemas[2]: "a" is listed twice'],
    [{ tenants: { schemas: ['public'] } }, 'tenants.schemas[0]: "public" is the shared schema'],
    [{ tenants: { schemas: ['a', ''] } }, 'tenants.schemas[1]: must not be empty'],
    [{ tenants: { schemas: ['x'.repeat(64)] } }, 'tenants.schemas[0]: "xxxx'],
    [{ tenants: { schemas: ['a', 'shared'] }, targetSchema: 'shared' }, 'tenants.schemas[1]: "shared" is also targetSchema'],
    [{ tenants: { pattern: '' } }, 'tenants.pattern: must not be empty'],
    [{ tenants: { exclude: 'public' } }, 'tenants.exclude: expected array, got string'],
    [{ tenants: { registry: { table: 'public.' } } }, 'tenants.registry.table: "public." must be "schema.table"'],
    [{ tenants: { registry: { table: 'a'.repeat(64) } } }, 'tenants.registry.table: table part:'],
    [{ tenants: { registry: { idColumn: '' } } }, 'tenants.registry.idColumn: must not be empty'],
    [{ targetSchema: 'é'.repeat(32) }, 'targetSchema: "éééé'],
    [{ targetSchema: 'oasys_migrate' }, 'targetSchema: "oasys_migrate" holds this tool\'s own state'],
    [{ targetSchema: 'pg_catalog' }, 'targetSchema: names a system schema'],
    [{ tenantColumn: 't'.repeat(64) }, 'tenantColumn: "tttt'],
    [{ tenantColumn: 7 }, 'tenantColumn: expected string, got number'],
    [{ tables: { include: [] } }, 'tables.include: must list at least one table'],
    [{ tables: { map: { a: '' } } }, 'tables.map.a: must not be empty'],
    [{ tables: { map: { a: 'b'.repeat(64) } } }, 'tables.map.a: "bbbb'],
    [{ tables: { map: { 'odd.name': 3 } } }, 'tables.map["odd.name"]: expected string, got number'],
    [{ tables: { map: [] } }, 'tables.map: expected object, got array'],
    [{ tables: { partial: 'LedgerEntry' } }, 'tables.partial: expected array, got string'],
    [{ tables: { partial: [3] } }, 'tables.partial[0]: expected string, got number'],
    [{ tables: { partial: ['a', 'a'] } }, 'tables.partial[1]: "a" is listed twice in tables.partial'],
    [{ rls: { setting: 'current_tenant' } }, 'rls.setting: "current_tenant" is not a custom setting name'],
    [{ rls: { setting: 'app.tenant.id' } }, 'rls.setting: "app.tenant.id" is not a custom setting name'],
    [{ rls: { setting: '1app.tenant' } }, 'rls.setting:'],
    [{ rls: { setting: 'app.current-tenant' } }, 'rls.setting:'],
    [{ concurrency: 0 }, 'concurrency: must be an integer from 1 to 64'],
    [{ concurrency: 65 }, 'concurrency: must be an integer from 1 to 64'],
    [{ concurrency: 2.5 }, 'concurrency: expected integer, got number 2.5'],
    [{ concurrency: '4' }, 'concurrency: expected integer, got string'],
    [{ source: 42 }, 'source: expected string, got number'],
    [[], '(root): expected object, got array'],
    ['null', '(root): expected object, got null'],
  ])('%j', (content, expected) => {
    const err = fileError(content);
    expect(err.message).toContain(`config file ./x.json: ${expected}`);
  });

  it('63 bytes is fine, 64 is not', () => {
    expect(loadFile({ tenantColumn: 'c'.repeat(63) }).tenantColumn).toHaveLength(63);
    expect(fileError({ tenantColumn: 'c'.repeat(64) }).message).toContain('64 bytes');
  });
});

describe('command-line and environment errors (exit 2, naming the flag)', () => {
  it.each(['abc', '0', '65', '1.5', '', '-1', '4x'])('--concurrency %j', (value) => {
    const err = usageError(() => loadConfig({ concurrency: value }, {}, emptyDir));
    expect(err.message).toContain('--concurrency');
    expect(err.message).toContain('1 to 64');
  });

  it('--concurrency as a non-integer number', () => {
    expect(usageError(() => loadConfig({ concurrency: 2.5 }, {}, emptyDir)).message).toContain('--concurrency');
  });

  it('OASYS_CONCURRENCY is named when it is the bad one', () => {
    expect(usageError(() => loadConfig({}, { OASYS_CONCURRENCY: 'lots' }, emptyDir)).message).toContain('OASYS_CONCURRENCY');
  });

  it('--log-level must be a known level', () => {
    const err = usageError(() => loadConfig({ logLevel: 'verbose' }, {}, emptyDir));
    expect(err.message).toContain('--log-level');
    expect(err.message).toContain('error, warn, info, debug');
    expect(usageError(() => loadConfig({}, { OASYS_LOG_LEVEL: 'loud' }, emptyDir)).message).toContain('OASYS_LOG_LEVEL');
  });

  it('--tenants: trims, drops empties, dedupes', () => {
    expect(loadConfig({ tenants: ' acme , ,globex,acme,' }, {}, emptyDir).only).toEqual(['acme', 'globex']);
  });

  it.each([' , ', '', ','])('--tenants %j with no names', (value) => {
    expect(usageError(() => loadConfig({ tenants: value }, {}, emptyDir)).message).toContain('--tenants');
  });

  it('--tenants naming an excluded schema or one outside tenants.schemas', () => {
    expect(usageError(() => loadConfig({ tenants: 'public' }, {}, emptyDir)).message).toContain('--tenants: "public" is excluded');
    const err = usageError(() => loadFile({ tenants: { schemas: ['acme'] } }, { tenants: 'acme,initech' }));
    expect(err.message).toContain('unknown tenant "initech"');
    expect(usageError(() => loadConfig({ tenants: 'a'.repeat(64) }, {}, emptyDir)).message).toContain('--tenants');
  });
});

describe('connection strings', () => {
  it('accepts postgres://, postgresql:// and libpq key=value strings', () => {
    expect(loadConfig({ source: 'postgresql://u@h:6543/db?sslmode=require' }, {}, emptyDir).source).toBe('postgresql://u@h:6543/db?sslmode=require');
    expect(loadConfig({ source: 'host=db1 dbname=app user=me' }, {}, emptyDir).source).toBe('host=db1 dbname=app user=me');
    expect(loadConfig({ source: 'postgres:///app?host=/var/run/postgresql' }, {}, emptyDir).source).toBeDefined();
  });

  const password = 'S3cr3t-Pa55';
  const badUrls = [
    `postgres://alice:${password}@db.example:notaport/app`,
    `mysql://alice:${password}@db.example/app`,
    `postgres://alice:p@ss${password}@db.example:99999/app`,
    `postgres://alice:${password}%zz@db.example/app`,
    `postgres:alice:${password}@db.example/app`,
    `db.example:5432:${password}`,
    `alice:${password}@db.example`,
  ];
  const places: [string, (url: string) => () => unknown][] = [
    ['--source', (url) => () => loadConfig({ source: url }, {}, emptyDir)],
    ['--target', (url) => () => loadConfig({ target: url }, {}, emptyDir)],
    ['OASYS_SOURCE_URL', (url) => () => loadConfig({}, { OASYS_SOURCE_URL: url }, emptyDir)],
    ['DATABASE_URL', (url) => () => loadConfig({}, { DATABASE_URL: url }, emptyDir)],
    ['OASYS_TARGET_URL', (url) => () => loadConfig({}, { OASYS_TARGET_URL: url }, emptyDir)],
    ['config file ./x.json: source', (url) => () => loadFile({ source: url })],
    ['config file ./x.json: target', (url) => () => loadFile({ target: url })],
  ];

  for (const [label, make] of places) {
    it.each(badUrls)(`a bad URL in ${label} is named and its password never shown: %s`, (url) => {
      const err = usageError(make(url));
      expect(err.message).toContain(label);
      for (const text of [err.message, err.hint ?? '', String(err), err.stack ?? '', JSON.stringify(err.context)]) {
        expect(text).not.toContain(password);
        expect(text).not.toContain(password.slice(0, 6));
      }
    });
  }

  it('--source "" is an error, not the libpq defaults', () => {
    expect(usageError(() => loadConfig({ source: '' }, {}, emptyDir)).message).toContain('--source: empty');
  });

  it.each([
    ['no target', undefined, true],
    ['the same string', 'postgres://u:pw@h:5432/db', true],
    ['the same database written differently', 'postgresql://u@H:5432/db?sslmode=require', true],
    ['the default port spelt out or not', 'postgres://u@h/db', true],
    ['as key=value pairs', "host=h port=5432 dbname='db' user=u", true],
    ['another database', 'postgres://u@h:5432/db2', false],
    ['another host', 'postgres://u@h2:5432/db', false],
    ['another port', 'postgres://u@h:5433/db', false],
    ['another user', 'postgres://v@h:5432/db', false],
  ])('sameDatabase: %s', (_name, target, expected) => {
    expect(loadConfig({ source: 'postgres://u:pw@h:5432/db', target }, {}, emptyDir).sameDatabase).toBe(expected);
  });

  it('sameDatabase compares against the PG* environment when there is no source URL', () => {
    const env = { PGHOST: 'h', PGPORT: '5432', PGUSER: 'u', PGDATABASE: 'db' };
    expect(loadConfig({ target: 'postgres://u@h/db' }, env, emptyDir).sameDatabase).toBe(true);
    expect(loadConfig({ target: 'postgres://u@h/other' }, env, emptyDir).sameDatabase).toBe(false);
  });
});

describe('configFingerprint', () => {
  const a = {
    tenants: { registry: { table: 'public.customers_client', idColumn: 'id', schemaColumn: 'schema_name' }, exclude: ['x', 'y'] },
    tenantColumn: 'tenant_id',
    tables: { include: ['t1', 't2'], map: { t1: 'u1', t2: 'u2' } },
    rls: { setting: 'app.current_tenant', force: true },
  };
  const b = {
    rls: { force: true, setting: 'app.current_tenant' },
    tables: { map: { t2: 'u2', t1: 'u1' }, include: ['t2', 't1'] },
    tenantColumn: 'tenant_id',
    tenants: { exclude: ['y', 'x'], registry: { schemaColumn: 'schema_name', idColumn: 'id', table: 'public.customers_client' } },
  };

  it('is a short stable hex string', () => {
    const fp = configFingerprint(loadFile(a));
    expect(fp).toMatch(/^[0-9a-f]{16}$/);
    expect(configFingerprint(loadFile(a))).toBe(fp);
  });

  it('does not depend on key order or the order of set-like lists', () => {
    expect(configFingerprint(loadFile(b))).toBe(configFingerprint(loadFile(a)));
  });

  it('ignores URLs, concurrency, --tenants and output flags', () => {
    const base = configFingerprint(loadFile(a));
    const other = loadFile(
      { ...a, source: 'postgres://x@h/db', target: 'postgres://x@h/db2', concurrency: 3 },
      { json: true, quiet: true, logLevel: 'debug', tenants: 'acme', color: false },
    );
    expect(configFingerprint(other)).toBe(base);
  });

  it.each([
    ['tenantColumn', { ...a, tenantColumn: 'org_id' }],
    ['targetSchema', { ...a, targetSchema: 'unified' }],
    ['rls.force', { ...a, rls: { ...a.rls, force: false } }],
    ['rls.setting', { ...a, rls: { ...a.rls, setting: 'app.tenant' } }],
    ['tables.map', { ...a, tables: { ...a.tables, map: { t1: 'u1', t2: 'u3' } } }],
    ['tables.exclude', { ...a, tables: { ...a.tables, exclude: [] } }],
    ['tables.partial', { ...a, tables: { ...a.tables, partial: ['LedgerEntry'] } }],
    ['tenants.exclude', { ...a, tenants: { ...a.tenants, exclude: ['x'] } }],
    ['tenant selection', { ...a, tenants: { pattern: 'tenant_%' } }],
  ])('changes with %s', (_name, changed) => {
    expect(configFingerprint(loadFile(changed))).not.toBe(configFingerprint(loadFile(a)));
  });
});

describe('a directory where the file should be', () => {
  it('is a usage error', () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'oasys-migrate.config.json'));
    expect(usageError(() => loadConfig({}, {}, dir)).message).toContain('is a directory');
  });
});

describe('tables.merge (merge by natural key)', () => {
  it('is taken as given, and absent when not given', () => {
    expect(loadFile({ tables: { merge: { auth_user: ['username'], auth_group: ['name'] } } }).tables.merge).toEqual({
      auth_user: ['username'],
      auth_group: ['name'],
    });
    expect(loadFile({ tables: {} }).tables.merge).toBeUndefined();
  });

  it('a key that is not a list of column names, an empty or repeated one, is exit 2 naming the key path', () => {
    expect(fileError({ tables: { merge: { auth_user: 'username' } } }).context.keyPath).toBe('tables.merge.auth_user');
    const empty = fileError({ tables: { merge: { auth_user: [] } } });
    expect(empty.context.keyPath).toBe('tables.merge.auth_user');
    expect(empty.message).toContain('natural key');
    expect(fileError({ tables: { merge: { auth_user: ['username', 'username'] } } }).message).toContain('listed twice');
  });

  it('changes the configuration fingerprint (a run started without it is not resumed with it)', () => {
    expect(configFingerprint(loadFile({ tables: { merge: { auth_user: ['username'] } } }))).not.toBe(configFingerprint(loadFile({})));
    expect(configFingerprint(loadFile({ tables: { exclude: ['django_migrations'] } }))).toBe(configFingerprint(loadFile({})));
  });
});
