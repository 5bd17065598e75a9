import type pg from 'pg';
import type { Plan } from '../plan/model.js';
import { ProblemCode, type Problem } from '../discover/problems.js';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** Same-table copies of tiny tenants per transaction (the executor's default, src/copy/execute.ts). */
const BATCH_STEPS = 250;
/** Tenant schemas per verification query (src/verify/checksum.ts). */
const VERIFY_CHUNK = 200;

/**
 * Locks the run's transactions hold at once, against the server's shared lock table
 * (max_locks_per_transaction × (max_connections + max_prepared_transactions) relations): a batch of
 * tiny tenants' copies locks every tenant table of the batch with its indexes and TOAST, on each of
 * `concurrency` connections. Bounded by the batch size, not the number of tenants — but a server
 * whose lock table is small (or shared with a busy application) runs out of it mid-run with
 * "out of shared memory", so plan says it first.
 */
export async function lockTableProblems(db: Queryable, plan: Plan, concurrency: number): Promise<Problem[]> {
  if (plan.tables.length === 0 || plan.tenants.length === 0) return [];
  const r = await db.query<{ per: number; conns: number; prepared: number }>(
    `SELECT pg_catalog.current_setting('max_locks_per_transaction')::int AS per,
            pg_catalog.current_setting('max_connections')::int AS conns,
            pg_catalog.current_setting('max_prepared_transactions')::int AS prepared`,
  );
  const { per, conns, prepared } = r.rows[0];
  const capacity = per * (conns + prepared);
  const relationsOf = (t: Plan['tables'][number]) => 1 + (t.primaryKey ? 1 : 0) + t.uniques.length + t.indexes.length + 2;
  const widest = Math.max(...plan.tables.map(relationsOf));
  const tenants = plan.tenants.length;
  const batch = plan.sameDatabase ? Math.min(BATCH_STEPS, tenants) : 1;
  const perTransaction = Math.max(batch, Math.min(VERIFY_CHUNK, tenants)) * widest + widest;
  const need = perTransaction * concurrency;
  if (need <= capacity / 2) return [];
  const settings = `max_locks_per_transaction = ${per}, max_connections = ${conns}, max_prepared_transactions = ${prepared}: room for ${capacity} locks in all`;
  const wanted = Math.ceil((2 * need) / (conns + prepared) / 64) * 64;
  return [
    {
      severity: need > capacity ? 'error' : 'warning',
      code: ProblemCode.LOCK_TABLE_TOO_SMALL,
      message:
        need > capacity
          ? `the run's transactions would hold about ${need} locks at once (${concurrency} connections × ${perTransaction}: batches of ${Math.max(batch, Math.min(VERIFY_CHUNK, tenants))} tenant tables with their indexes), more than the server's lock table holds (${settings}); the run would fail with "out of shared memory"`
          : `the run's transactions would hold about ${need} locks at once (${concurrency} connections × ${perTransaction}), more than half of the server's lock table (${settings}), which the application shares`,
      hint: `raise max_locks_per_transaction to ${wanted} (needs a server restart), or run with a lower --concurrency`,
    },
  ];
}
