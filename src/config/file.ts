import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { UsageError } from '../errors.js';
import { JsonSyntaxError, parseJsonStrict } from './json.js';
import { ALLOWED_KEYS, ConfigFileSchema, type FileConfig } from './schema.js';
import { dedupe, DEFAULT_CONFIG_FILE, envValue } from './common.js';
import type { CliOptions } from './types.js';

/** The config file as read: where it is, how to name it in messages, and its validated content. */
export interface LoadedFile {
  path: string;
  display: string;
  data: FileConfig;
}

export function readConfigFile(cli: CliOptions, env: NodeJS.ProcessEnv, cwd: string): LoadedFile | undefined {
  let display: string;
  let via: string;
  if (cli.config !== undefined) {
    display = cli.config;
    via = '--config';
  } else if (envValue(env, 'OASYS_CONFIG') !== undefined) {
    display = (env.OASYS_CONFIG as string).trim();
    via = 'OASYS_CONFIG';
  } else {
    const fallback = path.join(cwd, DEFAULT_CONFIG_FILE);
    if (!existsSync(fallback)) return undefined;
    display = `./${DEFAULT_CONFIG_FILE}`;
    via = '';
  }
  if (display.trim() === '') throw new UsageError(`${via}: the config file path is empty`, 'give a file path, or leave it out');
  const abs = path.resolve(cwd, display);

  let text: string;
  try {
    if (statSync(abs).isDirectory()) {
      throw new UsageError(`config file ${display} is a directory`, 'name a JSON file');
    }
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') {
      throw new UsageError(
        `config file ${display} does not exist (given by ${via}${abs !== display ? `; looked for ${abs}` : ''})`,
        `check the path given to ${via}, or leave it out to use ./${DEFAULT_CONFIG_FILE} when present`,
        { keyPath: via },
      );
    }
    throw new UsageError(
      `cannot read config file ${display}: ${code === 'EACCES' ? 'permission denied' : (code ?? String(err))}`,
      'check the file and its permissions',
    );
  }

  let raw: unknown;
  try {
    raw = parseJsonStrict(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) {
      throw new UsageError(
        `config file ${display}: invalid JSON at line ${err.line}, column ${err.column} (position ${err.offset}): ${err.message}`,
        'fix the JSON syntax there (double-quoted keys and strings, no trailing commas, no comments)',
        { keyPath: err.path ? formatPath(err.path) : undefined },
      );
    }
    throw err;
  }

  const parsed = ConfigFileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = dedupe(parsed.error.issues.flatMap((i) => formatIssue(i, raw)));
    const first = parsed.error.issues[0];
    throw new UsageError(
      lines.map((l) => `config file ${display}: ${l}`).join('\n'),
      `fix ${lines.length === 1 ? 'the key' : 'the keys'} named above in ${display}; the top-level keys are ${ALLOWED_KEYS[''].join(', ')}`,
      { keyPath: first ? formatPath(first.path as (string | number)[]) : undefined },
    );
  }
  return { path: abs, display, data: parsed.data };
}

/** `tenants.registry.table`, `tenants.schemas[1]`, `tables.map["odd.name"]`; '(root)' for the top. */
export function formatPath(p: readonly PropertyKey[]): string {
  if (p.length === 0) return '(root)';
  let out = '';
  for (const seg of p) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += (out ? '.' : '') + seg;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

function valueAt(root: unknown, p: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const seg of p) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function typeName(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'number' : `number ${v}`;
  return typeof v;
}

const EXPECTED_NAMES: Record<string, string> = {
  int: 'integer',
  object: 'object',
  array: 'array',
  string: 'string',
  boolean: 'boolean (true or false)',
  number: 'number',
  record: 'object',
};

/** Where zod's own type name is less precise than what the key needs. */
const EXPECTED_AT: Record<string, string> = { concurrency: 'integer' };

function formatIssue(issue: z.core.$ZodIssue, raw: unknown): string[] {
  const where = formatPath(issue.path as PropertyKey[]);
  switch (issue.code) {
    case 'invalid_type': {
      const got = valueAt(raw, issue.path as PropertyKey[]);
      const expected = EXPECTED_AT[where] ?? EXPECTED_NAMES[issue.expected] ?? issue.expected;
      if (got === undefined) return [`${where}: missing (expected ${expected})`];
      return [`${where}: expected ${expected}, got ${typeName(got)}`];
    }
    case 'unrecognized_keys': {
      const allowed = ALLOWED_KEYS[issue.path.join('.')] ?? [];
      return issue.keys.map((key) => {
        const guess = closest(key, allowed);
        return (
          `unknown key ${JSON.stringify(key)} at ${where}` +
          (guess ? ` — did you mean ${JSON.stringify(guess)}?` : '') +
          (allowed.length ? ` (allowed here: ${allowed.join(', ')})` : '')
        );
      });
    }
    default:
      return [`${where}: ${issue.message}`];
  }
}

/** The allowed key nearest to a misspelt one (edit distance ≤ 2, or same ignoring case), if any. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const a of allowed) {
    const d = a.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, a);
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  return bestD <= 2 ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}
