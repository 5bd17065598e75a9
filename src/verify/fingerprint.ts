import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ident } from '../db/ident.js';
import { sqlFile } from '../db/sqlFiles.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

export interface Fingerprint {
  /** Catalog facts, one line each (see sql/verify/catalog_fingerprint.sql). */
  catalog: string[];
  /** Qualified table → row count and order-free content hash. */
  content: Record<string, string>;
}

/**
 * Everything outside `excludeSchemas` that `run` could create or change:
 * catalog definitions, sequence values and the content of every table. Used
 * to prove that `revert` restores the pre-run state exactly.
 */
export async function fingerprint(db: Queryable, excludeSchemas: string[]): Promise<Fingerprint> {
  const exclude = [...excludeSchemas, 'oasys_migrate'];
  const catalog = (await db.query<{ line: string }>(sqlFile('verify/catalog_fingerprint'), [exclude])).rows.map((r) => r.line);
  const tables = await db.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
        AND NOT (n.nspname = ANY ($1::text[])) ORDER BY 1, 2`,
    [exclude],
  );
  const content: Record<string, string> = {};
  for (const t of tables.rows) {
    const q = ident(t.schema, t.name);
    const r = await db.query<{ n: string; h: string }>(
      `SELECT count(*)::text AS n, COALESCE(sum(pg_catalog.hashtextextended(x::text, 0)), 0)::text AS h FROM ${q} AS x`,
    );
    content[`${t.schema}.${t.name}`] = `${r.rows[0].n}:${r.rows[0].h}`;
  }
  return { catalog, content };
}

export function fingerprintDigest(f: Fingerprint): string {
  return createHash('sha256').update(JSON.stringify(f)).digest('hex').slice(0, 16);
}

/** Lines that differ between two fingerprints (for a message a person can act on). */
export function fingerprintDiff(a: Fingerprint, b: Fingerprint): string[] {
  const out: string[] = [];
  const setA = new Set(a.catalog);
  const setB = new Set(b.catalog);
  for (const l of a.catalog) if (!setB.has(l)) out.push(`- ${l}`);
  for (const l of b.catalog) if (!setA.has(l)) out.push(`+ ${l}`);
  for (const k of new Set([...Object.keys(a.content), ...Object.keys(b.content)])) {
    if (a.content[k] !== b.content[k]) out.push(`~ content of ${k}: ${a.content[k] ?? 'absent'} → ${b.content[k] ?? 'absent'}`);
  }
  return out;
}
