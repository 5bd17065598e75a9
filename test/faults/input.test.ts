/**
 * Hostile and wrong input (issue 6, item 2), part 1: the configuration.
 * Every case asserts the exit code of SPEC §5, a message naming what failed
 * (the key path, the tenant, the table), and that nothing changed where the
 * command refused: no `oasys_migrate` schema, the fingerprint of the whole
 * database (catalog and content of every schema) unchanged; the password in
 * `--source` (or in the config file) never appears on stdout, stderr or in
 * the `--log-file` (see expectRefusal in helpers.ts).
 *
 * Exit codes decided from the SPEC: a config file that does not parse or
 * validate, a config naming a registry table/column that does not exist or
 * is unusable, an unknown tenant schema → 2 (usage/configuration error,
 * "unknown tenant"); a valid selection that selects no tenant (a pattern
 * matching nothing), two tenant tables colliding on one target name found
 * only in the database, a tenant column that already exists → 1 (plan found
 * a blocking problem, `run` refuses). Environment: input-env.test.ts;
 * hostile names: input-names.test.ts.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { configFile, dbRegistry, expectRefusal, fixtureTemplate, sql, type FixtureDb } from '../support/faults.js';

const reg = dbRegistry();
let tpl: { make: () => Promise<FixtureDb> };
let shared: FixtureDb;
beforeAll(async () => {
  tpl = await fixtureTemplate('input', reg);
  shared = await tpl.make();
});
afterAll(() => reg.dropAll());

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
    await expectRefusal(shared.url, ['run', '-c', configFile({ rls: { setting: 'app.current_tenant', forced: true } }), '--source', shared.url], 2, [
      /forced/,
      /\brls\b/,
    ]);
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
    await expectRefusal(shared.url, ['run', '-c', configFile({ tenants: { schemas: ['nope', 'also_nope'] } }), '--source', shared.url], 2, [
      /"nope"/,
      /tenants\.schemas/,
    ]);
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
    await expectRefusal(
      shared.url,
      ['run', '-c', configFile({ tables: { map: { accounts_account: 'merged', audit_log: 'merged' } } }), '--source', shared.url],
      2,
      [/tables\.map/, /accounts_account/, /audit_log/],
    );
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
    await expectRefusal(shared.url, ['run', '-c', configFile({ tenantColumn: 'actor' }), '--source', shared.url], 1, [
      /TENANT_COLUMN_EXISTS/,
      /audit_log/,
      /actor/,
    ]);
  });
});
