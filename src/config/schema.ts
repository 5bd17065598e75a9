/**
 * The JSON config file (SPEC §3), validated with zod. Every object is strict:
 * an unknown key is an error, so a misspelt key never silently falls back to a
 * default. The messages written here are the ones users read (see
 * `formatConfigIssues` in load.ts), so each names the rule that was broken.
 */
import { z } from 'zod';
import { connectionProblem } from './url.js';

/** PostgreSQL's NAMEDATALEN - 1: longer identifiers are silently truncated by the server. */
export const MAX_IDENTIFIER_BYTES = 63;

export const DEFAULT_REGISTRY_TABLE = 'public.customers_client';
export const DEFAULT_SCHEMA_COLUMN = 'schema_name';
export const DEFAULT_ID_COLUMN = 'id';

/** The schema the tool keeps its own state in (SPEC §4); never a target schema. */
export const STATE_SCHEMA = 'oasys_migrate';

/** `prefix.name`: what PostgreSQL accepts as a custom (placeholder) setting name. */
export const CUSTOM_SETTING_RE = /^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/;

export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function shown(s: string): string {
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s);
}

/** Why `name` cannot be a PostgreSQL identifier, or undefined when it can. */
export function identifierProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.includes('\u0000')) return 'must not contain a NUL character';
  const n = byteLength(name);
  if (n > MAX_IDENTIFIER_BYTES) {
    return `${shown(name)} is ${n} bytes; PostgreSQL names are at most ${MAX_IDENTIFIER_BYTES} bytes`;
  }
  return undefined;
}

/** Splits "schema.table" on the FIRST dot; no dot means the table is in `public`. */
export function splitQualifiedName(value: string): { schema: string; table: string } {
  const dot = value.indexOf('.');
  if (dot < 0) return { schema: 'public', table: value };
  return { schema: value.slice(0, dot), table: value.slice(dot + 1) };
}

export function qualifiedNameProblem(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty; write "schema.table" or "table" (schema public)';
  const { schema, table } = splitQualifiedName(value);
  if (!schema || !table) return `${shown(value)} must be "schema.table" or "table", with both parts non-empty`;
  const s = identifierProblem(schema);
  if (s) return `schema part: ${s}`;
  const t = identifierProblem(table);
  if (t) return `table part: ${t}`;
  return undefined;
}

/** "a" and "b"; "a", "b" and "c". */
export function listing(names: readonly string[]): string {
  const q = names.map((n) => JSON.stringify(n));
  return q.length <= 1 ? q.join('') : `${q.slice(0, -1).join(', ')} and ${q[q.length - 1]}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A string that must be usable as a PostgreSQL identifier. */
const pgName = z.string().check((ctx) => {
  const problem = identifierProblem(ctx.value);
  if (problem) ctx.issues.push({ continue: true, code: 'custom', message: problem, input: ctx.value });
});

const connectionString = z.string().check((ctx) => {
  const problem = connectionProblem(ctx.value);
  if (problem) ctx.issues.push({ continue: true, code: 'custom', message: problem, input: ctx.value });
});

/** Adds an issue for every repeated entry of a list (the later occurrences). */
function uniqueEntries(what: string) {
  return (ctx: z.core.ParsePayload<string[]>): void => {
    const seen = new Set<string>();
    ctx.value.forEach((v, i) => {
      if (seen.has(v)) {
        ctx.issues.push({ continue: true, code: 'custom', message: `${shown(v)} is listed twice in ${what}`, input: v, path: [i] });
      }
      seen.add(v);
    });
  };
}

export const RegistrySchema = z.strictObject({
  table: z
    .string()
    .check((ctx) => {
      const problem = qualifiedNameProblem(ctx.value);
      if (problem) ctx.issues.push({ continue: true, code: 'custom', message: problem, input: ctx.value });
    })
    .optional(),
  schemaColumn: pgName.optional(),
  idColumn: pgName.optional(),
});

const SELECTORS = ['registry', 'schemas', 'pattern'] as const;

export const TenantsObjectSchema = z.strictObject({
  registry: RegistrySchema.optional(),
  schemas: z
    .array(pgName)
    .min(1, { error: 'must list at least one schema (or leave the key out to use the registry)' })
    .check(uniqueEntries('tenants.schemas'))
    .check((ctx) => {
      ctx.value.forEach((v, i) => {
        if (v === 'public') {
          ctx.issues.push({ continue: true, code: 'custom', message: '"public" is the shared schema, not a tenant', input: v, path: [i] });
        }
      });
    })
    .optional(),
  pattern: z
    .string()
    .min(1, { error: 'must not be empty; write a LIKE pattern such as "tenant_%"' })
    .refine((s) => !s.includes('\u0000'), { error: 'must not contain a NUL character' })
    .optional(),
  exclude: z.array(pgName).optional(),
});

// Checked on whatever was given, even when another key of `tenants` is itself
// invalid, so "more than one selector" is never hidden behind another error.
const TenantsSchema = TenantsObjectSchema.refine((v) => SELECTORS.filter((k) => v[k] !== undefined).length <= 1, {
  when: (payload) => isPlainObject(payload.value),
  error: (iss) => {
    const given = SELECTORS.filter((k) => isPlainObject(iss.input) && iss.input[k] !== undefined);
    return `give only one of tenants.registry, tenants.schemas or tenants.pattern (found ${given.length > 1 ? `${given.slice(0, -1).join(', ')} and ${given[given.length - 1]}` : given.join('')})`;
  },
});

export const TablesSchema = z
  .strictObject({
    include: z
      .array(pgName)
      .min(1, { error: 'must list at least one table (leave the key out to migrate every tenant table)' })
      .check(uniqueEntries('tables.include'))
      .optional(),
    exclude: z.array(pgName).check(uniqueEntries('tables.exclude')).optional(),
    map: z.record(z.string(), pgName).optional(),
    // Tables that only some tenants have (multi-type tenants): migrated for those instead of DRIFT_MISSING_TABLE.
    partial: z.array(pgName).check(uniqueEntries('tables.partial')).optional(),
    // Same-name tables (in public and in the tenants) merged into the public one by a natural key (SPEC §4).
    merge: z
      .record(
        z.string(),
        z.array(pgName).min(1, { error: 'must list the natural key\'s columns, e.g. ["app_label", "model"]' }).check(uniqueEntries('tables.merge key')),
      )
      .optional(),
  })
  .check((ctx) => {
    const map = ctx.value.map;
    if (!map) return;
    const byTarget = new Map<string, string[]>();
    for (const [from, to] of Object.entries(map)) {
      const keyProblem = identifierProblem(from);
      if (keyProblem) {
        ctx.issues.push({ continue: true, code: 'custom', message: `key ${keyProblem}`, input: from, path: ['map', from] });
      }
      const list = byTarget.get(to) ?? [];
      list.push(from);
      byTarget.set(to, list);
    }
    for (const [to, froms] of byTarget) {
      if (froms.length > 1) {
        ctx.issues.push({
          continue: true,
          code: 'custom',
          message: `${listing(froms)} are all mapped to ${JSON.stringify(to)}; each target table name can be used once`,
          input: map,
          path: ['map', froms[1]],
        });
      }
    }
    // A mapped name that is also an included, unmapped tenant table would merge two tables.
    for (const [from, to] of Object.entries(map)) {
      if (to !== from && ctx.value.include?.includes(to) && !(to in map)) {
        ctx.issues.push({
          continue: true,
          code: 'custom',
          message: `${JSON.stringify(from)} is mapped to ${JSON.stringify(to)}, which is also the name of the included tenant table ${JSON.stringify(to)}; map one of them to another name`,
          input: to,
          path: ['map', from],
        });
      }
    }
  });

export const RlsSchema = z.strictObject({
  setting: z
    .string()
    .regex(CUSTOM_SETTING_RE, {
      error: (iss) =>
        `${shown(String(iss.input))} is not a custom setting name; PostgreSQL only accepts "prefix.name" (letters, digits and underscores, exactly one dot), e.g. "app.current_tenant"`,
    })
    .optional(),
  force: z.boolean().optional(),
});

export const ConfigObjectSchema = z.strictObject({
  source: connectionString.optional(),
  target: connectionString.optional(),
  tenants: TenantsSchema.optional(),
  targetSchema: pgName
    .refine((s) => s !== STATE_SCHEMA, { error: `"${STATE_SCHEMA}" holds this tool's own state; choose another schema` })
    .refine((s) => !/^pg_/i.test(s) && s !== 'information_schema', {
      error: 'names a system schema (pg_* and information_schema are reserved)',
    })
    .optional(),
  tenantColumn: pgName.optional(),
  tables: TablesSchema.optional(),
  rls: RlsSchema.optional(),
  chunkRows: z
    .int({ error: (iss) => (iss.code === 'invalid_type' ? undefined : 'must be an integer of at least 1000') })
    .min(1000, { error: 'must be an integer of at least 1000' })
    .optional(),
  concurrency: z
    .int({ error: (iss) => (iss.code === 'invalid_type' ? undefined : 'must be an integer from 1 to 64') })
    .min(1, { error: 'must be an integer from 1 to 64' })
    .max(64, { error: 'must be an integer from 1 to 64' })
    .optional(),
});

export const ConfigFileSchema = ConfigObjectSchema.check((ctx) => {
  const target = ctx.value.targetSchema ?? 'public';
  const schemas = ctx.value.tenants?.schemas;
  const i = schemas?.indexOf(target) ?? -1;
  if (i >= 0) {
    ctx.issues.push({
      continue: true,
      code: 'custom',
      message: `${JSON.stringify(target)} is also targetSchema; tenant schemas are never written to, so a tenant cannot be the target`,
      input: target,
      path: ['tenants', 'schemas', i],
    });
  }
});

export type FileConfig = z.infer<typeof ConfigFileSchema>;

/** The keys each (strict) object of the file allows, by dotted path; '' is the root. */
export const ALLOWED_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(ConfigObjectSchema.shape),
  tenants: Object.keys(TenantsObjectSchema.shape),
  'tenants.registry': Object.keys(RegistrySchema.shape),
  tables: Object.keys(TablesSchema.shape),
  rls: Object.keys(RlsSchema.shape),
};
