/**
 * `--json` documents written in pieces. `run --json` and `verify --json` list every (tenant, table)
 * pair (SPEC §6): at 50,000 tenants 250,000 of them, about 80 MB of indented JSON that as one string
 * (and as copies of the results made to print them) was more memory than the whole run needed.
 * The text is exactly JSON.stringify(doc, null, 2): objects near the top are written key by key,
 * arrays element by element, and everything else by JSON.stringify itself.
 */

/** A list printed element by element, each made by `fn` only as it is written (no copy of the list is held). */
export class MappedList<T, U> {
  constructor(
    private readonly items: readonly T[],
    private readonly fn: (x: T) => U,
  ) {}
  get length(): number {
    return this.items.length;
  }
  *[Symbol.iterator](): Generator<U> {
    for (const x of this.items) yield this.fn(x);
  }
  toJSON(): U[] {
    return this.items.map(this.fn);
  }
}

/** Writes JSON.stringify(doc, null, 2) + '\n' through `write`, in pieces of about 64 KB. */
export function writeDocument(write: (text: string) => void, doc: unknown): void {
  let pending = '';
  const emit = (text: string) => {
    pending += text;
    if (pending.length >= PIECE) {
      write(pending);
      pending = '';
    }
  };
  const whole = (v: unknown, indent: string): string | undefined => JSON.stringify(v, null, 2)?.replace(/\n/g, `\n${indent}`);
  // What JSON.stringify writes for `v` is its toJSON(key) where it has one (a MappedList is written as a list).
  const resolve = (v: unknown, key: string): unknown =>
    v instanceof MappedList || v === null || typeof v !== 'object' || typeof (v as { toJSON?: unknown }).toJSON !== 'function'
      ? v
      : (v as { toJSON(key: string): unknown }).toJSON(key);
  const omitted = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';
  const value = (v: unknown, indent: string, depth: number): void => {
    if (v instanceof MappedList || Array.isArray(v)) list(v as Iterable<unknown> & { length: number }, indent);
    else if (v !== null && typeof v === 'object' && depth < OBJECT_DEPTH && Object.getPrototypeOf(v) === Object.prototype)
      object(v as Record<string, unknown>, indent, depth);
    else emit(whole(v, indent) ?? 'null');
  };
  const list = (items: Iterable<unknown> & { length: number }, indent: string) => {
    if (items.length === 0) return emit('[]');
    const inner = indent + '  ';
    let first = true;
    for (const x of items) {
      emit(first ? `[\n${inner}` : `,\n${inner}`);
      first = false;
      emit(whole(x, inner) ?? 'null');
    }
    emit(`\n${indent}]`);
  };
  const object = (o: Record<string, unknown>, indent: string, depth: number) => {
    const inner = indent + '  ';
    let first = true;
    for (const [k, raw] of Object.entries(o)) {
      const v = resolve(raw, k);
      if (omitted(v)) continue;
      emit(`${first ? '{' : ','}\n${inner}${JSON.stringify(k)}: `);
      first = false;
      value(v, inner, depth + 1);
    }
    emit(first ? '{}' : `\n${indent}}`);
  };
  value(resolve(doc, ''), '', 0);
  emit('\n');
  if (pending) write(pending);
}

const PIECE = 1 << 16;
/** Objects this close to the top are written key by key (where the long lists are). */
const OBJECT_DEPTH = 3;
