import { describe, expect, it } from 'vitest';
import { SchemaTables, type TableDef } from '../../src/discover/model.js';

const def = (name: string, estimate = 0): TableDef => ({
  schema: 's',
  name,
  kind: 'r',
  estimate,
  columns: [],
  constraints: [],
  indexes: [],
  rlsEnabled: false,
  rlsForced: false,
});

describe('SchemaTables: a schema’s tables, as a Map would hold them', () => {
  for (const n of [3, 8, 9, 40])
    it(`agrees with a Map for ${n} tables, a replaced one and a missing name`, () => {
      const names = Array.from({ length: n }, (_, i) => `t${(i * 7) % n}_${i}`);
      const tables = new SchemaTables();
      const map = new Map<string, TableDef>();
      for (const x of names) {
        const d = def(x);
        tables.set(d);
        map.set(x, d);
      }
      // Replaced where it stands, as Map.set does.
      const again = def(names[Math.floor(n / 2)], 99);
      tables.set(again);
      map.set(again.name, again);
      expect(tables.size).toBe(map.size);
      expect([...tables.keys()]).toEqual([...map.keys()]);
      expect([...tables.values()]).toEqual([...map.values()]);
      expect([...tables]).toEqual([...map]);
      expect([...tables.entries()]).toEqual([...map.entries()]);
      for (const x of names) expect(tables.get(x)).toBe(map.get(x));
      expect(tables.get(again.name)?.estimate).toBe(99);
      expect(tables.has('nope')).toBe(false);
      expect(tables.get('nope')).toBeUndefined();
      const seen: string[] = [];
      tables.forEach((v, k, m) => {
        expect(m).toBe(tables);
        seen.push(`${k}=${v.name}`);
      });
      expect(seen).toEqual(names.map((x) => `${x}=${x}`));
    });
});
