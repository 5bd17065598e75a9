import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * SQL lives in `sql/` at the package root so that it can be read and run in
 * psql as it is. This finds the root from wherever the code runs (src/ under
 * vitest, dist/src/ when built).
 */
let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'oasys-migrate') {
      root = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the oasys-migrate package root');
    dir = parent;
  }
}

const cache = new Map<string, string>();

/** The text of `sql/<name>.sql`. */
export function sqlFile(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = fs.readFileSync(path.join(packageRoot(), 'sql', `${name}.sql`), 'utf8');
    cache.set(name, text);
  }
  return text;
}
