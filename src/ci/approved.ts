/**
 * `plan --out plan.json` and `run --plan plan.json`: an approved plan records a
 * fingerprint of what it was built from — the tenant tables' definitions (per
 * unified table), the tenants and their ids, what the target already holds
 * (create or fill), and the configuration that shapes the run — so that `run`
 * can refuse, naming each difference, when the database or the configuration
 * no longer matches what was reviewed.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { ResolvedConfig } from '../config/load.js';
import { UsageError, WantingError } from '../errors.js';
import type { Plan, UnifiedTable } from '../plan/model.js';
import { toolVersion } from '../version.js';
import { canonicalJson } from '../config/fingerprint.js';

export const PLAN_FORMAT = 'oasys-migrate-plan';
export const PLAN_FORMAT_VERSION = 1;

export interface PlanBasis {
  /** The settings that shape what `run` does, by key path (connection strings and output flags excluded). */
  config: Record<string, unknown>;
  /** schema → tenant id. */
  tenants: Record<string, string>;
  /** unified table → digest of its definition (columns, keys, foreign keys, indexes, types, action, tenants). */
  tables: Record<string, string>;
  /** The tenant tables' definitions as a whole (the plan's own source fingerprint). */
  source: string;
  /** The problems the reviewer saw, by severity, code, table, tenant and column (a new warning is a difference too). */
  problems?: string[];
}

export interface ApprovedPlan {
  format: typeof PLAN_FORMAT;
  formatVersion: number;
  toolVersion: string;
  createdAt: string;
  /** sha256 of the canonical basis: equal fingerprints, equal plans. */
  fingerprint: string;
  basis: PlanBasis;
  /** The plan as `plan --json` prints it, for the reviewer. */
  plan: unknown;
}

const sha = (v: unknown) => createHash('sha256').update(canonicalJson(v)).digest('hex');
const sortedCopy = (xs: readonly string[] | undefined) => (xs ? [...new Set(xs)].sort() : null);

export function configBasis(cfg: ResolvedConfig): Record<string, unknown> {
  const t = cfg.tenants;
  return {
    'tenants.selector': t.mode,
    'tenants.registry': t.mode === 'registry' ? t.registry : null,
    'tenants.schemas': t.mode === 'schemas' ? sortedCopy(t.schemas) : null,
    'tenants.pattern': t.mode === 'pattern' ? t.pattern : null,
    'tenants.exclude': sortedCopy(cfg.exclude),
    '--tenants': sortedCopy(cfg.only),
    '--exclude-tenants': sortedCopy(cfg.skip),
    targetSchema: cfg.targetSchema,
    tenantColumn: cfg.tenantColumn,
    'tables.include': sortedCopy(cfg.tables.include),
    'tables.exclude': sortedCopy(cfg.tables.exclude),
    'tables.map': cfg.tables.map,
    'tables.partial': sortedCopy(cfg.tables.partial),
    'rls.setting': cfg.rls.setting,
    'rls.force': cfg.rls.force,
    'separate target': !cfg.sameDatabase,
  };
}

function tableDigest(t: UnifiedTable): string {
  return sha({
    source: t.source,
    action: t.action,
    partitioned: t.partitioned,
    tenants: [...t.tenants].sort(),
    columns: t.columns,
    tenantColumnType: t.tenantColumnType,
    primaryKey: t.primaryKey ?? null,
    uniques: t.uniques,
    checks: t.checks,
    foreignKeys: t.foreignKeys,
    indexes: t.indexes.map((i) => i.sql),
    types: t.types,
  });
}

export function planBasis(cfg: ResolvedConfig, plan: Plan): PlanBasis {
  return {
    config: configBasis(cfg),
    tenants: Object.fromEntries(plan.tenants.map((t) => [t.schema, String(t.tenantId)])),
    tables: Object.fromEntries(plan.tables.map((t) => [t.target, tableDigest(t)])),
    source: plan.sourceFingerprint,
    problems: [...new Set(plan.problems.filter((p) => !MIGRATION_STATE.has(p.code)).map(problemKey))].sort(),
  };
}

/**
 * Problems that describe the migration's own progress, not the database's definitions: a canary
 * run or an interrupted run (resumed with the same --plan) changes them, and that is no reason to refuse.
 */
const MIGRATION_STATE = new Set<string>(['ALREADY_MIGRATED', 'TARGET_HAS_TENANT_ROWS']);

function problemKey(p: Plan['problems'][number]): string {
  return [p.severity, p.code, p.table ? `table ${p.table}` : '', p.tenant ? `tenant ${JSON.stringify(p.tenant)}` : '', p.column ? `column ${p.column}` : '']
    .filter(Boolean)
    .join(' ');
}

export function approvedPlan(cfg: ResolvedConfig, plan: Plan, document: unknown): ApprovedPlan {
  const basis = planBasis(cfg, plan);
  return {
    format: PLAN_FORMAT,
    formatVersion: PLAN_FORMAT_VERSION,
    toolVersion: toolVersion(),
    createdAt: new Date().toISOString(),
    fingerprint: sha(basis),
    basis,
    plan: document,
  };
}

export function writeApprovedPlan(file: string, approved: ApprovedPlan): void {
  try {
    writeFileSync(file, JSON.stringify(approved, null, 2) + '\n');
  } catch (err) {
    throw new UsageError(`--out ${file}: cannot write the plan (${(err as Error).message})`, 'give a writable path', { keyPath: '--out' });
  }
}

export function readApprovedPlan(file: string): ApprovedPlan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `--plan ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      'give the file written by `oasys-migrate plan --out <file>`',
      { keyPath: '--plan' },
    );
  }
  let doc: Partial<ApprovedPlan>;
  try {
    doc = JSON.parse(text) as Partial<ApprovedPlan>;
  } catch {
    throw new UsageError(`--plan ${file}: not JSON`, 'give the file written by `oasys-migrate plan --out <file>`', { keyPath: '--plan' });
  }
  if (doc?.format !== PLAN_FORMAT || typeof doc.fingerprint !== 'string' || !doc.basis) {
    throw new UsageError(`--plan ${file}: not a plan written by \`oasys-migrate plan --out\``, 'write one with `oasys-migrate plan --out plan.json`', {
      keyPath: '--plan',
    });
  }
  if (doc.formatVersion !== PLAN_FORMAT_VERSION) {
    throw new UsageError(
      `--plan ${file}: plan format ${doc.formatVersion} (written by oasys-migrate ${doc.toolVersion}); this version reads format ${PLAN_FORMAT_VERSION}`,
      'write the plan again with this version and have it approved',
      { keyPath: '--plan' },
    );
  }
  return doc as ApprovedPlan;
}

const show = (v: unknown) => (v === null || v === undefined ? 'unset' : JSON.stringify(v));
const few = (xs: string[]) =>
  xs
    .slice(0, 10)
    .map((x) => JSON.stringify(x))
    .join(', ') + (xs.length > 10 ? `, … (${xs.length} in all)` : '');

/** Every difference between the approved basis and the current one, in words; empty when they match. */
export function basisDifferences(approved: PlanBasis, now: PlanBasis): string[] {
  const out: string[] = [];
  for (const k of [...new Set([...Object.keys(approved.config), ...Object.keys(now.config)])].sort()) {
    if (canonicalJson(approved.config[k]) !== canonicalJson(now.config[k]))
      out.push(`configuration ${k}: approved ${show(approved.config[k])}, now ${show(now.config[k])}`);
  }
  const added = Object.keys(now.tenants).filter((t) => !(t in approved.tenants));
  const removed = Object.keys(approved.tenants).filter((t) => !(t in now.tenants));
  const renumbered = Object.keys(now.tenants).filter((t) => t in approved.tenants && approved.tenants[t] !== now.tenants[t]);
  if (added.length) out.push(`tenants not in the approved plan: ${few(added)}`);
  if (removed.length) out.push(`tenants of the approved plan that are gone or no longer selected: ${few(removed)}`);
  for (const t of renumbered.slice(0, 10)) out.push(`tenant ${JSON.stringify(t)}: registry id approved ${approved.tenants[t]}, now ${now.tenants[t]}`);
  const newTables = Object.keys(now.tables).filter((t) => !(t in approved.tables));
  const goneTables = Object.keys(approved.tables).filter((t) => !(t in now.tables));
  const changed = Object.keys(now.tables).filter((t) => t in approved.tables && approved.tables[t] !== now.tables[t]);
  if (newTables.length) out.push(`tables not in the approved plan: ${few(newTables)}`);
  if (goneTables.length) out.push(`tables of the approved plan no longer planned: ${few(goneTables)}`);
  if (changed.length) out.push(`tables whose definition or target changed (columns, keys, indexes, types, tenants, or create vs fill): ${few(changed)}`);
  if (approved.problems && now.problems) {
    const was = new Set(approved.problems);
    const is = new Set(now.problems);
    const appeared = now.problems.filter((p) => !was.has(p));
    const resolved = approved.problems.filter((p) => !is.has(p));
    if (appeared.length)
      out.push(`problems not in the approved plan: ${appeared.slice(0, 10).join('; ')}${appeared.length > 10 ? `; … (${appeared.length} in all)` : ''}`);
    if (resolved.length)
      out.push(
        `problems of the approved plan that are gone: ${resolved.slice(0, 10).join('; ')}${resolved.length > 10 ? `; … (${resolved.length} in all)` : ''}`,
      );
  }
  if (out.length === 0 && approved.source !== now.source) out.push("the tenant tables' definitions changed (source fingerprint differs)");
  return out;
}

/** `run --plan`: refuses (exit 1, nothing written) unless the plan run would execute is the approved one. */
export function assertMatchesApproved(file: string, approved: ApprovedPlan, cfg: ResolvedConfig, plan: Plan): void {
  const now = planBasis(cfg, plan);
  const diffs = basisDifferences(approved.basis, now);
  if (diffs.length === 0 && sha(now) === approved.fingerprint) return;
  if (diffs.length === 0) diffs.push('the plan fingerprint differs');
  throw new WantingError(
    `the database or the configuration no longer matches the approved plan ${file} (written ${approved.createdAt}):\n` +
      diffs.map((d) => `  - ${d}`).join('\n'),
    'nothing was written; review the change: `oasys-migrate plan --out plan.json`, have it approved, then `oasys-migrate run --plan plan.json`',
    { keyPath: '--plan' },
  );
}
