import { describe, expect, test } from 'vitest';

import {
  defaultPartitionName,
  intervalStart,
  partitionName,
  rangesCovering,
  sweptPartitionName,
} from '../../storage/postgres/partition-ranges.ts';
import { parsePgTimestamp, parseRangeBound } from '../../storage/postgres/pg-catalog.ts';

const at = (iso: string) => new Date(iso);

describe('partition ranges', () => {
  test('names are dated and stable, per interval', () => {
    expect(partitionName('events', at('2026-01-24T13:45:00Z'), 'day')).toBe('events_p20260124');
    expect(partitionName('events', intervalStart(at('2026-01-24T13:45:00Z'), 'hour'), 'hour')).toBe(
      'events_p20260124h13',
    );
    expect(partitionName('events', intervalStart(at('2026-01-24T13:45:00Z'), 'month'), 'month')).toBe('events_p202601');
    expect(partitionName('events', intervalStart(at('2026-01-24T13:45:00Z'), 'week'), 'week')).toBe('events_p20260119');
    expect(defaultPartitionName('events')).toBe('events_default');
  });

  test('weeks start on Monday and months on the first, in UTC', () => {
    expect(intervalStart(at('2026-01-25T23:59:59Z'), 'week').toISOString()).toBe('2026-01-19T00:00:00.000Z');
    expect(intervalStart(at('2026-01-26T00:00:00Z'), 'week').toISOString()).toBe('2026-01-26T00:00:00.000Z');
    expect(intervalStart(at('2026-12-31T23:00:00Z'), 'month').toISOString()).toBe('2026-12-01T00:00:00.000Z');
  });

  test('covering ranges are contiguous and include both ends', () => {
    const ranges = rangesCovering('events', 'day', at('2026-01-30T10:00:00Z'), at('2026-02-02T01:00:00Z'));
    expect(ranges.map((r) => r.name)).toEqual([
      'events_p20260130',
      'events_p20260131',
      'events_p20260201',
      'events_p20260202',
    ]);
    ranges.slice(1).forEach((r, i) => expect(r.from.getTime()).toBe(ranges[i]!.to.getTime()));
    const months = rangesCovering('m', 'month', at('2026-11-15T00:00:00Z'), at('2027-01-01T00:00:00Z'));
    expect(months.map((r) => [r.from.toISOString().slice(0, 10), r.to.toISOString().slice(0, 10)])).toEqual([
      ['2026-11-01', '2026-12-01'],
      ['2026-12-01', '2027-01-01'],
      ['2027-01-01', '2027-02-01'],
    ]);
  });

  test("long table names are shortened so the name fits PostgreSQL's 63 bytes", () => {
    const name = partitionName('x'.repeat(63), at('2026-01-24T00:00:00Z'), 'day');
    expect(Buffer.byteLength(name)).toBe(63);
    expect(name.endsWith('_p20260124')).toBe(true);
  });
});

describe('names of partitions for rows that arrived after their range moved', () => {
  test('the retired name gets a round suffix', () => {
    expect(sweptPartitionName('events_p20261101', 2)).toBe('events_p20261101_r2');
    expect(sweptPartitionName('events_p20261101h05', 13)).toBe('events_p20261101h05_r13');
  });

  test('a long retired name is shortened, never the suffix, to fit 63 bytes, without splitting a character', () => {
    const long = partitionName('x'.repeat(63), at('2026-01-24T00:00:00Z'), 'day');
    expect(sweptPartitionName(long, 2)).toBe(`${long.slice(0, 60)}_r2`);
    expect(sweptPartitionName(long, 10)).toBe(`${long.slice(0, 59)}_r10`);
    const multibyte = `${'é'.repeat(31)}_p20260124`; // 72 bytes; the 60 left beside `_r2` hold 30 of its 2-byte characters
    const name = sweptPartitionName(multibyte, 2);
    expect(name).toBe(`${'é'.repeat(30)}_r2`);
    expect(Buffer.byteLength(name)).toBe(63);
  });
});

describe('reading partition bounds from the catalog', () => {
  test('timestamptz, timestamp and date bounds', () => {
    expect(parseRangeBound("FOR VALUES FROM ('2026-01-24 00:00:00+00') TO ('2026-01-25 00:00:00+00')")).toEqual({
      isDefault: false,
      from: at('2026-01-24T00:00:00Z'),
      to: at('2026-01-25T00:00:00Z'),
    });
    expect(parseRangeBound("FOR VALUES FROM ('2026-01-24 00:00:00') TO ('2026-01-25 00:00:00')").to).toEqual(
      at('2026-01-25T00:00:00Z'),
    );
    expect(parseRangeBound("FOR VALUES FROM ('2026-01-24') TO ('2026-02-01')").to).toEqual(at('2026-02-01T00:00:00Z'));
  });

  test('DEFAULT and open-ended bounds', () => {
    expect(parseRangeBound('DEFAULT')).toEqual({ isDefault: true });
    expect(parseRangeBound("FOR VALUES FROM (MINVALUE) TO ('2026-01-01 00:00:00')")).toEqual({
      isDefault: false,
      from: undefined,
      to: at('2026-01-01T00:00:00Z'),
    });
  });

  test('fractional seconds and offsets', () => {
    expect(parsePgTimestamp('2026-01-24 10:00:00.123+02')).toEqual(at('2026-01-24T08:00:00.123Z'));
    expect(parsePgTimestamp('not a time')).toBeUndefined();
  });
});
