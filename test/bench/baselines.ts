/**
 * What a DBA could do by hand, to compare the tool with:
 * - same database: per tenant `INSERT INTO unified SELECT <id>, * FROM <tenant>.<table>`
 *   into a pre-created plain table (no keys, no indexes), each statement
 *   autocommitted, one after another (a psql script) — or on N connections;
 * - separate databases: per tenant `COPY (SELECT <id>, * FROM <tenant>.<table>) TO STDOUT (FORMAT binary)`
 *   piped through Node (pg-copy-streams) into `COPY unified FROM STDIN (FORMAT binary)`.
 * Only the data movement is timed, not the creation of the table.
 */
import pg from 'pg';
import { pipeline } from 'node:stream/promises';
import copyStreams from 'pg-copy-streams';
import { ident } from '../../src/db/ident.js';
import { connectedClient, connectedClients, withClient } from './db.js';

export interface RegistryTenant {
  schema: string;
  /** The registry id, as SQL literal text. */
  id: string;
}

export interface BaselineResult {
  seconds: number;
  rows: number;
}

const UNIFIED = 'bench_unified';

/** Tenants from the django-tenants registry, and the SQL type of its id. */
export async function registryTenants(c: pg.ClientBase): Promise<{ tenants: RegistryTenant[]; idType: string }> {
  const t = await c.query<{ t: string }>(
    `SELECT format_type(a.atttypid, a.atttypmod) AS t FROM pg_attribute a
      WHERE a.attrelid = 'public.customers_client'::regclass AND a.attname = 'id'`,
  );
  const r = await c.query<{ schema_name: string; id: string }>(
    `SELECT schema_name, id::text AS id FROM public.customers_client WHERE schema_name <> 'public' ORDER BY id`,
  );
  return { tenants: r.rows.map((x) => ({ schema: x.schema_name, id: x.id })), idType: t.rows[0].t };
}

/** `<col> <type>, …` of a tenant table, in column order. */
export async function columnDefs(c: pg.ClientBase, schema: string, table: string): Promise<string> {
  const r = await c.query<{ defs: string }>(
    `SELECT string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) AS defs
       FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
    [ident(schema, table)],
  );
  return r.rows[0].defs;
}

export function literal(id: string, type: string): string {
  return `'${id.replace(/'/g, "''")}'::${type}`;
}

/** Per-tenant INSERT … SELECT in the same database, on `concurrency` connections (1 = a plain script). */
export async function insertSelectBaseline(url: string, table: string, concurrency = 1): Promise<BaselineResult> {
  const setup = await withClient(url, async (c) => {
    const reg = await registryTenants(c);
    const defs = await columnDefs(c, reg.tenants[0].schema, table);
    await c.query(`CREATE TABLE public.${ident(UNIFIED)} (tenant_id ${reg.idType}, ${defs})`);
    return reg;
  });
  const clients = await connectedClients(url, concurrency);
  try {
    let next = 0;
    let rows = 0;
    const started = performance.now();
    await Promise.all(
      clients.map(async (c) => {
        while (next < setup.tenants.length) {
          const t = setup.tenants[next++];
          const r = await c.query(`INSERT INTO public.${ident(UNIFIED)} SELECT ${literal(t.id, setup.idType)}, * FROM ${ident(t.schema, table)}`);
          rows += r.rowCount ?? 0;
        }
      }),
    );
    return { seconds: (performance.now() - started) / 1000, rows };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

/** Per-tenant binary COPY pipe from `sourceUrl` to `targetUrl` through this process, one tenant after another. */
export async function copyPipeBaseline(sourceUrl: string, targetUrl: string, table: string): Promise<BaselineResult> {
  const src = await connectedClient(sourceUrl);
  const tgt = await connectedClient(targetUrl);
  try {
    const reg = await registryTenants(src);
    const defs = await columnDefs(src, reg.tenants[0].schema, table);
    await tgt.query(`CREATE TABLE public.${ident(UNIFIED)} (tenant_id ${reg.idType}, ${defs})`);
    let rows = 0;
    const started = performance.now();
    for (const t of reg.tenants) {
      const into = tgt.query(copyStreams.from(`COPY public.${ident(UNIFIED)} FROM STDIN (FORMAT binary)`));
      const out = src.query(copyStreams.to(`COPY (SELECT ${literal(t.id, reg.idType)}, * FROM ${ident(t.schema, table)}) TO STDOUT (FORMAT binary)`));
      await pipeline(out, into);
      rows += Number((into as unknown as { rowCount?: number }).rowCount ?? 0);
    }
    return { seconds: (performance.now() - started) / 1000, rows };
  } finally {
    await src.end().catch(() => undefined);
    await tgt.end().catch(() => undefined);
  }
}
