/** What verification reports, per (tenant, table) and per table: plain data (a leaf module, so merge/ can use it too). */
export interface VerifyResult {
  tenant: string;
  tenantId: string;
  table: string;
  sourceRows: number;
  targetRows: number;
  sourceChecksum: string;
  targetChecksum: string;
  ok: boolean;
}

export interface TableAnomaly {
  table: string;
  nullTenantRows: number;
  /** Rows whose tenant is not a migrated tenant (pre-existing rows of a filled table are expected here). */
  otherTenantRows: number;
  ok: boolean;
}

export interface VerifyReport {
  ok: boolean;
  results: VerifyResult[];
  anomalies: TableAnomaly[];
  seconds: number;
}
