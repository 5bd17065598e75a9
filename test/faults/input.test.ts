/**
 * Hostile and wrong input (issue 6, item 2). Every case asserts the exit code
 * of SPEC §5, a message naming what failed, and that nothing changed where
 * the command refused: no `oasys_migrate` schema, the database's fingerprint
 * (catalog and content of every schema) unchanged. A password given in
 * `--source` never appears on stdout, stderr or in the `--log-file`.
 *
 * Exit codes decided from the SPEC: a config file that does not parse or
 * validate, a config naming a registry table/column that does not exist or
 * is unusable, an unknown tenant schema → 2 (usage/configuration error,
 * "unknown tenant"); a selection that is valid but selects no tenant (a
 * pattern matching nothing), two tenant tables colliding on one target name
 * found in the database, a tenant column that already exists → 1 (plan found
 * a blocking problem); no privilege, a read-only target → 3 (environment).
 *
 * Hostile names: tenant schemas, tables, columns, types and enum labels with
 * quotes, dots, semicolons, spaces, newlines, non-ASCII, 63-byte names and
 * reserved words, built by hand; a full run + verify + revert must work and
 * every row arrive.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl, createTestDatabase } from '../harness/db.js';
import {
  cliExpect,
  dbRegistry,
  exactMigration,
  expectNoSecret,
  fingerprint,
  fixtureTemplate,
  fpDiff,
  qi,
  runCli,
  schemaExists,
  show,
  sql,
  targetFingerprint,
  tempDir,
  unusedPort,
  urlAs,
  urlPassword,
  withClient,
  type CliResult,
  type FixtureDb,
} from './helpers.js';

const reg = dbRegistry();
const roles: string[] = [];
let tpl: { make: () => Promise<FixtureDb> };
let shared: FixtureDb;
beforeAll(async () => {
  tpl = await fixtureTemplate('input', reg);
  shared = await tpl.make();
});
afterAll(async () => {
  await reg.dropAll();
  for (const r of roles) await sql(adminUrl(), `DROP ROLE IF EXISTS ${qi(r)}`).catch(() => undefined);
});

/** The harness's own password (in every URL the tests pass with --source). */
const harnessPassword = () => urlPassword(adminUrl());

function configFile(content: string | object): string {
  const file = path.join(tempDir(), 'oasys.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

/**
 * Runs the CLI (with a --log-file) against `url` and asserts: exit `code`,
 * stderr matching every pattern of `names`, no oasys_migrate schema, the
 * fingerprint of the whole database unchanged, no secret in any output.
 */
async function expectRefusal(
  url: string,
  args: string[],
  code: number,
  names: RegExp[],
  opts: { secrets?: string[]; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const before = await fingerprint(url);
  const hadState = await schemaExists(url, 'oasys_migrate');
  const log = path.join(tempDir(), 'log.jsonl');
  const r = await runCli([...args, '--log-file', log], { timeoutMs: 30_000, env: opts.env });
  const logText = existsSync(log) ? readFileSync(log, 'utf8') : '';
  const shown = `oasys-migrate ${args.map((a) => (a.includes('://') ? '<url>' : a)).join(' ')}\n${show(r)}`;
  const said = `${r.stderr}\n${r.stdout}`; // plan prints its problems on stdout, errors go to stderr
  expect.soft(r.code, shown).toBe(code);
  for (const n of names) expect.soft(said, `the message names ${n}\n${shown}`).toMatch(n);
  expect.soft(r.stderr, `a message for people, not a crash\n${shown}`).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)|this is unexpected/);
  for (const s of [harnessPassword(), ...(opts.secrets ?? [])]) expectNoSecret(s, { stdout: r.stdout, stderr: r.stderr, 'the log file': logText });
  const hasState = await schemaExists(url, 'oasys_migrate');
  if (!hadState) expect.soft(hasState, `no oasys_migrate schema was created\n${shown}`).toBe(false);
  expect.soft(fpDiff(before, await fingerprint(url)), `nothing changed in the database\n${shown}`).toEqual([]);
  // A refusal that wrongly created the state schema must not hide the same fault in the next case on this database.
  if (!hadState && hasState) await sql(url, 'DROP SCHEMA oasys_migrate CASCADE').catch(() => undefined);
  return r;
}

describe('wrong configuration', () => {
  it('malformed JSON (with a password on the broken line): exit 2 naming the file and the position; the password is not shown', async () => {
    const secret = 'TopSecret-4711';
    const file = configFile(`{\n  "source": "postgres://app:${secret}@db.invalid/app", "concurrency": 4,,\n  "targetSchema": "public"\n}\n`);
    await expectRefusal(shared.url, ['run', '-c', file, '--source', shared.url], 2, [/oasys\.json/, /line 2/i, /JSON/i], { secrets: [secret] });
    await expectRefusal(shared.url, ['run', '-c', configFile('{"tenants": {"schemas": ["acme"]}'), '--source', shared.url], 2, [/oasys\.json/, /JSON|end/i]);
    await expectRefusal(shared.url, ['run', '-c', configFile(''), '--source', shared.url], 2, [/oasys\.json/]);
  });

  it('wrong types: exit 2 naming the key path', async () => {
    await expectRefusal(shared.url, ['run', '-c', configFile({ concurrency: 'four' }), '--source', shared.url], 2, [/\bconcurrency\b/, /integer|number/i]);
    await expectRefusal(shared.url, ['run', '-c', configFile({ rls: { force: 'yes' } }), '--source', shared.url], 2, [/rls\.force/, /boolean/i]);
    await expectRefusal(shared.url, ['run', '-c', configFile({ tenants: { schemas: 'acme' } }), '--source', shared.url], 2, [/tenants\.schemas/]);
    await expectRefusal(shared.url, ['run', '-c', configFile({ tables: { map: { audit_log: 7 } } }), '--source', shared.url], 2, [/tables\.map\.audit_log/]);
    await expectRefusal(shared.url, ['run', '--concurrency', 'four', '--source', shared.url], 2, [/--concurrency/]);
  });

  it('unknown keys: exit 2 naming the key and where it is', async () => {
    await expectRefusal(shared.url, ['run', '-c', configFile({ targetschema: 'public' }), '--source', shared.url], 2, [/targetschema/]);
    await expectRefusal(shared.url, ['run', '-c', configFile({ tenants: { registry: { tabel: 'public.customers_client' } } }), '--source', shared.url], 2, [
      /tabel/,
      /tenants\.registry/,
    ]);
    await expectRefusal(shared.url, ['run', '-c', configFile({ rls: { setting: 'app.current_tenant', forced: true } }), '--source', shared.url], 2, [/forced/, /\brls\b/]);
  });

  it('a config file password in "source" is never shown, whatever else is wrong with the file', async () => {
    const secret = 'Cfg-Secret-0815';
    const u = new URL(shared.url);
    u.password = secret;
    await expectRefusal(shared.url, ['run', '-c', configFile({ source: u.toString(), concurrency: 0 })], 2, [/concurrency/], { secrets: [secret] });
  });
});

describe('empty tenant set', () => {
  it('tenants.schemas naming no existing schema: exit 2 (unknown tenant) naming it and the key', async () => {
    await expectRefusal(shared.url, ['run', '-c', configFile({ tenants: { schemas: ['nope', 'also_nope'] } }), '--source', shared.url], 2, [/"nope"/, /tenants\.schemas/]);
  });
  it('tenants.schemas: [] → exit 2 naming the key', async () => {
    await expectRefusal(shared.url, ['run', '-c', configFile({ tenants: { schemas: [] } }), '--source', shared.url], 2, [/tenants\.schemas/]);
  });
  it('--tenants naming an unknown tenant → exit 2 naming it', async () => {
    await expectRefusal(shared.url, ['run', '--tenants', 'acme,nope', '--source', shared.url], 2, [/nope/, /--tenants/]);
  });
  it('a pattern that matches nothing: valid config, nothing selected → exit 1 with NO_TENANTS (run and plan)', async () => {
    const file = configFile({ tenants: { pattern: 'zzz\\_%' } });
    await expectRefusal(shared.url, ['run', '-c', file, '--source', shared.url], 1, [/NO_TENANTS/]);
    await expectRefusal(shared.url, ['plan', '-c', file, '--source', shared.url], 1, [/NO_TENANTS/]);
  });
});

describe('registry', () => {
  it('a registry table that does not exist → exit 2 naming it and tenants.registry.table', async () => {
    await expectRefusal(shared.url, ['run', '-c', configFile({ tenants: { registry: { table: 'public.no_such_registry' } } }), '--source', shared.url], 2, [
      /no_such_registry/,
      /tenants\.registry\.table/,
    ]);
  });
  it('registry columns that do not exist → exit 2 naming the column and the key', async () => {
    await expectRefusal(shared.url, ['run', '-c', configFile({ tenants: { registry: { idColumn: 'tenant_pk' } } }), '--source', shared.url], 2, [
      /tenant_pk/,
      /tenants\.registry\.idColumn/,
    ]);
    await expectRefusal(shared.url, ['run', '-c', configFile({ tenants: { registry: { schemaColumn: 'schema' } } }), '--source', shared.url], 2, [
      /"schema"/,
      /tenants\.registry\.schemaColumn/,
    ]);
  });
  for (const type of ['jsonb', 'point']) {
    it(`a registry whose id column is ${type} → exit 2 naming the column, its type and the key`, async () => {
      const f = await tpl.make();
      const value = type === 'jsonb' ? (i: number) => `'{"id": ${i}}'::jsonb` : (i: number) => `point(${i}, ${i})`;
      await sql(f.url, `CREATE TABLE public.odd_registry (id ${type}, schema_name text)`);
      await sql(f.url, `INSERT INTO public.odd_registry VALUES (${value(1)}, 'acme'), (${value(2)}, 'globex')`);
      await expectRefusal(f.url, ['run', '-c', configFile({ tenants: { registry: { table: 'public.odd_registry' } } }), '--source', f.url], 2, [
        new RegExp(`\\b${type}\\b`),
        /odd_registry/,
        /tenants\.registry\.idColumn/,
      ]);
    });
  }
});

describe('tables', () => {
  it('two tenant tables mapped to one target name in tables.map → exit 2 naming both and the key', async () => {
    await expectRefusal(shared.url, ['run', '-c', configFile({ tables: { map: { accounts_account: 'merged', audit_log: 'merged' } } }), '--source', shared.url], 2, [
      /tables\.map/,
      /accounts_account/,
      /audit_log/,
    ]);
  });
  it('a tenant table mapped onto the name of another tenant table → exit 1 (blocking MAP_COLLISION) naming both', async () => {
    await expectRefusal(shared.url, ['run', '-c', configFile({ tables: { map: { audit_log: 'LedgerEntry' } } }), '--source', shared.url], 1, [
      /MAP_COLLISION/,
      /audit_log/,
      /LedgerEntry/,
    ]);
  });
  it('a tenant table that already has a column named like the tenant column → exit 1 TENANT_COLUMN_EXISTS naming tenant, table, column', async () => {
    const f = await tpl.make();
    await sql(f.url, `ALTER TABLE acme.audit_log ADD COLUMN tenant_id integer`);
    await expectRefusal(f.url, ['run', '--source', f.url], 1, [/TENANT_COLUMN_EXISTS/, /acme/, /audit_log/, /tenant_id/]);
    // and with tenantColumn set to a column every tenant has
    await expectRefusal(shared.url, ['run', '-c', configFile({ tenantColumn: 'actor' }), '--source', shared.url], 1, [/TENANT_COLUMN_EXISTS/, /audit_log/, /actor/]);
  });
});

describe('environment', () => {
  async function weakRole(f: FixtureDb, createOnDatabase: boolean): Promise<{ url: string; password: string }> {
    const role = `weak_${Math.random().toString(36).slice(2, 8)}`;
    const password = `Weak-Pw:${role}@x`;
    roles.push(role);
    await sql(adminUrl(), `CREATE ROLE ${qi(role)} LOGIN PASSWORD '${password.replace(/'/g, "''")}'`);
    await withClient(f.url, async (c) => {
      await c.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
      await c.query(`GRANT USAGE ON SCHEMA public TO ${qi(role)}`);
      await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${qi(role)}`);
      for (const s of f.tenantSchemas) {
        await c.query(`GRANT USAGE ON SCHEMA ${qi(s)} TO ${qi(role)}`);
        await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${qi(s)} TO ${qi(role)}`);
      }
      await c.query(`REVOKE CREATE, TEMPORARY ON DATABASE ${qi(f.db.name)} FROM PUBLIC`);
      if (createOnDatabase) await c.query(`GRANT CREATE ON DATABASE ${qi(f.db.name)} TO ${qi(role)}`);
    });
    return { url: urlAs(f.url, role, password), password };
  }

  it('a role without CREATE on the database nor on the target schema → exit 3 naming the privilege; nothing changed', async () => {
    const f = await tpl.make();
    const weak = await weakRole(f, false);
    await expectRefusal(f.url, ['run', '--source', weak.url], 3, [/CREATE/, /privilege|permission/i], { secrets: [weak.password] });
  });

  it('a role that may create schemas but has no CREATE on the target schema public → exit 3 naming CREATE on schema public; nothing changed (no state schema)', async () => {
    const f = await tpl.make();
    const weak = await weakRole(f, true);
    await expectRefusal(f.url, ['run', '--source', weak.url], 3, [/CREATE/, /schema\W+public|public\W+schema/i], { secrets: [weak.password] });
  });

  it('a read-only target (default_transaction_read_only, as on a standby), in place → exit 3 saying read-only; nothing changed', async () => {
    const f = await tpl.make();
    await sql(adminUrl(), `ALTER DATABASE ${qi(f.db.name)} SET default_transaction_read_only = on`);
    try {
      await expectRefusal(f.url, ['run', '--source', f.url], 3, [/read-only|read only/i]);
    } finally {
      await sql(adminUrl(), `ALTER DATABASE ${qi(f.db.name)} RESET default_transaction_read_only`);
    }
  });

  it('a read-only separate target → exit 3 saying read-only; nothing changed on either side', async () => {
    const f = await tpl.make();
    const target = reg.add(await createTestDatabase('input_ro'));
    await sql(adminUrl(), `ALTER DATABASE ${qi(target.name)} SET default_transaction_read_only = on`);
    const sourceFp = await fingerprint(f.url);
    try {
      await expectRefusal(target.url, ['run', '--source', f.url, '--target', target.url], 3, [/read-only|read only/i]);
    } finally {
      await sql(adminUrl(), `ALTER DATABASE ${qi(target.name)} RESET default_transaction_read_only`);
    }
    expect(fpDiff(sourceFp, await fingerprint(f.url))).toEqual([]);
  });

  it('a wrong password and an unreachable server → exit 3; the password (plain or percent-encoded) appears nowhere', async () => {
    const secret = 'Wr0ng:P@ss/word%x';
    const u = new URL(shared.url);
    u.password = encodeURIComponent(secret);
    await expectRefusal(shared.url, ['run', '--source', u.toString()], 3, [/password|authenticat/i], { secrets: [secret] });
    const port = await unusedPort();
    const down = `postgres://someone:${encodeURIComponent(secret)}@127.0.0.1:${port}/db`;
    await expectRefusal(shared.url, ['run', '--source', down], 3, [/connect/i], { secrets: [secret] });
    await expectRefusal(shared.url, ['run', '--source', shared.url, '--target', down], 3, [/connect/i, /target/i], { secrets: [secret] });
  });
});

// ---------------------------------------------------------------------------
// Hostile names

const LONG_A = 'l'.repeat(54) + '_alpha00'; // 62 → padded below to 63
const NAMES = {
  schemas: [
    'Tenant"Quote',
    'dot.schema',
    "semi;colon'--",
    'with space',
    'new\nline',
    'ünï東京',
    'é'.repeat(31) + 'x', // 63 bytes in UTF-8
    's'.repeat(63),
    'select',
    'C2',
    'c2',
  ],
  weird: 'we"ird; tbl.name',
  longA: (LONG_A + 'a').slice(0, 63),
  longB: (LONG_A.slice(0, 54) + '_beta0000').slice(0, 63),
  longCol: 'c'.repeat(63),
  enumType: 'mood "q";x',
  unicodeTable: 'ünï_表 x',
};

async function buildHostile(url: string): Promise<void> {
  const { weird, longA, longB, longCol, enumType, unicodeTable } = NAMES;
  for (const n of [...NAMES.schemas, longA, longB, longCol]) expect(Buffer.byteLength(n), n).toBeLessThanOrEqual(63);
  await withClient(url, async (c) => {
    for (const [i, s] of NAMES.schemas.entries()) {
      await c.query('BEGIN');
      await c.query(`CREATE SCHEMA ${qi(s)}`);
      await c.query(`CREATE TYPE ${qi(s, enumType)} AS ENUM ('it''s', 'c d', 'é"x')`);
      await c.query(`CREATE TABLE ${qi(s, weird)} (
        id serial PRIMARY KEY, "select" text, "from" integer, "user" text, "order" integer, "Mixed Case" text,
        "col;drop table x" text, "new
line" text, "group" ${qi(s, enumType)},
        CONSTRAINT "uniq ""select""; from" UNIQUE ("select", "from"))`);
      await c.query(`CREATE INDEX ${qi('idx "order"; x')} ON ${qi(s, weird)} ("order")`);
      await c.query(`CREATE TABLE ${qi(s, longA)} (id integer PRIMARY KEY, ${qi(longCol)} text UNIQUE)`);
      await c.query(`CREATE TABLE ${qi(s, longB)} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a_id integer REFERENCES ${qi(s, longA)} (id) DEFERRABLE INITIALLY DEFERRED, note text)`);
      await c.query(`CREATE INDEX ON ${qi(s, longB)} (a_id)`);
      await c.query(`CREATE TABLE ${qi(s, unicodeTable)} ("ключ" integer PRIMARY KEY, "値" text, "end" boolean)`);
      for (let k = 1; k <= 3; k++) {
        await c.query(
          `INSERT INTO ${qi(s, weird)} ("select", "from", "user", "order", "Mixed Case", "col;drop table x", "new\nline", "group") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [`sel ${s} ${k}`, k, `u'${k}"`, k * 10 + i, `M ${k}`, `'; DROP TABLE x; --`, `line\n${k}`, ["it's", 'c d', 'é"x'][k - 1]],
        );
        await c.query(`INSERT INTO ${qi(s, longA)} (id, ${qi(longCol)}) VALUES ($1, $2)`, [k, `${s}:${k}`]);
        await c.query(`INSERT INTO ${qi(s, longB)} (a_id, note) VALUES ($1, $2)`, [k, k === 2 ? null : `n${k}`]);
        await c.query(`INSERT INTO ${qi(s, unicodeTable)} VALUES ($1, $2, $3)`, [k, `値 ${k} ${s}`, k % 2 === 0]);
      }
      await c.query('COMMIT');
    }
  });
}

describe('hostile names', () => {
  it('schemas, tables, columns, types and labels with quotes, dots, semicolons, spaces, newlines, non-ASCII, 63 bytes and reserved words: run + verify + revert work, every row arrives', async () => {
    const db = reg.add(await createTestDatabase('hostile'));
    await buildHostile(db.url);
    const tenants = NAMES.schemas.map((s) => ({ schema: s, id: s }));
    const tables = [NAMES.weird, NAMES.longA, NAMES.longB, NAMES.unicodeTable];
    const tenantFp = await fingerprint(db.url, { only: NAMES.schemas });
    const targetFp = await targetFingerprint(db.url, NAMES.schemas);
    const file = configFile({ tenants: { schemas: NAMES.schemas } });

    const plan = await cliExpect(['plan', '-c', file, '--source', db.url], 0);
    expect(plan.stderr).not.toMatch(/this is unexpected/);
    await cliExpect(['run', '-c', file, '--source', db.url, '--concurrency', '2'], 0, { timeoutMs: 60_000 });
    expect(await exactMigration(db.url, tenants, tables), 'every row of every hostile tenant table arrived').toEqual([]);
    // the keys came along: a composite primary key with tenant_id first on every unified table
    for (const t of tables) {
      const [pk] = await sql<{ def: string | null }>(
        db.url,
        `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p'`,
        [qi('public', t)],
      );
      expect(pk?.def, `primary key of public.${t}`).toMatch(/^PRIMARY KEY \(tenant_id, /);
    }
    await cliExpect(['verify', '-c', file, '--source', db.url], 0);
    expect(fpDiff(tenantFp, await fingerprint(db.url, { only: NAMES.schemas })), 'tenant schemas unchanged').toEqual([]);
    await cliExpect(['revert', '--yes', '-c', file, '--source', db.url], 0);
    expect(fpDiff(targetFp, await targetFingerprint(db.url, NAMES.schemas)), 'target after revert = before the run').toEqual([]);
  });
});
