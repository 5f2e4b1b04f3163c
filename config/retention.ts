import { parseDuration } from './duration.ts';

/**
 * How long a table's cold partitions are kept, counted from a partition's upper bound: a fixed duration (`400d`,
 * `52w`) or calendar months and years (`13 months`, `2 years`), which a fixed number of days would get wrong.
 */
export type Retention = { ms: number } | { months: number };

const MONTHS_PER_UNIT: Record<string, number> = {
  mo: 1,
  month: 1,
  months: 1,
  y: 12,
  year: 12,
  years: 12,
};

/** Parses '400d', '13 months', '2 years'; undefined when the text is not a positive retention. */
export function parseRetention(text: string): Retention | undefined {
  const calendar = /^\s*(\d+)\s*([a-z]+)\s*$/i.exec(text);
  const perUnit = calendar ? MONTHS_PER_UNIT[calendar[2]!.toLowerCase()] : undefined;
  if (calendar && perUnit !== undefined) {
    const months = Number(calendar[1]) * perUnit;
    return months > 0 ? { months } : undefined;
  }
  const ms = parseDuration(text);
  return ms !== undefined && ms > 0 ? { ms } : undefined;
}

/** The instant a partition's upper bound must lie before for its cold rows to be past `retention` at `now`. */
export function retentionCutoff(retention: Retention, now: Date): Date {
  if ('ms' in retention) return new Date(now.getTime() - retention.ms);
  const day = now.getUTCDate();
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - retention.months, 1));
  // The same day of that month, or its last day when it is shorter (31 March minus one month is 28/29 February).
  const lastDay = new Date(Date.UTC(monthStart.getUTCFullYear(), monthStart.getUTCMonth() + 1, 0)).getUTCDate();
  const cutoff = new Date(now.getTime());
  cutoff.setUTCFullYear(monthStart.getUTCFullYear(), monthStart.getUTCMonth(), Math.min(day, lastDay));
  return cutoff;
}

/** The retention as the config wrote it, for people: `400d`, `13 months`. */
export function describeRetention(retention: Retention): string {
  if ('months' in retention) return `${retention.months} month${retention.months === 1 ? '' : 's'}`;
  return `${retention.ms / 86_400_000}d`;
}
