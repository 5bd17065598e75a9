import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { generateManyTenants } from '../fixtures/bulk.js';
import { generateFixture } from '../fixtures/generate.js';
import { loadConfig } from '../src/config/load.js';
import { discover } from '../src/discover/discover.js';
import { createTestDatabase } from './support/db.js';

/** A client that counts the statements it is asked to run. */
async function countingClient(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('SET search_path = pg_catalog');
  let count = 0;
  const db = {
    query: ((...args: Parameters<pg.Client['query']>) => {
      count++;
      return (client.query as (...a: unknown[]) => unknown)(...args);
    }) as pg.Client['query'],
  };
  return { db, count: () => count, reset: () => (count = 0), end: () => client.end() };
}

describe('discovery sends a constant number of catalog queries', () => {
  const dbs: Awaited<ReturnType<typeof createTestDatabase>>[] = [];
  let small: string;
  let large: string;
  const LARGE = 2000;
  beforeAll(async () => {
    const a = await createTestDatabase('disc_small');
    const b = await createTestDatabase('disc_large');
    dbs.push(a, b);
    small = a.url;
    large = b.url;
    await generateManyTenants(small, { tenants: 3, tables: 5, rows: 2 });
    await generateManyTenants(large, { tenants: LARGE, tables: 5, rows: 1 });
  }, 300_000);
  afterAll(async () => {
    for (const d of dbs) await d.drop();
  });

  it(`reads 3 and ${LARGE} tenant schemas with the same number of queries`, async () => {
    const counts: number[] = [];
    for (const [url, n] of [
      [small, 3],
      [large, LARGE],
    ] as const) {
      const c = await countingClient(url);
      try {
        const cfg = loadConfig({ source: url }, {}, '/');
        const started = performance.now();
        const d = await discover(c.db, c.db, cfg);
        const seconds = (performance.now() - started) / 1000;
        expect(d.tenants).toHaveLength(n);
        // Every tenant's five tables were read.
        expect([...d.source.tables.entries()].filter(([s]) => s !== 'public').every(([, t]) => t.size === 5)).toBe(true);
        expect(d.queryCount).toBe(c.count());
        counts.push(c.count());
        console.log(`discovery of ${n} tenant schemas × 5 tables: ${c.count()} queries, ${seconds.toFixed(2)} s`);
      } finally {
        await c.end();
      }
    }
    expect(counts[0]).toBe(counts[1]);
    expect(counts[0]).toBeLessThanOrEqual(15);
  }, 120_000);
});

describe('discovery of the messy fixture', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase('disc_messy');
    await generateFixture(db.url, { tenants: 3, rowsPerTable: 5, partitioned: true, extras: true });
  });
  afterAll(async () => db.drop());

  it('reads keys, foreign key targets, identity/serial, local types and partition roots from the catalog', async () => {
    const c = await countingClient(db.url);
    try {
      const d = await discover(c.db, c.db, loadConfig({ source: db.url }, {}, '/'));
      const acme = d.source.tables.get('acme')!;
      const tx = acme.get('accounts_transaction')!;
      expect(tx.columns.find((x) => x.name === 'id')!.identity).toBe('a');
      const fks = tx.constraints.filter((x) => x.kind === 'f');
      expect(fks.map((f) => `${f.ref!.schema}.${f.ref!.table}`).sort()).toEqual(['acme.accounts_account', 'acme.accounts_transaction']);
      const acc = acme.get('accounts_account')!;
      expect(acc.columns.find((x) => x.name === 'id')!.ownedSequence?.schema).toBe('acme');
      expect(acc.columns.find((x) => x.name === 'mood')!.localType).toEqual({ name: 'mood', kind: 'e', array: false });
      expect(acc.constraints.find((x) => x.kind === 'f')!.ref).toMatchObject({ schema: 'public', table: 'auth_user' });
      // A partitioned table is seen through its root only.
      expect(acme.has('events')).toBe(true);
      expect(acme.has('events_2023')).toBe(false);
      // Views, functions and triggers are counted, not migrated.
      expect(
        d.source.other
          .filter((o) => o.schema === 'acme')
          .map((o) => o.kind)
          .sort(),
      ).toEqual(['function', 'trigger', 'view']);
      const weird = 'weird "name"; with.dot';
      expect(d.tenants.map((t) => t.schema)).toContain(weird);
      expect(d.source.tables.get(weird)!.size).toBe(acme.size);
    } finally {
      await c.end();
    }
  });
});
