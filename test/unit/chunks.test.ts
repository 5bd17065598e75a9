/** Whale chunking (issue 12): cut points, chunk steps, their SQL, and the order they run in. */
import { describe, expect, it } from 'vitest';
import { chunkedCopy, cutPoints } from '../../src/plan/chunks.js';
import { rangeWhere } from '../../src/plan/copySql.js';
import { copyTasks } from '../../src/copy/chunks.js';
import type { Step } from '../../src/plan/model.js';

const bounds = Array.from({ length: 101 }, (_, i) => String(1 + i * 40_000)); // ids 1 … 4,000,001
const step = (tenant: string, rows: number, extra: Partial<NonNullable<Step['copy']>> = {}): Step => ({
  id: `copy:${tenant}:orders`,
  phase: 'copy',
  table: 'orders',
  tenant,
  sql: [],
  copy: { tenant, tenantId: '1', sourceTable: 'orders', targetTable: 'orders', estimatedRows: rows, binary: true, ...extra },
});

describe('cutPoints', () => {
  it('splits the histogram into about k equal parts, strictly increasing', () => {
    expect(cutPoints(bounds, 4)).toEqual(['1000001', '2000001', '3000001']);
    expect(cutPoints(['1', '1', '1', '5', '9'], 4)).toEqual(['1', '5']);
    expect(cutPoints(bounds, 1)).toEqual([]);
    expect(cutPoints(['a', 'b'], 3)).toEqual([]);
  });
});

describe('chunkedCopy', () => {
  const kb = { column: 'id', bounds };
  it('a table above chunkRows becomes chunk steps #1…#k, the first and last open-ended', () => {
    const out = chunkedCopy(step('t1', 4_000_000), kb, 1_250_000);
    expect(out.map((s) => s.id)).toEqual(['copy:t1:orders#1', 'copy:t1:orders#2', 'copy:t1:orders#3', 'copy:t1:orders#4']);
    expect(out.map((s) => s.copy!.range)).toEqual([
      { column: 'id', chunk: 1, chunks: 4, to: '1000001' },
      { column: 'id', chunk: 2, chunks: 4, from: '1000001', to: '2000001' },
      { column: 'id', chunk: 3, chunks: 4, from: '2000001', to: '3000001' },
      { column: 'id', chunk: 4, chunks: 4, from: '3000001' },
    ]);
    expect(out.every((s) => s.copy!.estimatedRows === 1_000_000 && s.copy!.alone)).toBe(true);
    // Aimed at 80 % of chunkRows: 3,000,000 rows in chunks of at most 1,000,000 make 4.
    expect(chunkedCopy(step('t1', 3_000_000), kb, 1_000_000)).toHaveLength(4);
  });
  it('leaves a table alone at or below the threshold, without key statistics, or with translated columns', () => {
    expect(chunkedCopy(step('t1', 1_000_000), kb, 1_000_000)).toHaveLength(1);
    expect(chunkedCopy(step('t1', 4_000_000), undefined, 1_000_000)).toHaveLength(1);
    expect(chunkedCopy(step('t1', 4_000_000, { alone: true }), kb, 1_000_000)).toHaveLength(1);
    expect(chunkedCopy(step('t1', 4_000_000), kb, undefined)).toHaveLength(1);
  });
});

describe('rangeWhere', () => {
  it('renders checked integers (COPY takes no parameters) and refuses anything else', () => {
    expect(rangeWhere({ column: 'id', from: '-5', to: '10', chunk: 2, chunks: 3 }, 's')).toBe(' WHERE s."id" >= -5::int8 AND s."id" < 10::int8');
    expect(rangeWhere(undefined, 's')).toBe('');
    expect(() => rangeWhere({ column: 'id', from: '1; DROP TABLE x', chunk: 2, chunks: 3 }, 's')).toThrow(/not an integer/);
  });
});

describe('copyTasks', () => {
  const chunks = chunkedCopy(step('t1', 3_000_000), { column: 'id', bounds }, 1_250_000).map((s) => [s]);
  const other = [step('t2', 10)];
  it('in one database a whale is one task, its chunks in order; other copies are tasks of their own', () => {
    const tasks = copyTasks([chunks[2], other, chunks[0], chunks[1]], true);
    expect(tasks.map((t) => t.map((u) => u[0].id))).toEqual([['copy:t1:orders#1', 'copy:t1:orders#2', 'copy:t1:orders#3'], ['copy:t2:orders']]);
  });
  it('into a separate target, in order on 2 connections, side by side with more', () => {
    expect(copyTasks([...chunks, other], false, 2)).toHaveLength(2);
    expect(copyTasks([...chunks, other], false, 4)).toHaveLength(4);
  });
});
