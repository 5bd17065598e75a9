import type pg from 'pg';
import { ident } from '../db/ident.js';
import { restrictedTables } from '../db/rlsAccess.js';
import { EnvironmentError, WantingError, type OasysError } from '../errors.js';
import { tenantsAmong, type Plan } from '../plan/model.js';
import { ProblemCode, sortProblems, type Problem } from '../discover/problems.js';
import { completedRuns, stateSchemaExists } from '../state/journal.js';
import { sourcePrivileges, targetPrivileges } from './privileges.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/**
 * What the database says about a plan beyond its catalog: privileges the run
 * would lack, tenants a completed run already migrated, filled tables that
 * already hold the selected tenants' rows. `plan` reports these problems and
 * `run` enforces them through `refusal` — one computation, one wording.
 */
export async function preflight(source: Queryable, target: Queryable, plan: Plan): Promise<Problem[]> {
  const problems = await privilegeProblems(source, target, plan, plan);
  // Tenants a completed run already migrated: run would only verify them (or refuse an overlap).
  if (await stateSchemaExists(target)) {
    const selected = new Set(plan.tenants.map((t) => t.schema));
    for (const r of await completedRuns(target)) {
      const overlap = r.tenants.filter((t) => selected.has(t));
      if (overlap.length === 0) continue;
      problems.push({
        severity: 'info',
        code: ProblemCode.ALREADY_MIGRATED,
        message: `run #${r.runId} (completed ${r.finishedAt?.toISOString() ?? ''}) already migrated ${overlap.length} of the selected tenants: \`run\` skips them (with the same configuration) and migrates only the others`,
        hint: 'to migrate them again, `oasys-migrate revert` first',
      });
    }
  }
  // A table to be filled that already holds rows of the selected tenants: they stay, and without
  // a key nothing would stop a second copy of the same rows (e.g. after the journal was dropped).
  const fills = plan.tables.filter((x) => x.action === 'fill');
  const hidden = await restrictedTables(
    target,
    fills.map((t) => ident(plan.targetSchema, t.target)),
  );
  for (const t of fills) {
    const ids = tenantsAmong(plan, t.tenants).map((x) => x.tenantId);
    const q = ident(plan.targetSchema, t.target);
    if (hidden.has(q)) {
      // FORCE hides the rows from this owner and plan writes nothing: said instead of guessed.
      problems.push({
        severity: 'info',
        code: ProblemCode.TARGET_HAS_TENANT_ROWS,
        table: t.source,
        message: `${plan.targetSchema}.${t.target} forces row-level security on the migrating role: plan cannot count its rows of the selected tenants (run lifts FORCE for the owner and keeps every row that is there)`,
      });
      continue;
    }
    const r = await target.query<{ n: number }>(
      `SELECT count(DISTINCT ${ident(plan.tenantColumn)})::int AS n FROM ${q} WHERE ${ident(plan.tenantColumn)} = ANY ($1::${t.tenantColumnType}[])`,
      [ids],
    );
    if (r.rows[0].n > 0) {
      problems.push({
        severity: 'warning',
        code: ProblemCode.TARGET_HAS_TENANT_ROWS,
        table: t.source,
        message: `${plan.targetSchema}.${t.target} already holds rows of ${r.rows[0].n} of the selected tenants; they stay, and a migrated row that collides with one on the table's key is a data error${t.sourceKey ? '' : " (the tenants' table has no primary key: identical rows would not collide)"}`,
        hint: 'if an earlier migration already copied these tenants (its journal gone), revert or clean it first; otherwise nothing to do',
      });
    }
  }
  return problems;
}

/**
 * Privileges run would lack, as problems. `sourcePlan` is the plan whose tenant tables are read
 * (a resumed run reads its stored plan's), `targetPlan` the one whose tables are written.
 */
export async function privilegeProblems(source: Queryable, target: Queryable, targetPlan: Plan, sourcePlan: Plan): Promise<Problem[]> {
  return [...(await targetPrivileges(target, targetPlan)), ...(await sourcePrivileges(source, sourcePlan))].map((m) => ({
    severity: 'warning' as const,
    code: ProblemCode.PRIVILEGE_MISSING,
    message: `${m.side}: ${m.what}`,
    hint: m.grant,
  }));
}

/** Adds the preflight's problems to the plan's, in order. */
export async function withPreflight(source: Queryable, target: Queryable, plan: Plan): Promise<void> {
  plan.problems.push(...(await preflight(source, target, plan)));
  sortProblems(plan.problems);
}

/**
 * Would `run` refuse this plan, and how: a missing privilege is the
 * environment's (exit 3), a blocking problem the plan's (exit 1). `plan`
 * prints the same verdict that `run` throws.
 */
export function refusal(problems: readonly Problem[]): OasysError | undefined {
  const n = problems.filter((p) => p.severity === 'error');
  if (n.length > 0) {
    return new WantingError(
      `run refuses to start: plan found ${n.length} blocking problem${n.length > 1 ? 's' : ''}:\n` +
        n
          .slice(0, 20)
          .map((p) => `  ${p.code}: ${p.message}`)
          .join('\n') +
        (n.length > 20 ? `\n  … ${n.length - 20} more (see \`oasys-migrate plan\`)` : ''),
      'fix them (see `oasys-migrate plan` for the details and what to do), then run again; nothing was written',
    );
  }
  const missing = problems.filter((p) => p.code === ProblemCode.PRIVILEGE_MISSING);
  if (missing.length === 0) return undefined;
  return new EnvironmentError(
    `run cannot start: ${missing.map((m) => m.message.replace(/^(source|target): /, '')).join('; ')}`,
    `${missing.map((m) => m.hint).join('; ')} — nothing was written`,
  );
}
