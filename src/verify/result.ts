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
  /** A whale's chunks that differ (run's closing verification), when the pair differs: chunk number, rows on each side. */
  chunks?: { chunk: number; sourceRows: number; targetRows: number }[];
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
