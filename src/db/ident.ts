/**
 * The one place identifiers become SQL. Every schema, table, column, type,
 * index, constraint and policy name goes through `ident`; values never do —
 * they are bound parameters.
 *
 * Tenant schema names are untrusted: they may hold quotes, dots, semicolons,
 * spaces or newlines. `ident` takes the path as separate parts and never splits
 * on '.', so `ident('a.b', 'c')` is `"a.b"."c"`, not `"a"."b"."c"`.
 */
export function ident(...parts: string[]): string {
  if (parts.length === 0) throw new Error('ident() needs at least one name part');
  return parts.map(quoteOne).join('.');
}

function quoteOne(name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new Error(`invalid SQL identifier: ${JSON.stringify(name)}`);
  }
  if (name.includes('\u0000')) throw new Error('SQL identifier contains a NUL byte');
  return '"' + name.replace(/"/g, '""') + '"';
}

/** A comma-separated list of quoted column names. */
export function identList(names: readonly string[]): string {
  return names.map((n) => ident(n)).join(', ');
}

/**
 * A SQL string literal, for the few places PostgreSQL accepts no parameter
 * (COMMENT ON, CREATE TYPE … AS ENUM labels, DDL printed by `plan --sql`).
 * Standard-conforming strings are on since PostgreSQL 9.1, so doubling quotes
 * is complete; backslashes are literal.
 */
export function literal(value: string): string {
  if (value.includes('\u0000')) throw new Error('SQL literal contains a NUL byte');
  return "'" + value.replace(/'/g, "''") + "'";
}

/**
 * A name derived from others, kept within PostgreSQL's 63-byte identifier limit
 * (longer names are silently truncated by the server, which can make two
 * derived names collide). A hash suffix keeps truncated names distinct.
 */
export function derivedName(...parts: string[]): string {
  const full = parts.join('_');
  if (Buffer.byteLength(full, 'utf8') <= 63) return full;
  const hash = fnv1a(full).toString(16).padStart(8, '0');
  let head = full;
  while (Buffer.byteLength(head, 'utf8') > 63 - 9) head = head.slice(0, -1);
  return `${head}_${hash}`;
}

/** 32-bit FNV-1a of the UTF-8 bytes: a short, stable hash (also seeds the fixtures' generator). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(s, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
