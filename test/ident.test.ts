import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { derivedName, ident, identList, literal } from '../src/db/ident.js';
import { createTestDatabase } from './support/db.js';

// Names that break naive tools: quotes, dots, semicolons, spaces, newlines,
// non-ASCII, reserved words, SQL that would run if spliced in unquoted.
const HOSTILE = [
  'plain',
  'With Space',
  'dot.ted',
  'semi;colon',
  'quo"te',
  "apos'trophe",
  'new\nline',
  'Zürich 東京 🎉',
  'select',
  'x"; DROP TABLE victim; --',
  'a'.repeat(63),
];

describe('ident', () => {
  it('quotes every part and never splits on dots', () => {
    expect(ident('a.b', 'c')).toBe('"a.b"."c"');
    expect(ident('quo"te')).toBe('"quo""te"');
    expect(identList(['a', 'B'])).toBe('"a", "B"');
  });

  it('rejects empty names and NUL bytes', () => {
    expect(() => ident('')).toThrow();
    expect(() => ident('a\u0000b')).toThrow();
    expect(() => ident()).toThrow();
  });

  it('literal doubles single quotes', () => {
    expect(literal("it's")).toBe("'it''s'");
  });

  it('derivedName stays within 63 bytes and keeps long names distinct', () => {
    const a = derivedName('x'.repeat(60), 'one', 'idx');
    const b = derivedName('x'.repeat(60), 'two', 'idx');
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
    expect(derivedName('t', 'id', 'seq')).toBe('t_id_seq');
  });

  describe('against a real server', () => {
    let db: Awaited<ReturnType<typeof createTestDatabase>>;
    let client: pg.Client;
    beforeAll(async () => {
      db = await createTestDatabase('ident');
      client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await client.query('CREATE TABLE public.victim (id int)');
      await client.query('INSERT INTO public.victim VALUES (1)');
    });
    afterAll(async () => {
      await client.end();
      await db.drop();
    });

    it('round-trips every hostile name as schema, table and column, and runs nothing hidden in it', async () => {
      for (const name of HOSTILE) {
        await client.query(`CREATE SCHEMA ${ident(name)}`);
        await client.query(`CREATE TABLE ${ident(name, name)} (${ident(name)} text)`);
        await client.query(`INSERT INTO ${ident(name, name)} (${ident(name)}) VALUES ($1)`, [name]);
        const r = await client.query(`SELECT ${ident(name)} AS v FROM ${ident(name, name)}`);
        expect(r.rows[0].v).toBe(name);
        const cat = await client.query(`SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`, [
          name,
        ]);
        expect(cat.rows).toEqual([{ nspname: name, relname: name }]);
      }
      const victim = await client.query('SELECT count(*)::int AS n FROM public.victim');
      expect(victim.rows[0].n).toBe(1);
    });
  });
});
