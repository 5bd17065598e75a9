import type { VerifyReport } from '../verify/checksum.js';

/** A Markdown verification report a DBA can attach to a change ticket. */
export function verifyMarkdown(v: VerifyReport & { runId: number }): string {
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
    '## Per table',
    '',
    '| table | tenants | source rows | target rows | mismatches |',
    '|---|---:|---:|---:|---:|',
    ...[...byTable].map(([t, e]) => `| ${esc(t)} | ${e.tenants} | ${e.source} | ${e.target} | ${e.bad} |`),
    '',
  ];
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
