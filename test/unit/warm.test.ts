import { describe, expect, it } from 'vitest';
import { ReadBy } from '../../src/db/warm.js';

describe('ReadBy: which connection read which tables', () => {
  it('splits a table’s schemas by the connection that read them, in parts of at most the size, the connections taking turns', () => {
    const r = new ReadBy();
    r.note('orders', 11, ['a', 'b', 'c']);
    r.note('orders', 22, ['d', 'e']);
    r.note('items', 22, ['a', 'b']);
    r.note('orders', 11, ['f']);
    expect(r.pids()).toEqual(new Set([11, 22]));
    expect(r.parts('orders', ['a', 'b', 'c', 'd', 'e', 'f', 'g'], 2)).toEqual([
      { schemas: ['a', 'b'], via: 11 },
      { schemas: ['d', 'e'], via: 22 },
      { schemas: ['g'], via: 0 },
      { schemas: ['c', 'f'], via: 11 },
    ]);
    // Another table's notes do not count; a schema read twice (a whale's chunks) goes with the last.
    r.note('items', 33, ['b']);
    expect(r.parts('items', ['a', 'b'], 200)).toEqual([
      { schemas: ['a'], via: 22 },
      { schemas: ['b'], via: 33 },
    ]);
    expect(r.parts('none', ['x'], 5)).toEqual([{ schemas: ['x'], via: 0 }]);
  });
});
