/**
 * A strict JSON reader for the config file. `JSON.parse` reports no position
 * for some errors, echoes the surrounding text (which may hold a password) and
 * silently keeps the last of two equal keys; this one says line and column in
 * words, never quotes more than the one offending character, and rejects
 * duplicate keys. It accepts exactly RFC 8259 JSON (a leading BOM is skipped).
 */

export type JsonPath = (string | number)[];

export class JsonSyntaxError extends Error {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  readonly path?: JsonPath;
  constructor(message: string, offset: number, line: number, column: number, path?: JsonPath) {
    super(message);
    this.name = 'JsonSyntaxError';
    this.offset = offset;
    this.line = line;
    this.column = column;
    this.path = path;
  }
}

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

export function parseJsonStrict(input: string): unknown {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  let pos = 0;

  const fail = (message: string, at = pos, path?: JsonPath): never => {
    const { line, column } = lineColumn(text, at);
    throw new JsonSyntaxError(message, at, line, column, path);
  };

  const describe = (at: number): string => {
    if (at >= text.length) return 'the end of the file';
    const ch = text[at];
    const code = ch.charCodeAt(0);
    if (code < 0x20) return `control character U+${code.toString(16).padStart(4, '0').toUpperCase()}`;
    return JSON.stringify(ch);
  };

  const unexpected = (expected: string): never => {
    if (pos >= text.length) return fail(`unexpected end of file; expected ${expected}`);
    const ch = text[pos];
    if (ch === '/') return fail('comments are not allowed in JSON');
    if (ch === "'") return fail(`strings must be in double quotes, not single quotes; expected ${expected}`);
    return fail(`unexpected ${describe(pos)}; expected ${expected}`);
  };

  const ws = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
  };

  const str = (): string => {
    // text[pos] === '"'
    pos++;
    let out = '';
    let chunk = pos;
    while (true) {
      if (pos >= text.length) return fail('unterminated string (missing closing ")');
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(chunk, pos);
        pos++;
        return out;
      }
      if (c < 0x20) {
        return fail(`${c === 0x0a ? 'line break' : describe(pos)} inside a string; write it as an escape such as \\n`);
      }
      if (c === 0x5c) {
        out += text.slice(chunk, pos);
        const e = text[pos + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) {
          out += simple[e];
          pos += 2;
        } else if (e === 'u') {
          const hex = text.slice(pos + 2, pos + 6);
          if (!/^[0-9A-Fa-f]{4}$/.test(hex)) return fail('invalid \\u escape; expected four hex digits', pos);
          out += String.fromCharCode(parseInt(hex, 16));
          pos += 6;
        } else {
          return fail(`invalid escape "\\${e ?? ''}" in a string`, pos);
        }
        chunk = pos;
        continue;
      }
      pos++;
    }
  };

  const num = (): number => {
    const m = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    m.lastIndex = pos;
    const r = m.exec(text);
    if (!r) return unexpected('a value');
    const after = text[pos + r[0].length];
    if (after !== undefined && /[0-9.eE+\-xX]/.test(after)) {
      return fail(`malformed number; JSON numbers have no leading zeros, hex or trailing dots`, pos);
    }
    pos += r[0].length;
    return Number(r[0]);
  };

  const value = (path: JsonPath): unknown => {
    ws();
    const ch = text[pos];
    if (ch === '{') return object(path);
    if (ch === '[') return array(path);
    if (ch === '"') return str();
    if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) return num();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return v;
      }
    }
    return unexpected('a value (string, number, object, array, true, false or null)');
  };

  const object = (path: JsonPath): Record<string, unknown> => {
    pos++; // {
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    ws();
    if (text[pos] === '}') {
      pos++;
      return out;
    }
    while (true) {
      ws();
      if (text[pos] === '}') return fail('trailing comma before "}" (JSON allows none)');
      if (text[pos] !== '"') {
        if (pos < text.length && /[A-Za-z_$]/.test(text[pos])) return fail('property names must be in double quotes');
        return unexpected('a property name in double quotes');
      }
      const keyAt = pos;
      const key = str();
      if (seen.has(key)) {
        return fail(`duplicate key ${JSON.stringify(key)}; JSON would silently keep only the last one`, keyAt, [...path, key]);
      }
      seen.add(key);
      ws();
      if (text[pos] !== ':') return unexpected(`":" after the property name ${JSON.stringify(key)}`);
      pos++;
      const v = value([...path, key]);
      // defineProperty: a "__proto__" key becomes an own property, as with JSON.parse.
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      ws();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === '}') {
        pos++;
        return out;
      }
      return unexpected('"," or "}" after a property value');
    }
  };

  const array = (path: JsonPath): unknown[] => {
    pos++; // [
    const out: unknown[] = [];
    ws();
    if (text[pos] === ']') {
      pos++;
      return out;
    }
    while (true) {
      ws();
      if (text[pos] === ']') return fail('trailing comma before "]" (JSON allows none)');
      out.push(value([...path, out.length]));
      ws();
      if (text[pos] === ',') {
        pos++;
        continue;
      }
      if (text[pos] === ']') {
        pos++;
        return out;
      }
      return unexpected('"," or "]" after an array element');
    }
  };

  ws();
  if (pos >= text.length) fail('the file is empty; expected a JSON object');
  const result = value([]);
  ws();
  if (pos < text.length) {
    if (text[pos] === '/') fail('comments are not allowed in JSON');
    fail(`unexpected ${describe(pos)} after the end of the JSON value`);
  }
  return result;
}
