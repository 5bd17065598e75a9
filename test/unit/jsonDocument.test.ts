import { describe, expect, it } from 'vitest';
import { MappedList, writeDocument } from '../../src/cli/jsonDocument.js';

const written = (doc: unknown) => {
  const pieces: string[] = [];
  writeDocument((t) => pieces.push(t), doc);
  return { text: pieces.join(''), pieces };
};

describe('writeDocument: --json documents in pieces', () => {
  const results = Array.from({ length: 5000 }, (_, i) => ({ tenant: `t${i}`, n: i, ok: i % 7 !== 0, chunks: i % 1000 === 0 ? [{ chunk: 1 }] : undefined }));
  const docs: [string, unknown][] = [
    ['a big run document', { ok: false, results, anomalies: [], seconds: 1.5, target: undefined, nested: { verify: { results, empty: {} } } }],
    ['empty containers and scalars', { a: [], b: {}, c: null, d: 'x"y\n', e: 0, f: false }],
    [
      'values JSON.stringify leaves out or converts',
      { when: new Date(0), fn: () => 1, list: [undefined, () => 1, null, 1], step: { toJSON: () => ({ id: 'copy:a:b' }) } },
    ],
    ['a top-level array', [1, { a: [1, 2] }, 'x']],
    ['a scalar', 42],
  ];
  for (const [name, doc] of docs)
    it(`writes exactly JSON.stringify(doc, null, 2): ${name}`, () => {
      expect(written(doc).text).toBe(JSON.stringify(doc, null, 2) + '\n');
    });
  it('writes a long list in pieces, each made as it is written', () => {
    let made = 0;
    const doc = { ok: true, results: new MappedList(results, (r) => (made++, { tenant: r.tenant, n: r.n })) };
    const { text, pieces } = written(doc);
    expect(text).toBe(JSON.stringify({ ok: true, results: results.map((r) => ({ tenant: r.tenant, n: r.n })) }, null, 2) + '\n');
    expect(made).toBe(results.length);
    expect(pieces.length).toBeGreaterThan(2);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThan(2 * 65536);
  });
});
