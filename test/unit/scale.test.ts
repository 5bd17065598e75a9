/** Pieces that must hold at 50,000 tenants (issue 12) and the estimate's arithmetic, without a server. */
import { describe, expect, it } from 'vitest';
import { table as textTable } from '../../src/cli/output.js';
import { diskEstimate, typeWidth, unifiedTableBytes } from '../../src/report/estimate.js';
import { EMPTY_STATS, type TableStats } from '../../src/report/size.js';
import type { Plan, UnifiedTable } from '../../src/plan/model.js';

describe('at 50,000 tenants', () => {
  it('a text table of 1,000,000 rows (status --steps) prints: no spread of a huge array into a call', () => {
    // The CLI overflows its stack on a spread of ~128,000 values; vitest's workers have a deeper one (~1,000,000).
    const rows = Array.from({ length: 1_000_000 }, (_, i) => [`copy:tenant_${String(i).padStart(5, '0')}:t1`, i]);
    const out = textTable(['step', 'n'], rows, ['l', 'r']);
    const lines = out.trimEnd().split('\n');
    expect(lines.length).toBe(1_000_002); // header, rule, rows
    // Widths from every row: the first row is padded to the last one's (tenant_999999, 999999).
    expect(lines[2]).toBe('copy:tenant_00000:t1' + ' '.repeat(1 + 2 + 5) + '0');
    expect(lines.at(-1)).toBe('copy:tenant_999999:t1  999999');
  });
});

const stats = (o: Partial<TableStats>): TableStats => ({ ...EMPTY_STATS, ...o });

const t = {
  columns: [
    { name: 'id', type: 'integer' },
    { name: 'name', type: 'text' },
    { name: 'at', type: 'timestamp with time zone' },
  ],
  indexes: [],
  primaryKey: { name: 'pk', columns: ['id'] },
  uniques: [],
  tenantColumnType: 'bigint',
} as unknown as UnifiedTable;

describe('the disk estimate', () => {
  it('widths by type: fixed types their size, variable-length ones 24 bytes', () => {
    expect([typeWidth('integer'), typeWidth('bigint'), typeWidth('uuid'), typeWidth('text'), typeWidth('numeric(10,2)')]).toEqual([4, 8, 16, 24, 10]);
  });

  it('row width from the tenants of 8+ pages, plus the tenant column in every row and index entry', () => {
    // 100,000 rows in 1,000 pages: 81.92 bytes a row; 500 index pages: 40.96 bytes an entry.
    const b = unifiedTableBytes(t, stats({ rows: 200_000, denseRows: 100_000, denseHeapPages: 1_000, denseIndexPages: 500, toastPages: 2 }), 8192);
    expect(b.heap).toBeCloseTo(200_000 * (81.92 + 8) + 2 * 8192, 3);
    expect(b.index).toBeCloseTo(200_000 * (40.96 + 8), 3);
  });

  it('many tiny tenants (no tenant big enough to say): the columns’ types, not the mostly empty pages', () => {
    // 1,000 tenants × 10 rows, each in its own page: 8 MB of pages for 10,000 rows of ~64 bytes.
    const b = unifiedTableBytes(t, stats({ rows: 10_000, relations: 1_000, heapPages: 1_000, indexPages: 2_000, indexFiles: 1_000 }), 8192);
    expect(b.heap).toBe(10_000 * (28 + 4 + 24 + 8 + 8));
    expect(b.index).toBe(10_000 * (12 + 8 + 8));
    expect(b.heap + b.index).toBeLessThan((1_000 * 3 * 8192) / 10);
  });

  it('WAL up to max_wal_size; needed = target + WAL', () => {
    const plan = { tables: [{ ...t, target: 'x' }] } as unknown as Plan;
    const d = diskEstimate(
      plan,
      { x: stats({ rows: 1_000_000, denseRows: 1_000_000, denseHeapPages: 10_000, denseIndexPages: 3_000, bytes: 123 }) },
      8192,
      50 * 2 ** 20,
    );
    expect(d.targetBytes).toBe(d.tableBytes + d.indexBytes);
    expect(d.walBytes).toBe(50 * 2 ** 20);
    expect(d.neededBytes).toBe(d.targetBytes + d.walBytes);
    expect(d.sourceBytes).toBe(123);
  });
});
