import { z } from 'zod';
import { isPlainCopyStep, PHASES, plainCopyStep, PLAN_VERSION, type Effect, type Plan, type Step } from './model.js';

/**
 * The plan as `run` stores it with the run and `resume`, `verify`, `status`,
 * `check-rls` and `revert` read it back: validated, never cast. A plan of an
 * older format is upgraded where the meaning is known, and one of a newer
 * format is refused — never misread.
 */
const column = z.object({
  name: z.string(),
  type: z.string(),
  notNull: z.boolean(),
  identity: z.enum(['', 'a', 'd']),
  serial: z.boolean(),
  defaultExpr: z.string().nullable(),
  castViaText: z.boolean(),
  generatedExpr: z.string().nullable(),
});
const key = z.object({
  name: z.string(),
  columns: z.array(z.string()),
  nullsNotDistinct: z.boolean().optional(),
  deferrable: z.boolean().optional(),
  deferred: z.boolean().optional(),
});
const foreignKey = z.object({
  name: z.string(),
  columns: z.array(z.string()),
  refTable: z.string(),
  refSchema: z.string().optional(),
  refTableName: z.string().optional(),
  refColumns: z.array(z.string()),
  tenantScoped: z.boolean(),
  onUpdate: z.string(),
  onDelete: z.string(),
  matchFull: z.boolean(),
  deferrable: z.boolean(),
  deferred: z.boolean(),
});
const table = z
  .object({
    source: z.string(),
    target: z.string(),
    action: z.enum(['create', 'fill']),
    partitioned: z.boolean(),
    tenants: z.array(z.string()),
    estimatedRows: z.number(),
    columns: z.array(column),
    tenantColumnType: z.string(),
    primaryKey: key.optional(),
    sourceKey: z.array(z.string()).optional(),
    uniques: z.array(key),
    checks: z.array(z.object({ name: z.string(), definition: z.string() })),
    foreignKeys: z.array(foreignKey),
    indexes: z.array(z.object({ name: z.string(), sql: z.string(), tenantLeading: z.boolean() })),
    sequenceColumns: z.array(z.string()),
    types: z.array(z.string()),
    liftForce: z.boolean().optional(),
    copyAfter: z.array(z.string()).optional(),
    existing: z
      .object({
        columns: z.array(z.string()),
        rlsEnabled: z.boolean(),
        rlsForced: z.boolean(),
        policies: z.array(z.string()),
        indexes: z.array(z.string()),
        tenantDefault: z.string().nullable(),
      })
      .optional(),
  })
  .passthrough();
const copy = z.object({
  shared: z.boolean().optional(),
  tenant: z.string(),
  tenantId: z.string(),
  sourceTable: z.string(),
  targetTable: z.string(),
  estimatedRows: z.number(),
  binary: z.boolean(),
  alone: z.boolean().optional(),
  range: z
    .object({
      column: z.string(),
      from: z
        .string()
        .regex(/^-?\d+$/)
        .optional(),
      to: z
        .string()
        .regex(/^-?\d+$/)
        .optional(),
      chunk: z.number(),
      chunks: z.number(),
    })
    .optional(),
});
const effects = z
  .array(
    z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('creates-table'), object: z.string() }),
      z.object({ kind: z.literal('creates-type'), object: z.string() }),
      z.object({ kind: z.literal('changes-table'), table: z.string() }),
    ]),
  )
  .optional();
/** Format 3: consecutive plain copy steps of one table, one [schema, tenant id, estimated rows] each (storedPlanJson). */
const copies = z.object({
  copies: z.object({
    sourceTable: z.string(),
    targetTable: z.string(),
    binary: z.boolean(),
    effects,
    // Checked in place, not copied: 250,000 small arrays at 50,000 tenants, twice, were verify's peak of memory.
    tenants: z.custom<[string, string, number][]>(
      (v) =>
        Array.isArray(v) &&
        v.every((x) => Array.isArray(x) && x.length === 3 && typeof x[0] === 'string' && typeof x[1] === 'string' && typeof x[2] === 'number'),
      { message: 'expected [schema, tenant id, estimated rows] entries' },
    ),
  }),
});
const step = z.object({
  id: z.string(),
  phase: z.enum(PHASES as [string, ...string[]]),
  table: z.string().optional(),
  tenant: z.string().optional(),
  sql: z.array(z.string()),
  copy: copy.optional(),
  merge: z.string().optional(),
  effects,
});
const plan = z
  .object({
    version: z.union([z.literal(2), z.literal(PLAN_VERSION)]),
    rls: z.object({ setting: z.string(), force: z.boolean() }),
    role: z.object({ name: z.string(), superuser: z.boolean(), bypassRls: z.boolean() }).optional(),
    tenants: z.array(z.object({ schema: z.string(), tenantId: z.string() })),
    tenantColumn: z.string(),
    tenantColumnType: z.string(),
    targetSchema: z.string(),
    sameDatabase: z.boolean(),
    tables: z.array(table),
    types: z.array(z.object({ name: z.string(), kind: z.enum(['e', 'd']), action: z.enum(['create', 'exists']), sql: z.string() })),
    problems: z.array(z.object({ severity: z.enum(['error', 'warning', 'info']), code: z.string(), message: z.string() }).passthrough()),
    steps: z.array(z.union([step, copies])),
    shared: z.array(
      z.object({ schema: z.string(), table: z.string(), partitioned: z.boolean(), columns: z.array(column), primaryKey: z.array(z.string()) }).passthrough(),
    ),
    sourceFingerprint: z.string(),
    citus: z.object({ distributed: z.array(z.string()), reference: z.array(z.string()), policy: z.literal('direct') }).optional(),
  })
  .passthrough();

export class StoredPlanError extends Error {}

/**
 * Reads a stored plan. Format 1 (no `version`; copy steps held their SQL, the
 * RLS settings were not recorded) is upgraded: its copy SQL is dropped (the
 * executor renders it from the tables, as it did) and its RLS settings are
 * taken from `fallbackRls`, the only place they ever were.
 */
export function parseStoredPlan(raw: unknown, runId: number, fallbackRls: { setting: string; force: boolean }): Plan {
  const version = typeof raw === 'object' && raw !== null && 'version' in raw ? (raw as { version: unknown }).version : 1;
  let input = raw;
  if (version === 1) {
    const v1 = raw as Record<string, unknown> & { steps?: { copy?: Record<string, unknown> }[] };
    input = {
      ...v1,
      version: PLAN_VERSION,
      rls: fallbackRls,
      steps: (v1.steps ?? []).map((s) => (s.copy ? { ...s, copy: { ...s.copy, tenant: s.copy.shared ? schemaOfShared(v1, s.copy) : s.copy.tenant } } : s)),
    };
  } else if (version !== 2 && version !== PLAN_VERSION) {
    throw new StoredPlanError(
      `run #${runId} was recorded with plan format ${String(version)}, which this version of oasys-migrate (format ${PLAN_VERSION}) cannot read`,
    );
  }
  const r = plan.safeParse(input);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new StoredPlanError(`the stored plan of run #${runId} is not valid (${first.path.join('.')}: ${first.message})`);
  }
  const steps: Step[] = [];
  // The plan's tenant names and ids, once: not a copy of each per table (250,000 copy steps at 50,000 tenants).
  const tenantOf = new Map(r.data.tenants.map((t) => [t.schema, t]));
  for (const t of r.data.tables) t.tenants = t.tenants.map((x) => tenantOf.get(x)?.schema ?? x);
  for (const x of r.data.steps) {
    if (!('copies' in x)) {
      steps.push(x as Step);
      continue;
    }
    const { sourceTable, targetTable, binary, tenants, effects } = x.copies;
    const facts = { sourceTable, targetTable, binary, effects };
    for (const [schema, tenantId, estimatedRows] of tenants) {
      const t = tenantOf.get(schema);
      steps.push(plainCopyStep(t !== undefined && t.tenantId === tenantId ? t : { schema, tenantId }, facts, estimatedRows));
    }
  }
  return { ...(r.data as unknown as Plan), version: PLAN_VERSION, steps };
}

/**
 * The plan as stored with its run. A copy step that is exactly what plan/steps.ts makes for one
 * tenant's table (no chunk, no translation, nothing else) is fully said by its tenant, tenant id
 * and estimate: consecutive ones of one table are stored as one entry, so that 250,000 copy steps
 * (50,000 tenants) are 7 MB of JSON, not 63 MB, to write, read back and hold as text.
 */
export function storedPlanJson(plan: Plan): string {
  const out: unknown[] = [];
  let run: { sourceTable: string; targetTable: string; binary: boolean; effects?: Effect[]; tenants: [string, string, number][] } | undefined;
  let runKey = '';
  for (const s of plan.steps) {
    const c = s.copy;
    if (!isPlainCopyStep(s) || c === undefined) {
      run = undefined;
      out.push(s);
      continue;
    }
    const k = JSON.stringify([c.sourceTable, c.targetTable, c.binary, s.effects]);
    if (run === undefined || k !== runKey) {
      run = { sourceTable: c.sourceTable, targetTable: c.targetTable, binary: c.binary, ...(s.effects ? { effects: s.effects } : {}), tenants: [] };
      runKey = k;
      out.push({ copies: run });
    }
    run.tenants.push([c.tenant, c.tenantId, c.estimatedRows]);
  }
  return JSON.stringify({ ...plan, version: PLAN_VERSION, steps: out });
}

/** Format 1 named a shared copy's schema only in the step id (`shared:<schema>.<table>`). */
function schemaOfShared(v1: Record<string, unknown>, c: Record<string, unknown>): string {
  const shared = (v1.shared as { schema: string; table: string }[] | undefined) ?? [];
  return shared.find((x) => x.table === c.sourceTable)?.schema ?? 'public';
}
