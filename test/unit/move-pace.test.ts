import { describe, expect, test } from 'vitest';

import { parseMovePace } from '../../config/move-pace.ts';
import { UsageError } from '../../errors/usage-error.ts';
import { pageRangeConditions, pagesForRenderedRows } from '../../storage/postgres/pg-page-ranges.ts';

describe('a move at the gentle pace', () => {
  test('a pace is full or gentle; anything else is a usage error naming where it came from', () => {
    expect([parseMovePace('full', '--pace'), parseMovePace('gentle', '--pace')]).toEqual(['full', 'gentle']);
    expect(() => parseMovePace('fast', '--pace')).toThrow(UsageError);
    expect(() => parseMovePace('fast', '--pace')).toThrow("--pace must be full or gentle, not 'fast'");
  });

  test('page ranges cover every page from the first, each once, the last open-ended', () => {
    expect(pageRangeConditions(0, 4)).toEqual([`ctid >= '(0,0)'::tid`]);
    expect(pageRangeConditions(4, 4)).toEqual([`ctid >= '(0,0)'::tid`]);
    expect(pageRangeConditions(9, 4)).toEqual([
      `ctid >= '(0,0)'::tid AND ctid < '(4,0)'::tid`,
      `ctid >= '(4,0)'::tid AND ctid < '(8,0)'::tid`,
      `ctid >= '(8,0)'::tid`,
    ]);
  });

  test('a table with values out of line (TOAST) reads fewer heap pages per range, in proportion to the heap share', () => {
    expect(pagesForRenderedRows(4096, 100, 0)).toBe(4096);
    expect(pagesForRenderedRows(4096, 0, 0)).toBe(4096);
    expect(pagesForRenderedRows(4096, 100, 300)).toBe(1024);
    expect(pagesForRenderedRows(4096, 1, 1_000_000)).toBe(1);
  });
});
