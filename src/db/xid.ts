/**
 * The low 32 bits of a 64-bit transaction id, as text: pg_current_snapshot() and
 * pg_current_xact_id() count in 64 bits, a row's xmin in 32 (compared through age()).
 */
export function xid32(v: string): string {
  return (BigInt(v) % 4294967296n).toString();
}
