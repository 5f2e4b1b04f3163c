import type { PartitionInterval } from '../../config/policy.ts';

/** One partition's place on the time axis: [from, to) in UTC, and its dated name. */
export interface PartitionRange {
  name: string;
  from: Date;
  to: Date;
}

const MAX_IDENTIFIER_BYTES = 63;

/** The start of the interval containing `time` (UTC; weeks start on Monday). */
export function intervalStart(time: Date, interval: PartitionInterval): Date {
  const t = new Date(time.getTime());
  switch (interval) {
    case 'hour':
      t.setUTCMinutes(0, 0, 0);
      return t;
    case 'day':
      t.setUTCHours(0, 0, 0, 0);
      return t;
    case 'week': {
      t.setUTCHours(0, 0, 0, 0);
      const daysSinceMonday = (t.getUTCDay() + 6) % 7;
      t.setUTCDate(t.getUTCDate() - daysSinceMonday);
      return t;
    }
    case 'month':
      return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1));
  }
}

export function nextIntervalStart(start: Date, interval: PartitionInterval): Date {
  const t = new Date(start.getTime());
  switch (interval) {
    case 'hour':
      t.setUTCHours(t.getUTCHours() + 1);
      return t;
    case 'day':
      t.setUTCDate(t.getUTCDate() + 1);
      return t;
    case 'week':
      t.setUTCDate(t.getUTCDate() + 7);
      return t;
    case 'month':
      return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 1));
  }
}

/** `events_p20260124` (day, week), `events_p20260124h13` (hour), `events_p202601` (month). */
export function partitionName(table: string, start: Date, interval: PartitionInterval): string {
  const iso = start.toISOString();
  const ymd = iso.slice(0, 10).replaceAll('-', '');
  const suffix =
    interval === 'hour' ? `_p${ymd}h${iso.slice(11, 13)}` : interval === 'month' ? `_p${ymd.slice(0, 6)}` : `_p${ymd}`;
  const room = MAX_IDENTIFIER_BYTES - Buffer.byteLength(suffix);
  return `${truncateToBytes(table, room)}${suffix}`;
}

/**
 * The name of the `round`-th partition (2, 3, ...) for a range whose first partition, `retired`, already moved to the
 * cold tier: `events_p20261101_r2`. The retired name is shortened, never the suffix, so the name fits 63 bytes; the
 * caller checks the name was never used (shortening can make two retired names collide).
 */
export function sweptPartitionName(retired: string, round: number): string {
  const suffix = `_r${round}`;
  return `${truncateToBytes(retired, MAX_IDENTIFIER_BYTES - suffix.length)}${suffix}`;
}

export function defaultPartitionName(table: string): string {
  return `${truncateToBytes(table, MAX_IDENTIFIER_BYTES - '_default'.length)}_default`;
}

/** Every interval that overlaps [from, to], in order. */
export function rangesCovering(table: string, interval: PartitionInterval, from: Date, to: Date): PartitionRange[] {
  const ranges: PartitionRange[] = [];
  for (
    let start = intervalStart(from, interval);
    start.getTime() <= to.getTime();
    start = nextIntervalStart(start, interval)
  ) {
    ranges.push({ name: partitionName(table, start, interval), from: start, to: nextIntervalStart(start, interval) });
  }
  return ranges;
}

function truncateToBytes(text: string, bytes: number): string {
  let result = text;
  while (Buffer.byteLength(result) > bytes) result = result.slice(0, -1);
  return result;
}
