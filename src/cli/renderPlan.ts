import type { PlanResult } from '../commands/plan.js';
import type { Problem } from '../discover/problems.js';
import { PHASES, type Plan, type Step } from '../plan/model.js';
import { copyStatements } from '../plan/copySql.js';
import { formatCount, table, type Output } from './output.js';
import { formatBytes } from '../report/size.js';

export function planDocument(r: PlanResult, withSql: boolean) {
  const { plan } = r;
  return {
    ok: !r.blocking,
    tenants: plan.tenants.map((t) => ({ schema: t.schema, tenantId: t.tenantId })),
    tables: plan.tables.map((t) => ({
      name: t.target,
      source: t.source,
      action: t.action,
      rows: t.estimatedRows,
      bytes: r.sizes?.[t.target] ?? null,
      tenants: t.tenants.length,
    })),
    bytes: r.sizes ? Object.values(r.sizes).reduce((a, b) => a + b, 0) : null,
    problems: plan.problems.map((p) => ({
      severity: p.severity,
      code: p.code,
      tenant: p.tenant ?? null,
      table: p.table ?? null,
      column: p.column ?? null,
      message: p.message,
      hint: p.hint ?? null,
    })),
    tenantColumn: plan.tenantColumn,
    tenantColumnType: plan.tenantColumnType,
    targetSchema: plan.targetSchema,
    steps: withSql ? plan.steps.map((s) => ({ id: s.id, phase: s.phase, sql: stepStatements(plan, s) })) : undefined,
    seconds: Number(r.seconds.toFixed(3)),
  };
}

export function renderProblems(out: Output, problems: Problem[]): void {
  if (problems.length === 0) return;
  const { c } = out;
  out.line(
    c.bold(
      `Problems (${problems.filter((p) => p.severity === 'error').length} blocking, ${problems.filter((p) => p.severity === 'warning').length} warnings):`,
    ),
  );
  for (const p of problems) {
    const sev = p.severity === 'error' ? c.red('error  ') : p.severity === 'warning' ? c.yellow('warning') : c.dim('info   ');
    out.line(`  ${sev} ${p.code}: ${p.message}`);
    if (p.hint) out.line(c.dim(`          what to do: ${p.hint}`));
  }
}

export function renderPlan(out: Output, r: PlanResult, withSql: boolean): void {
  const { plan } = r;
  const { c } = out;
  out.line(
    c.bold(`Tenants (${plan.tenants.length}):`) +
      ' ' +
      plan.tenants
        .slice(0, 20)
        .map((t) => `${JSON.stringify(t.schema)}=${t.tenantId}`)
        .join(', ') +
      (plan.tenants.length > 20 ? `, … ${plan.tenants.length - 20} more` : ''),
  );
  out.line(`Tenant column: ${plan.tenantColumn} ${plan.tenantColumnType} in schema ${plan.targetSchema}`);
  out.line();
  out.line(c.bold(`Tables (${plan.tables.length}):`));
  out.line(
    table(
      ['action', 'table', 'from', 'tenants', 'est. rows', 'size', 'indexes', 'foreign keys'],
      plan.tables.map((t) => [
        t.action,
        t.target,
        t.source === t.target ? '' : t.source,
        t.tenants.length,
        formatCount(t.estimatedRows),
        r.sizes ? formatBytes(r.sizes[t.target] ?? 0) : '',
        t.indexes.length,
        t.foreignKeys.length,
      ]),
      ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  if (r.sizes) {
    const total = Object.values(r.sizes).reduce((a, b) => a + b, 0);
    out.line(
      `The tenant tables take ${formatBytes(total)} on disk (data, TOAST, indexes): the unified tables need about as much ${plan.sameDatabase ? 'again in this database' : 'in the target'}, plus WAL — have at least ${formatBytes(2 * total)} free.`,
    );
  }
  out.line();
  renderProblems(out, plan.problems);
  if (withSql) {
    out.line();
    for (const phase of PHASES) {
      const steps = plan.steps.filter((s) => s.phase === phase);
      if (steps.length === 0) continue;
      out.line(c.bold(`-- phase: ${phase} (${steps.length} step${steps.length > 1 ? 's' : ''})`));
      for (const s of steps) {
        out.line(
          `-- step ${s.id}${s.copy && !s.copy.shared && plan.sameDatabase ? ` ($1 = tenant id ${s.copy.tenantId})` : s.copy && !s.copy.shared ? ` (tenant id ${s.copy.tenantId}, stamped by the column default)` : ''}`,
        );
        for (const sql of stepStatements(plan, s)) out.line(sql.endsWith(';') ? sql : sql + ';');
      }
      out.line();
    }
  }
  const blocking = plan.problems.filter((p) => p.severity === 'error').length;
  out.line(
    blocking > 0
      ? c.red(`Plan has ${blocking} blocking problem${blocking > 1 ? 's' : ''}: \`run\` would refuse to start. Fix them and plan again.`)
      : plan.problems.some((p) => p.code === 'ALREADY_MIGRATED')
        ? c.green(
            'Plan OK: earlier runs already migrated some of these tenants; `run` skips them and migrates the others (with none left, it verifies them again and copies nothing).',
          )
        : c.green(
            `Plan OK: ${plan.steps.length} steps; \`run\` would migrate ${plan.tenants.length} tenants × ${plan.tables.length} tables (≈ ${formatCount(plan.tables.reduce((a, t) => a + t.estimatedRows, 0))} rows).`,
          ),
  );
}

/** Every statement a step runs: a copy step's are rendered from the plan, as the executor renders them. */
function stepStatements(plan: Plan, step: Step): string[] {
  if (!step.copy) return step.sql;
  const c = copyStatements(plan, step.copy);
  return [...step.sql, ...(c.insertSelect ? [c.insertSelect] : c.stage ? [c.stage.create, c.copyOut!, c.copyIn!, c.stage.insert] : [c.copyOut!, c.copyIn!])];
}
