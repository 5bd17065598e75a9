import type { VerifyReport } from '../verify/checksum.js';
import { MappedList } from './jsonDocument.js';
import { formatCount, table, type Output } from './output.js';

export function verifyDocument(v: VerifyReport) {
  return {
    ok: v.ok,
    // Made as each is printed: 250,000 at 50,000 tenants.
    results: new MappedList(v.results, (r) => ({
      tenant: r.tenant,
      tenantId: r.tenantId,
      table: r.table,
      sourceRows: r.sourceRows,
      targetRows: r.targetRows,
      sourceChecksum: r.sourceChecksum,
      targetChecksum: r.targetChecksum,
      ok: r.ok,
    })),
    anomalies: v.anomalies,
    seconds: Number(v.seconds.toFixed(3)),
  };
}

/** Mismatches first, then a per-table summary (a row per tenant would drown 10,000 tenants). */
export function renderVerify(out: Output, v: VerifyReport): void {
  const { c } = out;
  const bad = v.results.filter((r) => !r.ok);
  if (bad.length > 0) {
    out.line(c.red.bold(`Mismatches (${bad.length}):`));
    out.line(
      table(
        ['tenant', 'table', 'source rows', 'target rows', 'source checksum', 'target checksum'],
        bad.slice(0, 200).map((r) => [r.tenant, r.table, formatCount(r.sourceRows), formatCount(r.targetRows), r.sourceChecksum, r.targetChecksum]),
        ['l', 'l', 'r', 'r', 'r', 'r'],
      ),
    );
    if (bad.length > 200) out.line(`… ${bad.length - 200} more (see --json or --report)`);
    out.line();
  }
  for (const a of v.anomalies.filter((x) => !x.ok || x.otherTenantRows > 0)) {
    const msg = `${a.table}: ${a.nullTenantRows} rows with a NULL tenant, ${a.otherTenantRows} rows of tenants outside this migration`;
    out.line(a.ok ? c.dim(msg + ' (pre-existing rows)') : c.red(msg));
  }
  const byTable = new Map<string, { tenants: number; bad: number; rows: number }>();
  for (const r of v.results) {
    const e = byTable.get(r.table) ?? { tenants: 0, bad: 0, rows: 0 };
    e.tenants++;
    e.rows += r.targetRows;
    if (!r.ok) e.bad++;
    byTable.set(r.table, e);
  }
  out.line(
    table(
      ['table', 'tenants', 'rows', 'mismatches'],
      [...byTable].map(([t, e]) => [t, e.tenants, formatCount(e.rows), e.bad === 0 ? c.green('0') : c.red(String(e.bad))]),
      ['l', 'r', 'r', 'r'],
    ),
  );
  out.line(
    v.ok
      ? c.green(`Verified: ${v.results.length} (tenant, table) pairs match in count and checksum (${v.seconds.toFixed(2)} s).`)
      : c.red(`Verification FAILED: ${bad.length} of ${v.results.length} (tenant, table) pairs differ.`),
  );
}
