/**
 * test_decoding's text format, parsed. One line per change, e.g.
 *   table "t-1".orders: UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:2 note[text]:'it''s'
 * Identifiers are quoted as quote_identifier does; values are the type's output text, quoted
 * with doubled quotes unless numeric or boolean; `null` is NULL; a TOASTed value the update did
 * not touch is `unchanged-toast-datum` (keep the target's value — never NULL).
 */

export const UNCHANGED = Symbol('unchanged-toast-datum');

export interface Field {
  name: string;
  type: string;
  value: string | null | typeof UNCHANGED;
}

export type Change =
  | { kind: 'begin'; xid: string }
  | { kind: 'commit'; xid: string }
  | { kind: 'insert'; schema: string; table: string; tuple: Field[] }
  | { kind: 'update'; schema: string; table: string; tuple: Field[]; oldKey?: Field[] }
  | { kind: 'delete'; schema: string; table: string; oldKey?: Field[] }
  | { kind: 'truncate'; relations: { schema: string; table: string }[] }
  | { kind: 'message'; transactional: boolean; prefix: string; content: string };

export class DecodeError extends Error {}

class Reader {
  i = 0;
  constructor(readonly s: string) {}
  done(): boolean {
    return this.i >= this.s.length;
  }
  expect(text: string): void {
    if (!this.s.startsWith(text, this.i)) throw new DecodeError(`expected "${text}" at ${this.i} in: ${this.s.slice(0, 200)}`);
    this.i += text.length;
  }
  tryTake(text: string): boolean {
    if (!this.s.startsWith(text, this.i)) return false;
    this.i += text.length;
    return true;
  }
  /** A string between `quote`s (at the current position), a doubled quote standing for one. */
  quoted(quote: string, what: string): string {
    let out = '';
    this.i++;
    for (;;) {
      const j = this.s.indexOf(quote, this.i);
      if (j < 0) throw new DecodeError(`unterminated ${what} in: ${this.s.slice(0, 200)}`);
      out += this.s.slice(this.i, j);
      if (this.s[j + 1] === quote) {
        out += quote;
        this.i = j + 2;
      } else {
        this.i = j + 1;
        return out;
      }
    }
  }
  /** An identifier as quote_identifier writes it. */
  ident(stops: string): string {
    if (this.s[this.i] === '"') return this.quoted('"', 'identifier');
    const start = this.i;
    while (this.i < this.s.length && !stops.includes(this.s[this.i])) this.i++;
    return this.s.slice(start, this.i);
  }
  qualified(): { schema: string; table: string } {
    const schema = this.ident('.');
    this.expect('.');
    const table = this.ident(':,');
    return { schema, table };
  }
}

/** Parses one line of test_decoding output (with include-xids). */
export function parseChange(line: string): Change {
  if (line.startsWith('BEGIN ')) return { kind: 'begin', xid: line.slice(6).trim() };
  if (line.startsWith('COMMIT ')) return { kind: 'commit', xid: line.slice(7).split(' ')[0] };
  if (line.startsWith('message: ')) {
    const m = /^message: transactional: (\d) prefix: (.*?), sz: (\d+) content:([\s\S]*)$/.exec(line);
    if (!m) throw new DecodeError(`unrecognised message line: ${line.slice(0, 200)}`);
    return { kind: 'message', transactional: m[1] === '1', prefix: m[2], content: m[4] };
  }
  if (!line.startsWith('table ')) throw new DecodeError(`unrecognised line: ${line.slice(0, 200)}`);
  const r = new Reader(line);
  r.expect('table ');
  const relations = [r.qualified()];
  while (r.tryTake(', ')) relations.push(r.qualified());
  r.expect(': ');
  if (r.tryTake('TRUNCATE:')) return { kind: 'truncate', relations };
  const { schema, table } = relations[0];
  if (r.tryTake('INSERT: ')) return { kind: 'insert', schema, table, tuple: fields(r) };
  if (r.tryTake('INSERT:')) return { kind: 'insert', schema, table, tuple: [] };
  if (r.tryTake('DELETE: ')) {
    if (r.tryTake('(no-tuple-data)')) return { kind: 'delete', schema, table };
    return { kind: 'delete', schema, table, oldKey: fields(r) };
  }
  if (r.tryTake('UPDATE: ')) {
    if (r.tryTake('(no-tuple-data)')) return { kind: 'update', schema, table, tuple: [] };
    let oldKey: Field[] | undefined;
    if (r.tryTake('old-key: ')) {
      oldKey = fields(r, ' new-tuple: ');
      r.expect(' new-tuple: ');
    }
    return { kind: 'update', schema, table, tuple: fields(r), oldKey };
  }
  throw new DecodeError(`unrecognised change: ${line.slice(0, 200)}`);
}

/** `name[type]:value` separated by single spaces, until the end (or `until`). */
function fields(r: Reader, until?: string): Field[] {
  const out: Field[] = [];
  while (!r.done() && !(until && r.s.startsWith(until, r.i))) {
    if (out.length > 0) r.expect(' ');
    const name = r.ident('[');
    r.expect('[');
    const end = r.s.indexOf(']:', r.i);
    if (end < 0) throw new DecodeError(`no type for column ${name} in: ${r.s.slice(0, 200)}`);
    const type = r.s.slice(r.i, end);
    r.i = end + 2;
    out.push({ name, type, value: value(r) });
  }
  return out;
}

function value(r: Reader): string | null | typeof UNCHANGED {
  const s = r.s;
  if (s[r.i] === "'" || (s[r.i] === 'B' && s[r.i + 1] === "'")) {
    if (s[r.i] === 'B') r.i++;
    return r.quoted("'", 'value');
  }
  const start = r.i;
  while (r.i < s.length && s[r.i] !== ' ') r.i++;
  const word = s.slice(start, r.i);
  if (word === 'null') return null;
  if (word === 'unchanged-toast-datum') return UNCHANGED;
  return word;
}
