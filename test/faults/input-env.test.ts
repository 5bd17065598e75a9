/**
 * Hostile and wrong input (issue 6, item 2), part 2: the environment. A role
 * without the CREATE privilege, a read-only target (as a standby), a wrong
 * password, an unreachable server: exit 3 (SPEC §5) with a message naming
 * what failed, nothing changed (no `oasys_migrate` schema, fingerprint of the
 * database unchanged), and no password in any output or the `--log-file`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminUrl, createTestDatabase } from '../support/db.js';
import { dbRegistry, expectRefusal, fingerprint, fixtureTemplate, fpDiff, qi, sql, unusedPort, urlAs, withClient, type FixtureDb } from '../support/faults.js';

const reg = dbRegistry();
const roles: string[] = [];
let tpl: { make: () => Promise<FixtureDb> };
let shared: FixtureDb;
beforeAll(async () => {
  tpl = await fixtureTemplate('inenv', reg);
  shared = await tpl.make();
});
afterAll(async () => {
  await reg.dropAll();
  for (const r of roles) await sql(adminUrl(), `DROP ROLE IF EXISTS ${qi(r)}`).catch(() => undefined);
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
