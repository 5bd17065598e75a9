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
    estimate: r.estimate ?? null,
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
  if (r.estimate) {
    const { disk, freeSpace: free, time } = r.estimate;
    out.line(
      `Disk: the tenant tables take ${formatBytes(disk.sourceBytes)} now; the unified tables will take about ${formatBytes(disk.targetBytes)} (${formatBytes(disk.tableBytes)} data, ${formatBytes(disk.indexBytes)} indexes) ${plan.sameDatabase ? 'more in this database' : 'in the target'}, plus up to ${formatBytes(disk.walBytes)} of WAL: need about ${formatBytes(disk.neededBytes)} free.`,
    );
    if (disk.unmeasuredTables > 0)
      out.line(
        c.dim(
          `  ${disk.unmeasuredTables} tenant tables were never vacuumed nor analyzed: their size is estimated from their row counts (ANALYZE them for a better figure).`,
        ),
      );
    out.line(
      free.bytes === null
        ? `Free space: ${free.how}.`
        : `Free space: ${formatBytes(free.bytes)} in ${free.path}${free.short ? c.yellow(' — looks SHORT (see DISK_SPACE_SHORT)') : ''}.`,
    );
    out.line(time.seconds === null ? `Time: ${time.detail}.` : `Time: \`run\` should take about ${formatDuration(time.seconds)} (${time.detail}).`);
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

function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** Every statement a step runs: a copy step's are rendered from the plan, as the executor renders them. */
function stepStatements(plan: Plan, step: Step): string[] {
  if (!step.copy) return step.sql;
  const c = copyStatements(plan, step.copy);
  return [...step.sql, ...(c.insertSelect ? [c.insertSelect] : c.stage ? [c.stage.create, c.copyOut!, c.copyIn!, c.stage.insert] : [c.copyOut!, c.copyIn!])];
}
