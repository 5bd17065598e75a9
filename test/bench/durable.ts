/**
 * The whole job, by the tool and by hand, on one server: `run` in place (every phase and its
 * closing verification) against what a DBA would script on as many connections — per tenant
 * `INSERT … SELECT` into a plain table, then the tenant-leading primary key, RLS (enable, force,
 * policy), ANALYZE, and the checksums of both sides (the same row hash the tool uses, source and
 * target side by side). Each on a fresh copy (CREATE DATABASE … TEMPLATE, which checkpoints), with
 * the WAL written (pg_current_wal_lsn before and after) and the database's growth
 * (pg_database_size). Run on the durable server (fsync, synchronous_commit, full_page_writes on)
 * and on the fast one, so the two stand side by side.
 */
import pg from 'pg';
import { ident } from '../../src/db/ident.js';
import { columnDefs, literal, registryTenants } from './baselines.js';
import { connectedClients, inTurn, withClient, type BenchServer } from './db.js';
import type { RunWorkerResult } from './protocol.js';

/** What a durable production server has on: the embedded server turns them off. */
export const DURABLE_SETTINGS = ['fsync=on', 'synchronous_commit=on', 'full_page_writes=on'];

export interface WholeJob {
  seconds: number;
  walMb: number;
  diskMb: number;
  /** Seconds per step (hand: copy, key, rls, analyze, checksums; tool: the run's phases). */
  phases: Record<string, number>;
}

export interface DurableResult {
  settings: Record<string, string>;
  rows: number;
  tool: WholeJob;
  hand: WholeJob;
  /** hand seconds / tool seconds (best of the repetitions each); the hand checksums as the issue measured them (hashtext of the row text). */
  ratio: number;
  /** The same with the hand checksums using the tool's own row hash (hash_record_extended). */
  ratioToolHash: number;
  walMbPerMillionRows: number;
  diskMbPerMillionRows: number;
  handWalMbPerMillionRows: number;
  /** The run's closing verification / its copy phase. */
  closingRatio: number;
  samples?: { toolSeconds: number[]; handSeconds: number[] };
}

const UNIFIED = 'hand_unified';
const MB = 1024 * 1024;
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

async function walLsn(server: BenchServer): Promise<string> {
  return server.scalar('SELECT pg_catalog.pg_current_wal_lsn()::text');
}

async function measured<T>(server: BenchServer, db: string, fn: () => Promise<T>): Promise<{ value: T; seconds: number; walMb: number; diskMb: number }> {
  const lsn = await walLsn(server);
  const size = Number(await server.scalar('SELECT pg_catalog.pg_database_size(current_database())', [], db));
  const t = performance.now();
  const value = await fn();
  const seconds = (performance.now() - t) / 1000;
  const wal = Number(await server.scalar('SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), $1::pg_lsn)', [lsn]));
  const grown = Number(await server.scalar('SELECT pg_catalog.pg_database_size(current_database())', [], db)) - size;
  return { value, seconds, walMb: wal / MB, diskMb: grown / MB };
}

/** The hand-made whole job on `connections` connections; seconds per step. */
export async function handWholeJob(url: string, table: string, connections: number): Promise<Record<string, number>> {
  const setup = await withClient(url, async (c) => {
    const reg = await registryTenants(c);
    const defs = await columnDefs(c, reg.tenants[0].schema, table);
    const cols = (
      await c.query<{ n: string }>(`SELECT attname AS n FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [
        ident(reg.tenants[0].schema, table),
      ])
    ).rows.map((r) => r.n);
    await c.query(`CREATE TABLE public.${ident(UNIFIED)} (tenant_id ${reg.idType} NOT NULL, ${defs})`);
    return { ...reg, cols };
  });
  const clients = await connectedClients(url, connections);
  const onAll = async (jobs: string[]) => {
    let next = 0;
    await Promise.all(
      clients.map(async (c) => {
        while (next < jobs.length) await c.query(jobs[next++]);
      }),
    );
  };
  const u = `public.${ident(UNIFIED)}`;
  const hash = (alias: string) => `pg_catalog.hash_record_extended(ROW(${setup.cols.map((x) => `${alias}.${ident(x)}`).join(', ')}), 0)`;
  const phases: Record<string, number> = {};
  const step = async (name: string, fn: () => Promise<void>) => {
    const t = performance.now();
    await fn();
    phases[name] = (performance.now() - t) / 1000;
  };
  try {
    await step('copy', () => onAll(setup.tenants.map((t) => `INSERT INTO ${u} SELECT ${literal(t.id, setup.idType)}, * FROM ${ident(t.schema, table)}`)));
    await step('keys', async () => {
      await clients[0].query(`SET maintenance_work_mem = '256MB'`);
      await clients[0].query(`ALTER TABLE ${u} ADD PRIMARY KEY (tenant_id, id)`);
    });
    await step('rls', async () => {
      await clients[0].query(`ALTER TABLE ${u} ENABLE ROW LEVEL SECURITY`);
      await clients[0].query(`ALTER TABLE ${u} FORCE ROW LEVEL SECURITY`);
      await clients[0].query(
        `CREATE POLICY tenant_isolation ON ${u} USING (tenant_id = current_setting('app.current_tenant')::${setup.idType}) WITH CHECK (tenant_id = current_setting('app.current_tenant')::${setup.idType})`,
      );
    });
    await step('analyze', async () => {
      await clients[0].query(`ANALYZE ${u}`);
    });
    // Both sides, side by side: the target grouped by tenant, and each tenant's source. As the issue
    // measured it (hashtext over the row's text), and with the tool's own, cheaper row hash.
    const text = (alias: string) => `hashtext(ROW(${setup.cols.map((x) => `${alias}.${ident(x)}`).join(', ')})::text)::int8`;
    const checksums = (h: (alias: string) => string) =>
      onAll([
        `SELECT tenant_id, count(*), sum(${h('t')}) FROM ${u} AS t GROUP BY 1`,
        ...setup.tenants.map((t) => `SELECT count(*), sum(${h('s')}) FROM ${ident(t.schema, table)} AS s`),
      ]);
    await step('checksums', () => checksums(text));
    await step('checksumsToolHash', () => checksums(hash));
    return phases;
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

/**
 * Tool and hand whole jobs on `server`, `repeat` times in alternating order, each on a fresh
 * copy of `template` (wide data, `rows` rows); the best of each.
 */
export async function measureWholeJobs(o: {
  server: BenchServer;
  template: string;
  rows: number;
  repeat: number;
  connections: number;
  dbName: (n: string) => string;
  runTool: (url: string) => Promise<RunWorkerResult>;
  progress: (m: string) => void;
  label: string;
}): Promise<DurableResult> {
  const tools: WholeJob[] = [];
  const hands: WholeJob[] = [];
  for (let i = 0; i < o.repeat; i++) {
    const rep = o.repeat > 1 ? ` [${i + 1}/${o.repeat}]` : '';
    const tool = async () => {
      const name = o.dbName('whole_tool');
      const url = await o.server.createDatabase(name, o.template);
      o.progress(`${o.label}${rep}: oasys-migrate run (in place), the whole job`);
      const m = await measured(o.server, name, () => o.runTool(url));
      o.progress(`  ${m.value.seconds.toFixed(2)} s, WAL ${m.walMb.toFixed(0)} MB, database +${m.diskMb.toFixed(0)} MB`);
      tools.push({ seconds: m.value.seconds, walMb: m.walMb, diskMb: m.diskMb, phases: m.value.phases });
      await o.server.dropDatabase(name);
    };
    const hand = async () => {
      const name = o.dbName('whole_hand');
      const url = await o.server.createDatabase(name, o.template);
      o.progress(`${o.label}${rep}: by hand on ${o.connections} connections: copy, key, RLS, ANALYZE, checksums of both sides`);
      const m = await measured(o.server, name, () => handWholeJob(url, 'orders', o.connections));
      // The whole job counts one way of checksumming (the issue's); the other is timed beside it.
      const seconds = m.seconds - m.value.checksumsToolHash;
      o.progress(`  ${seconds.toFixed(2)} s, WAL ${m.walMb.toFixed(0)} MB, database +${m.diskMb.toFixed(0)} MB`);
      hands.push({ seconds, walMb: m.walMb, diskMb: m.diskMb, phases: m.value });
      await o.server.dropDatabase(name);
    };
    await inTurn(i, hand, tool);
  }
  const best = (xs: WholeJob[]) => xs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const t = best(tools);
  const h = best(hands);
  const settings = JSON.parse(
    await o.server.scalar(
      `SELECT json_object_agg(name, setting)::text FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_level')`,
    ),
  ) as Record<string, string>;
  const perM = (x: number) => round(x / (o.rows / 1e6), 1);
  const roundJob = (j: WholeJob): WholeJob => ({
    seconds: round(j.seconds),
    walMb: round(j.walMb, 1),
    diskMb: round(j.diskMb, 1),
    phases: Object.fromEntries(Object.entries(j.phases).map(([k, v]) => [k, round(v)])),
  });
  return {
    settings,
    rows: o.rows,
    tool: roundJob(t),
    hand: roundJob(h),
    ratio: round(h.seconds / t.seconds),
    ratioToolHash: round((h.seconds - h.phases.checksums + h.phases.checksumsToolHash) / t.seconds),
    walMbPerMillionRows: perM(t.walMb),
    diskMbPerMillionRows: perM(t.diskMb),
    handWalMbPerMillionRows: perM(h.walMb),
    closingRatio: round((t.phases.verify ?? NaN) / (t.phases.copy ?? NaN)),
    ...(o.repeat > 1 ? { samples: { toolSeconds: tools.map((x) => round(x.seconds)), handSeconds: hands.map((x) => round(x.seconds)) } } : {}),
  };
}
