import type { Catalog, Column, TypeDef } from '../discover/model.js';
import { ProblemCode, type Problem } from '../discover/problems.js';
import type { UnifiedType } from './model.js';
import { typeSql } from './ddl.js';

export function comparableTypeName(c: Column): string {
  return c.localType ? c.localType.name : c.type;
}

/** Unified types: one per local enum/domain name; an existing one of that name is reused if compatible. */
export function unifiedTypes(targetSchema: string, refs: Map<string, TypeDef>, target: Catalog, problems: Problem[]): UnifiedType[] {
  const out: UnifiedType[] = [];
  for (const [name, td] of refs) {
    const existing = target.types.get(targetSchema)?.get(name);
    if (existing) {
      const compatible = existing.kind === td.kind && (td.kind !== 'e' || td.labels.every((l) => existing.labels.includes(l)));
      if (!compatible) {
        problems.push({
          severity: 'error',
          code: ProblemCode.TARGET_TYPE_CONFLICT,
          message: `the target schema already has a type "${name}" that does not match the tenants' ${td.kind === 'e' ? 'enum' : 'domain'} "${name}"${td.kind === 'e' ? ` (labels ${td.labels.join(', ')})` : ''}`,
          hint: `drop or rename ${targetSchema}.${name}, or choose another targetSchema`,
        });
      }
      out.push({ name, kind: td.kind, action: 'exists', sql: '' });
    } else {
      out.push({ name, kind: td.kind, action: 'create', sql: typeSql(targetSchema, td) });
    }
  }
  return out;
}
