/**
 * The opt-in large size of the many-small-tenants measurement (issue 12, point 4):
 * `npm run bench -- --many-tenants-50k` (or `--only manyTenants50k`) builds 50,000
 * tenant schemas × 5 tables × 10 rows (250,000 tables; the builder alone takes
 * minutes) and times `plan`, `run` and `verify` on it, each in its own process.
 * Its key is `manyTenants50k`, beside (never instead of) the default 10,000-tenant
 * `manyTenants`, so the two sizes are never confused in a saved document.
 */
import { generateManyTenants } from '../../fixtures/bulk.js';
import type { BenchServer } from './db.js';
import type { PlanWorkerResult, RunWorkerResult, VerifyWorkerResult, WorkerJob, WorkerResult } from './protocol.js';
import type { Profile } from './sampler.js';

export const SCALE_TENANTS = 50_000;

export interface ManyTenantsScale {
  tenants: number;
  tables: number;
  rowsPerTable: number;
  buildSeconds: number;
  planSeconds: number;
  planQueries: number;
  runSeconds: number;
  verifySeconds: number;
  runVerifySeconds: number;
  steps: number;
  rowsCopied: number;
  phases: Record<string, number>;
  peakRssMb: number;
  /** Per command, so that the one that peaks is named. */
  rssMb: { plan: number; run: number; verify: number };
  /** What `plan` estimated (disk the target needs, bytes; run seconds) and what the run measured. */
  estimate?: { targetBytes: number | null; runSeconds: number | null; actualRunSeconds: number };
}

type Tool = <K extends WorkerJob['kind']>(
  job: WorkerJob & { kind: K },
  label: string,
  profiling?: { adminUrl: string; databases: string[] },
) => Promise<{ result: Extract<WorkerResult, { kind: K }>; profile?: Profile }>;

export interface ScaleContext {
  server: BenchServer;
  tool: Tool;
  database: string;
  concurrency?: number;
  progress: (m: string) => void;
  profiling?: { adminUrl: string; databases: string[] };
  profiles: Record<string, Profile>;
  errors: string[];
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

export async function measureManyTenantsScale(ctx: ScaleContext, tenants = SCALE_TENANTS, tables = 5, rows = 10): Promise<ManyTenantsScale> {
  const { server, tool, progress } = ctx;
  const url = await server.createDatabase(ctx.database);
  try {
    progress(`manyTenants50k: generating ${tenants.toLocaleString('en-US')} tenant schemas × ${tables} tables × ${rows} rows (minutes)`);
    const t = performance.now();
    await generateManyTenants(url, { tenants, tables, rows });
    const buildSeconds = (performance.now() - t) / 1000;
    progress(`  generated in ${buildSeconds.toFixed(1)} s`);
    await server.checkpoint();

    progress('manyTenants50k: oasys-migrate plan');
    const plan = await tool({ kind: 'plan', source: url, concurrency: ctx.concurrency }, 'manyTenants50k plan', ctx.profiling);
    if (plan.profile) ctx.profiles.manyTenants50kPlan = plan.profile;
    const p = plan.result as PlanWorkerResult;
    progress(`  ${p.seconds.toFixed(2)} s, ${p.queryCount} catalog queries, ${p.steps} steps, peak RSS ${p.maxRssMb.toFixed(0)} MB`);
    if (p.blocking) ctx.errors.push(`manyTenants50k: plan found blocking problems (${p.problems} problems)`);

    await server.checkpoint();
    progress('manyTenants50k: oasys-migrate run');
    const run = await tool({ kind: 'run', source: url, concurrency: ctx.concurrency }, 'manyTenants50k run', ctx.profiling);
    if (run.profile) ctx.profiles.manyTenants50kRun = run.profile;
    const rr = run.result as RunWorkerResult;
    progress(`  ${rr.seconds.toFixed(2)} s, ${rr.rowsCopied} rows, peak RSS ${rr.maxRssMb.toFixed(0)} MB`);

    await server.checkpoint();
    progress('manyTenants50k: oasys-migrate verify');
    const ver = await tool({ kind: 'verify', source: url, concurrency: ctx.concurrency }, 'manyTenants50k verify', ctx.profiling);
    if (ver.profile) ctx.profiles.manyTenants50kVerify = ver.profile;
    const vr = ver.result as VerifyWorkerResult;
    progress(`  ${vr.seconds.toFixed(2)} s, ok=${vr.ok}, peak RSS ${vr.maxRssMb.toFixed(0)} MB`);
    if (!vr.ok) ctx.errors.push(`manyTenants50k: verify reported ${vr.mismatches} mismatches`);

    const phases = Object.fromEntries(Object.entries(rr.phases).map(([k, v]) => [k, r3(v)]));
    return {
      tenants,
      tables,
      rowsPerTable: rows,
      buildSeconds: r3(buildSeconds),
      planSeconds: r3(p.seconds),
      planQueries: p.queryCount,
      runSeconds: r3(rr.seconds),
      verifySeconds: r3(vr.seconds),
      runVerifySeconds: r3(rr.seconds + vr.seconds),
      steps: rr.steps,
      rowsCopied: rr.rowsCopied,
      phases,
      peakRssMb: Math.round(Math.max(p.maxRssMb, rr.maxRssMb, vr.maxRssMb)),
      rssMb: { plan: Math.round(p.maxRssMb), run: Math.round(rr.maxRssMb), verify: Math.round(vr.maxRssMb) },
      ...(p.estimate ? { estimate: { ...p.estimate, actualRunSeconds: r3(rr.seconds) } } : {}),
    };
  } finally {
    await server.dropDatabase(ctx.database);
  }
}
