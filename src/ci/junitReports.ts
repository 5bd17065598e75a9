import type { RlsCheckReport } from '../rls/check.js';
import type { VerifyReport } from '../verify/checksum.js';
import type { JunitSuite } from './junit.js';

/** `verify --junit`: one test case per (tenant, table), classname = the unified table, name = the tenant; plus one per table for rows outside the migrated tenants. */
export function verifySuites(v: VerifyReport & { runId: number }): JunitSuite[] {
  const perPair = v.results.length > 0 ? v.seconds / v.results.length : 0;
  return [
    {
      name: `oasys-migrate verify (run #${v.runId})`,
      seconds: v.seconds,
      properties: { runId: String(v.runId), pairs: String(v.results.length) },
      cases: [
        ...v.results.map((r) => ({
          classname: `verify.${r.table}`,
          name: `${r.tenant} (tenant_id ${r.tenantId})`,
          seconds: perPair,
          failure: r.ok
            ? undefined
            : {
                type: 'mismatch',
                message:
                  r.sourceRows !== r.targetRows
                    ? `tenant "${r.tenant}" table ${r.table}: source has ${r.sourceRows} rows, target ${r.targetRows}`
                    : `tenant "${r.tenant}" table ${r.table}: same row count (${r.sourceRows}) but the checksums differ: a value changed`,
                detail: `source rows ${r.sourceRows}, checksum ${r.sourceChecksum}\ntarget rows ${r.targetRows}, checksum ${r.targetChecksum}\ninspect: oasys-migrate verify --tenants ${r.tenant}`,
              },
        })),
        ...v.anomalies.map((a) => ({
          classname: `verify.${a.table}`,
          name: 'rows outside the migrated tenants',
          failure: a.ok
            ? undefined
            : {
                type: 'anomaly',
                message: `table ${a.table}: ${a.nullTenantRows} rows with a NULL tenant, ${a.otherTenantRows} rows of tenants that were not migrated`,
              },
        })),
      ],
    },
  ];
}

/** `check-rls --junit`: one test case per check (classname = the check, name = its table and tenant). */
export function checkRlsSuites(r: RlsCheckReport): JunitSuite[] {
  return [
    {
      name: `oasys-migrate check-rls (role ${r.role})`,
      properties: { role: r.role },
      cases: r.checks.map((c) => ({
        classname: `check-rls.${c.check}`,
        name: [c.table ? `table ${c.table}` : '', c.tenant ? `tenant ${c.tenant}` : ''].filter(Boolean).join(', ') || c.check,
        failure: c.ok ? undefined : { type: 'isolation', message: c.detail },
        skipped: c.ok && c.skipped ? c.detail : undefined,
      })),
    },
  ];
}
