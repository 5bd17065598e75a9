/**
 * Connection strings (issue 9, point 3; SPEC §1 "Connection strings"): libpq
 * key=value strings and postgres:// URLs mean what they mean to libpq, or the
 * tool exits 2 naming what it does not take — it never connects elsewhere.
 * Real PostgreSQL from the harness; the connections go through the tool's own
 * connect function (src/db/connect.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig, connectClient } from '../src/db/connect.js';
import { redactUrl } from '../src/db/redact.js';
import { loadConfig } from '../src/config/load.js';
import { parseConnectionString } from '../src/config/conninfo.js';
import { EnvironmentError, UsageError } from '../src/errors.js';
import { adminUrl, createTestDatabase, query } from './support/db.js';
import { generateFixture } from '../fixtures/generate.js';
import { runCli, show } from './support/cli.js';

type Db = Awaited<ReturnType<typeof createTestDatabase>>;
const dbs: Db[] = [];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'oasys-connstr-'));
let server: { host: string; port: string; user: string; password: string };

/** A libpq value, single-quoted with \' and \\ escaped. */
const q = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

beforeAll(() => {
  const u = new URL(adminUrl());
  server = {
    host: u.hostname === 'localhost' ? '127.0.0.1' : u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port || '5432',
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
});

afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop().catch(() => undefined)));
  rmSync(tmp, { recursive: true, force: true });
});

async function newDb(prefix = 'connstr'): Promise<Db> {
  const db = await createTestDatabase(prefix);
  dbs.push(db);
  return db;
}

/** Connects with the tool's own connect function and asks the server where it is. */
async function whereAmI(conn: string): Promise<{ db: string; port: number; user: string }> {
  let client: pg.Client | undefined;
  try {
    client = await connectClient({ url: conn, role: 'source' });
    const r = await client.query<{ db: string; port: number; u: string }>('SELECT current_database() AS db, inet_server_port() AS port, current_user AS u');
    return { db: r.rows[0].db, port: r.rows[0].port, user: r.rows[0].u };
  } finally {
    await client?.end().catch(() => undefined);
  }
}

async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error');
}

/** Runs `fn` with some process environment variables set (libpq's PG* fallback is read from process.env). */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('key=value strings connect where they say', () => {
  it('host, port, dbname, user and password reach that server and database', async () => {
    const db = await newDb();
    const conn = `host=${server.host} port=${server.port} dbname=${db.name} user=${server.user} password=${q(server.password)}`;
    const at = await whereAmI(conn);
    expect(at).toEqual({ db: db.name, port: Number(server.port), user: server.user });
  });

  it('quoted values with spaces and escaped quotes and backslashes; whitespace around "="', async () => {
    const name = `it's a \\ db ${Date.now()}`;
    await query(adminUrl(), `CREATE DATABASE "${name}"`);
    dbs.push({ name, url: '', drop: () => query(adminUrl(), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).then(() => undefined) });
    const role = `cs user ${Date.now()}`;
    const password = `p w'd\\x ${Date.now()}`;
    await query(adminUrl(), `CREATE ROLE "${role}" LOGIN PASSWORD '${password.replace(/'/g, "''")}'`);
    try {
      const conn = `host = ${server.host}   port= ${server.port} dbname =${q(name)} user=${q(role)} password=${q(password)}`;
      expect(await whereAmI(conn)).toEqual({ db: name, port: Number(server.port), user: role });

      // The password really is checked: a wrong one is refused (exit 3) and neither is shown.
      const wrong = `x${password}`;
      const err = await thrown(() => whereAmI(`host=${server.host} port=${server.port} dbname=${q(name)} user=${q(role)} password=${q(wrong)}`));
      expect(err).toBeInstanceOf(EnvironmentError);
      const text = `${(err as Error).message} ${(err as EnvironmentError).hint ?? ''}`;
      expect(text).toContain('password=*****');
      expect(text).not.toContain("p w'd");
      expect(text).not.toContain("w\\'d");
    } finally {
      await query(adminUrl(), `DROP ROLE IF EXISTS "${role}"`).catch(() => undefined);
    }
  });

  it('pieces the string leaves out come from PG* variables, as in libpq', async () => {
    const db = await newDb();
    const at = await withEnv({ PGHOST: server.host, PGPORT: server.port, PGUSER: server.user, PGPASSWORD: server.password, PGDATABASE: 'postgres' }, () =>
      whereAmI(`dbname=${db.name}`),
    );
    expect(at).toEqual({ db: db.name, port: Number(server.port), user: server.user });
  });

  it('the URL and the key=value form of one connection give the same client config', () => {
    const pw = "s3cr t'@/%x";
    const url = `postgresql://al%20ice:${encodeURIComponent(pw)}@db1.example:5433/my%2Fdb?sslmode=require&application_name=etl&connect_timeout=7`;
    const kv = `host=db1.example port=5433 dbname=my/db user='al ice' password=${q(pw)} sslmode=require application_name=etl connect_timeout=7`;
    const a = clientConfig({ url, role: 'source' }, {});
    const b = clientConfig({ url: kv, role: 'source' }, {});
    expect(a).toEqual(b);
    expect(a).toMatchObject({
      host: 'db1.example',
      port: 5433,
      database: 'my/db',
      user: 'al ice',
      password: pw,
      application_name: 'etl',
      connectionTimeoutMillis: 7000,
    });
    // ?dbname= overrides the path, as in libpq (node-postgres alone would ignore it).
    expect(clientConfig({ url: 'postgres://h/a?dbname=b', role: 'source' }, {}).database).toBe('b');
  });
});

describe("libpq's conninfo grammar", () => {
  it('escapes in unquoted values, empty quoted values, the last of a repeated keyword, a trailing backslash', () => {
    expect(parseConnectionString("host=a\\ b user='' dbname=x dbname=y port=5432 options=-c\\ a=1\\").params).toEqual({
      host: 'a b',
      dbname: 'y',
      port: '5432',
      options: '-c a=1',
    });
    expect(parseConnectionString("  host\t=\n'h' ").params).toEqual({ host: 'h' });
  });

  it('a lone word is not echoed (it may be a password)', () => {
    expect(() => parseConnectionString('hunter2secret')).toThrow(/neither a postgres:\/\/ URL nor libpq key=value pairs/);
    let msg = '';
    try {
      parseConnectionString('host=h hunter2secret');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('word 2');
    expect(msg).not.toContain('hunter2');
  });
});

describe('what the tool does not take exits 2, naming it', () => {
  const secret = 'Sup3r-S3cret pw';
  it.each([
    [`host=h dbname=app frobnicate=1 password=${q(secret)}`, '"frobnicate"', 'not a libpq connection keyword'],
    [`HOST=h password=${q(secret)}`, '"HOST"', 'lower case'],
    [`host=h service=prod password=${q(secret)}`, '"service"', 'not supported'],
    [`host=h1,h2 dbname=app password=${q(secret)}`, '"host"', 'multi-host'],
    [`host=h port=5432,5433 password=${q(secret)}`, '"port"', 'multi-host'],
    [`host=h target_session_attrs=read-write password=${q(secret)}`, '"target_session_attrs"', 'not supported'],
    [`host=h sslmode=prefer password=${q(secret)}`, 'sslmode=prefer', 'not supported'],
    [`host=h sslmode=bogus password=${q(secret)}`, '"sslmode"', 'invalid value'],
    [`host=h password=${q(secret)} dbname='unterminated`, '"dbname"', 'unterminated'],
    [`postgres://u:${encodeURIComponent(secret)}@h1,h2/app`, 'several hosts', ''],
    [`postgres://u:${encodeURIComponent(secret)}@h/app?ssl=true`, '"ssl"', 'not a libpq connection keyword'],
    [`postgres://u:${encodeURIComponent(secret)}@h/app?uselibpqcompat=true&sslmode=require`, '"uselibpqcompat"', 'not a libpq'],
  ])('%s', async (conn, names, why) => {
    for (const err of [await thrown(() => connectClient({ url: conn, role: 'source' })), await thrown(() => loadConfig({ source: conn }, {}, tmp))]) {
      expect(err).toBeInstanceOf(UsageError);
      expect((err as UsageError).exitCode).toBe(2);
      const text = `${(err as Error).message}\n${(err as UsageError).hint ?? ''}`;
      expect(text).toContain('--source');
      expect(text).toContain(names);
      expect(text).toContain(why);
      expect(text).not.toContain('Sup3r');
      expect(text).not.toContain(encodeURIComponent('Sup3r'));
    }
  });

  it('PG* variables the tool cannot honour are refused too (PGSERVICE, PGHOSTADDR beside a host)', () => {
    for (const [source, env, name] of [
      ['host=db1 dbname=app', { PGSERVICE: 'prod' }, 'PGSERVICE'],
      ['host=db1 dbname=app', { PGHOSTADDR: '10.1.2.3' }, 'PGHOSTADDR'],
      ['host=db1 dbname=app', { PGSSLMODE: 'prefer' }, 'PGSSLMODE'],
      ['dbname=app', { PGHOST: 'a,b' }, 'PGHOST'],
      [undefined, { PGPORT: 'x' }, 'PGPORT'],
    ] as const) {
      const err = (() => {
        try {
          loadConfig({ source }, env, tmp);
        } catch (e) {
          return e;
        }
      })();
      expect(err, name).toBeInstanceOf(UsageError);
      expect((err as Error).message).toContain(name);
    }
  });

  it('a key=value password is masked whole, quoted with spaces and escaped quotes', () => {
    const shown = redactUrl(`host=h password='a b\\' c d' dbname=x`);
    expect(shown).toBe('host=h password=***** dbname=x');
    expect(redactUrl('host=h password=plain\\ word dbname=x')).toBe('host=h password=***** dbname=x');
    // A host the string names wins over PGHOST (no error, no PGHOST).
    expect(loadConfig({ source: 'host=db1 dbname=app' }, { PGHOST: 'a,b' }, tmp).source).toBe('host=db1 dbname=app');
  });
});

describe('sslmode means what libpq means', () => {
  let home: string;
  let ca: string;
  beforeAll(() => {
    // An empty HOME: no ~/.postgresql/root.crt to change the outcome.
    home = mkdtempSync(path.join(tmp, 'home-'));
    ca = path.join(tmp, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n');
  });
  const ssl = (conn: string, env: NodeJS.ProcessEnv = {}) => {
    const saved = process.env.HOME;
    process.env.HOME = home;
    try {
      return clientConfig({ url: conn, role: 'source' }, env).ssl;
    } finally {
      process.env.HOME = saved;
    }
  };

  it('no sslmode and disable: no TLS', () => {
    expect(ssl('host=h')).toBe(false);
    expect(ssl('host=h sslmode=disable')).toBe(false);
    expect(ssl('postgres://h/db?sslmode=disable')).toBe(false);
  });

  it('require: encrypted, the server not verified (unlike pg-connection-string, where require means verify-full)', () => {
    expect(ssl('host=h sslmode=require')).toEqual({ rejectUnauthorized: false });
    expect(ssl('postgres://h/db?sslmode=require')).toEqual({ rejectUnauthorized: false });
    expect(ssl('host=h', { PGSSLMODE: 'require' })).toEqual({ rejectUnauthorized: false });
  });

  it('require with a root certificate, and verify-ca: the chain is checked, not the name', () => {
    for (const conn of [`host=h sslmode=require sslrootcert=${ca}`, `host=h sslmode=verify-ca sslrootcert=${ca}`]) {
      const s = ssl(conn) as Record<string, unknown>;
      expect(s.ca).toContain('not checked here');
      expect(s.rejectUnauthorized).toBeUndefined();
      expect(typeof s.checkServerIdentity).toBe('function');
    }
  });

  it('verify-full: chain and host name; with hostaddr the name checked is host; sslrootcert=system uses the platform store', () => {
    const s = ssl(`host=h sslmode=verify-full sslrootcert=${ca}`) as Record<string, unknown>;
    expect(s.ca).toContain('not checked here');
    expect(s.checkServerIdentity).toBeUndefined();
    expect(s.rejectUnauthorized).toBeUndefined();
    expect(ssl(`host=db.example hostaddr=10.0.0.5 sslmode=verify-full sslrootcert=${ca}`)).toMatchObject({ servername: 'db.example' });
    expect(clientConfig({ url: `host=db.example hostaddr=10.0.0.5`, role: 'source' }, {}).host).toBe('10.0.0.5');
    expect(ssl('host=h sslrootcert=system')).toEqual({});
  });

  it('verify-ca/verify-full without a root certificate, allow and prefer exit 2', () => {
    for (const conn of [
      'host=h sslmode=verify-full',
      'host=h sslmode=verify-ca',
      'host=h sslmode=allow',
      'host=h sslmode=prefer',
      `host=h sslrootcert=${ca}`,
      'host=h sslmode=verify-ca sslrootcert=system',
    ]) {
      let err: unknown;
      try {
        ssl(conn);
      } catch (e) {
        err = e;
      }
      expect(err, conn).toBeInstanceOf(UsageError);
      expect((err as Error).message, conn).toMatch(/sslmode|sslrootcert/);
    }
  });

  it('a Unix-socket host never uses TLS (libpq ignores sslmode there)', () => {
    expect(ssl('host=/var/run/postgresql sslmode=require')).toBe(false);
  });

  it('sslmode=require against a server without TLS fails with an environment error (exit 3), as libpq does', async () => {
    const db = await newDb();
    const err = await thrown(() =>
      whereAmI(`host=${server.host} port=${server.port} dbname=${db.name} user=${server.user} password=${q(server.password)} sslmode=require`),
    );
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as EnvironmentError).exitCode).toBe(3);
    expect((err as Error).message).toContain('does not accept TLS');
    expect((err as Error).message).not.toContain(server.password);
  });
});

describe('the CLI with a key=value --source', () => {
  it('plan reads the database the string names (exit 0, its tenants listed)', async () => {
    const db = await newDb('connstr_cli');
    const info = await generateFixture(db.url, { rowsPerTable: 3 });
    const r = await runCli(['plan', '--json', '--source', `host=${server.host} port=${server.port} dbname=${db.name} user=${server.user}`], {
      env: { PGPASSWORD: server.password },
    });
    expect(r.code, show(r)).toBe(0);
    const doc = JSON.parse(r.stdout) as { tenants: { schema: string }[] };
    expect(doc.tenants.map((t) => t.schema).sort()).toEqual(info.tenants.map((t) => t.schema).sort());
    expect(r.stderr).not.toContain(server.password);
  });

  it('an unknown keyword exits 2 naming it, before connecting, and never shows the password', async () => {
    const r = await runCli(['plan', '--source', `host=${server.host} port=${server.port} dbname=x user=u password='hush hush' sslmod=require`]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain('"sslmod"');
    expect(r.stderr).toContain('--source');
    expect(r.stdout + r.stderr).not.toContain('hush');
  });
});
