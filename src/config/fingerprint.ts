import { createHash } from 'node:crypto';
import { dedupe } from './common.js';
import type { ResolvedConfig } from './types.js';

/**
 * A short stable hash of the settings that change what `run` does: tenant
 * selection (mode, registry, schemas, pattern, exclude), targetSchema,
 * tenantColumn, tables and rls. Not URLs, concurrency, output flags, nor
 * `only` (--tenants narrows which steps an invocation does, not how a step is
 * done). Independent of key order and of the order of lists that are sets.
 */
export function configFingerprint(cfg: ResolvedConfig): string {
  const t = cfg.tenants;
  const tenants =
    t.mode === 'registry'
      ? { mode: t.mode, registry: t.registry }
      : t.mode === 'schemas'
        ? { mode: t.mode, schemas: sorted(t.schemas) }
        : { mode: t.mode, pattern: t.pattern };
  const material = {
    v: 1,
    tenants,
    exclude: sorted(cfg.exclude),
    targetSchema: cfg.targetSchema,
    tenantColumn: cfg.tenantColumn,
    tables: {
      include: cfg.tables.include ? sorted(cfg.tables.include) : null,
      exclude: sorted(cfg.tables.exclude),
      map: cfg.tables.map,
      // Only when given, so the fingerprint of every run recorded before the key existed stays the same.
      ...(cfg.tables.partial.length > 0 ? { partial: sorted(cfg.tables.partial) } : {}),
      ...(Object.keys(cfg.tables.merge ?? {}).length > 0 ? { merge: cfg.tables.merge } : {}),
    },
    rls: { setting: cfg.rls.setting, force: cfg.rls.force },
    // Only when given: the fingerprints of runs recorded before the flag existed stay the same.
    ...(cfg.distribute ? { distribute: cfg.distribute } : {}),
  };
  return createHash('sha256').update(canonicalJson(material)).digest('hex').slice(0, 16);
}

// ---------------------------------------------------------------------------

function sorted(list: readonly string[]): string[] {
  return dedupe(list).sort();
}

/** JSON with object keys sorted at every level. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonicalJson).join(',') + ']';
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return (
      '{' +
      Object.keys(o)
        .filter((k) => o[k] !== undefined)
        .sort()
        .map((k) => JSON.stringify(k) + ':' + canonicalJson(o[k]))
        .join(',') +
      '}'
    );
  }
  return JSON.stringify(v ?? null);
}
