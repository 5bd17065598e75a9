import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from './db/sqlFiles.js';

let cached: string | undefined;

/** The version in the package's own package.json (one source of truth: no literal in the code). */
export function toolVersion(): string {
  if (cached === undefined) {
    const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
    cached = pkg.version ?? 'unknown';
  }
  return cached;
}
