/** test_decoding's text format (src/online/decode.ts): the lines the server writes, parsed exactly. */
import { describe, expect, it } from 'vitest';
import { DecodeError, parseChange, UNCHANGED } from '../../src/online/decode.js';

describe('parseChange', () => {
  it('reads quoted identifiers, doubled quotes, null, arrays, numbers and booleans', () => {
    const c = parseChange(
      `table "t-1"."My ""T""": INSERT: id[integer]:1 "a b"[text]:'it''s "q"' arr[text[]]:'{a,"b c",NULL}' n[numeric]:-1.5 f[double precision]:NaN b[boolean]:true j[jsonb]:null ts[timestamp with time zone]:'2026-01-01 00:00:00+00' v[character varying(20)[]]:'{x}'`,
    );
    expect(c).toEqual({
      kind: 'insert',
      schema: 't-1',
      table: 'My "T"',
      tuple: [
        { name: 'id', type: 'integer', value: '1' },
        { name: 'a b', type: 'text', value: `it's "q"` },
        { name: 'arr', type: 'text[]', value: '{a,"b c",NULL}' },
        { name: 'n', type: 'numeric', value: '-1.5' },
        { name: 'f', type: 'double precision', value: 'NaN' },
        { name: 'b', type: 'boolean', value: 'true' },
        { name: 'j', type: 'jsonb', value: null },
        { name: 'ts', type: 'timestamp with time zone', value: '2026-01-01 00:00:00+00' },
        { name: 'v', type: 'character varying(20)[]', value: '{x}' },
      ],
    });
  });

  it('keeps a value with spaces, colons and brackets whole, and an empty string apart from null', () => {
    const c = parseChange(`table s.t: INSERT: a[text]:'x y]: z[w]' e[text]:'' bits[bit varying]:B'0101'`);
    expect(c.kind === 'insert' && c.tuple.map((f) => f.value)).toEqual(['x y]: z[w]', '', '0101']);
  });

  it('UPDATE: unchanged TOAST, and old-key when the key changed', () => {
    const u = parseChange(`table s.t: UPDATE: id[integer]:1 big[text]:unchanged-toast-datum n[integer]:2`);
    expect(u).toEqual({
      kind: 'update',
      schema: 's',
      table: 't',
      oldKey: undefined,
      tuple: [
        { name: 'id', type: 'integer', value: '1' },
        { name: 'big', type: 'text', value: UNCHANGED },
        { name: 'n', type: 'integer', value: '2' },
      ],
    });
    const k = parseChange(`table s.t: UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:2 note[text]:'new-tuple: no'`);
    expect(k.kind === 'update' && k.oldKey).toEqual([{ name: 'id', type: 'integer', value: '1' }]);
    expect(k.kind === 'update' && k.tuple.map((f) => f.value)).toEqual(['2', 'new-tuple: no']);
  });

  it('DELETE with its key, and without identity', () => {
    expect(parseChange(`table s.t: DELETE: id[integer]:7`)).toEqual({
      kind: 'delete',
      schema: 's',
      table: 't',
      oldKey: [{ name: 'id', type: 'integer', value: '7' }],
    });
    expect(parseChange(`table s.nokey: DELETE: (no-tuple-data)`)).toEqual({ kind: 'delete', schema: 's', table: 'nokey' });
  });

  it('TRUNCATE of several tables, BEGIN/COMMIT, and the fence message', () => {
    expect(parseChange(`table a.x, "b c".y: TRUNCATE: restart_seqs cascade`)).toEqual({
      kind: 'truncate',
      relations: [
        { schema: 'a', table: 'x' },
        { schema: 'b c', table: 'y' },
      ],
    });
    expect(parseChange('BEGIN 742')).toEqual({ kind: 'begin', xid: '742' });
    expect(parseChange('COMMIT 742 (at 2026-11-30 03:01:44.818058+00)')).toEqual({ kind: 'commit', xid: '742' });
    expect(parseChange('message: transactional: 1 prefix: oasys_migrate, sz: 14 content:fence of run 3')).toEqual({
      kind: 'message',
      transactional: true,
      prefix: 'oasys_migrate',
      content: 'fence of run 3',
    });
  });

  it('refuses what it does not know, rather than guessing', () => {
    expect(() => parseChange('table s.t: MERGE: id[integer]:1')).toThrow(DecodeError);
    expect(() => parseChange(`table s.t: INSERT: a[text]:'unterminated`)).toThrow(DecodeError);
  });
});
