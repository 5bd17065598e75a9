import type { VerifyReport } from '../verify/checksum.js';
import type { ReportContext, ServerInfo } from './context.js';

const server = (s: ServerInfo) => `database \`${s.database}\` on ${s.host}${s.port ? `:${s.port}` : ''} as role \`${s.role}\` — PostgreSQL ${s.version}`;
const dur = (s: number | null) => (s === null ? '—' : s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`);

/** A Markdown verification report a DBA can attach to a change ticket. */
export function verifyMarkdown(v: VerifyReport & { runId: number; context?: ReportContext }): string {
  const bad = v.results.filter((r) => !r.ok);
  const byTable = new Map<string, { tenants: number; source: number; target: number; bad: number }>();
  for (const r of v.results) {
    const e = byTable.get(r.table) ?? { tenants: 0, source: 0, target: 0, bad: 0 };
    e.tenants++;
    e.source += r.sourceRows;
    e.target += r.targetRows;
    if (!r.ok) e.bad++;
    byTable.set(r.table, e);
  }
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [
    `# oasys-migrate verification — run #${v.runId}`,
    '',
    `- Result: **${v.ok ? 'PASS' : 'FAIL'}**`,
    `- Checked: ${v.results.length} (tenant, table) pairs; mismatches: ${bad.length}`,
    `- Generated: ${new Date().toISOString()} in ${v.seconds.toFixed(2)} s`,
    `- Method: per (tenant, table) row count and the sum of a 64-bit hash of each row (every migrated column, combined with hash_record_extended), computed inside PostgreSQL on both sides.`,
    '',
    ...contextLines(v.context),
    '## Per table',
    '',
    '| table | tenants | source rows | target rows | mismatches |',
    '|---|---:|---:|---:|---:|',
    ...[...byTable].map(([t, e]) => `| ${esc(t)} | ${e.tenants} | ${e.source} | ${e.target} | ${e.bad} |`),
    '',
  ];
  const byTenant = new Map<string, { id: string; tables: number; source: number; target: number; bad: number }>();
  for (const r of v.results) {
    const e = byTenant.get(r.tenant) ?? { id: r.tenantId, tables: 0, source: 0, target: 0, bad: 0 };
    e.tables++;
    e.source += r.sourceRows;
    e.target += r.targetRows;
    if (!r.ok) e.bad++;
    byTenant.set(r.tenant, e);
  }
  lines.push(
    '## Per tenant',
    '',
    '| tenant | tenant_id | tables | source rows | target rows | mismatches |',
    '|---|---|---:|---:|---:|---:|',
    ...[...byTenant].map(([t, e]) => `| ${esc(t)} | ${esc(e.id)} | ${e.tables} | ${e.source} | ${e.target} | ${e.bad} |`),
    '',
  );
  const anomalies = v.anomalies.filter((a) => !a.ok || a.otherTenantRows > 0);
  if (anomalies.length > 0) {
    lines.push('## Rows outside the migrated tenants', '', '| table | NULL tenant | other tenants | ok |', '|---|---:|---:|---|');
    for (const a of anomalies) lines.push(`| ${esc(a.table)} | ${a.nullTenantRows} | ${a.otherTenantRows} | ${a.ok ? 'yes (pre-existing)' : 'NO'} |`);
    lines.push('');
  }
  lines.push('## Mismatches', '');
  if (bad.length === 0) lines.push('None.');
  else {
    lines.push('| tenant | table | source rows | target rows | source checksum | target checksum |', '|---|---|---:|---:|---|---|');
    for (const r of bad) lines.push(`| ${esc(r.tenant)} | ${esc(r.table)} | ${r.sourceRows} | ${r.targetRows} | ${r.sourceChecksum} | ${r.targetChecksum} |`);
  }
  return lines.join('\n') + '\n';
}

function contextLines(c: ReportContext | undefined): string[] {
  if (!c) return [];
  const lines = [
    '## Where and with what',
    '',
    `- Tool: oasys-migrate ${c.toolVersion} (Node.js ${c.nodeVersion})`,
    `- Source: ${server(c.source)}`,
    `- Target: ${c.target ? server(c.target) : 'the source database itself (in place)'}`,
    `- PostgreSQL: ${c.source.versionFull}${c.target && c.target.versionFull !== c.source.versionFull ? ` (target: ${c.target.versionFull})` : ''}`,
    '',
    `## Run #${c.run.runId}`,
    '',
    `- State: ${c.run.state}; started ${c.run.startedAt} by \`${c.run.startedBy}\`; finished ${c.run.finishedAt ?? '—'}; took ${dur(c.run.seconds)}`,
    `- Rows copied: ${c.run.rowsCopied}`,
    '',
    '| phase | steps done | rows | started | finished | duration | rows/s |',
    '|---|---:|---:|---|---|---:|---:|',
    ...c.phases.map(
      (p) =>
        `| ${p.phase} | ${p.done}/${p.steps} | ${p.rows} | ${p.startedAt?.toISOString() ?? '—'} | ${p.finishedAt?.toISOString() ?? '—'} | ${dur(p.seconds)} | ${p.rowsPerSecond ?? '—'} |`,
    ),
    '',
  ];
  return lines;
}
