import { derivedName } from '../db/ident.js';
import type { TableContext } from './context.js';

/** A name that is free in the target schema, preferring the original. */
export function freeName(ctx: TableContext, preferred: string, ...fallback: string[]): string {
  let name = preferred;
  if (ctx.usedNames.has(name)) name = derivedName(...fallback);
  let n = 2;
  while (ctx.usedNames.has(name)) name = derivedName(...fallback, String(n++));
  ctx.usedNames.add(name);
  return name;
}
