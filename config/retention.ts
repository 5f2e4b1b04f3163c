import { formatDuration, parseDuration } from './duration.ts';

/**
 * How long a table's cold partitions are kept, counted from a partition's upper bound: a fixed duration (`400d`,
 * `52w`) or calendar months and years (`13 months`, `2 years`), which a fixed number of days would get wrong.
 */
export type Retention = { ms: number } | { months: number };

const CALENDAR_UNITS: Record<string, number> = {
  mo: 1,
  month: 1,
  months: 1,
  y: 12,
  yr: 12,
  yrs: 12,
  year: 12,
  years: 12,
};

/** Parses '400d', '13 months', '2 years'; undefined when the text is not a positive retention. */
export function parseRetention(text: string): Retention | undefined {
  const calendar = /^\s*(\d+)\s*([a-z]+)\s*$/i.exec(text);
  const months = calendar ? CALENDAR_UNITS[calendar[2]!.toLowerCase()] : undefined;
  if (calendar && months !== undefined) {
    const count = Number(calendar[1]) * months;
    return count > 0 ? { months: count } : undefined;
  }
  const ms = parseDuration(text);
  return ms !== undefined && ms > 0 ? { ms } : undefined;
}

/** The instant before which a partition's upper bound must lie for its cold rows to be past `retention` at `now`. */
export function retentionCutoff(retention: Retention, now: Date): Date {
  if ('ms' in retention) return new Date(now.getTime() - retention.ms);
  const cutoff = new Date(now.getTime());
  const day = cutoff.getUTCDate();
  cutoff.setUTCDate(1);
  cutoff.setUTCMonth(cutoff.getUTCMonth() - retention.months);
  // The same day of that month, or its last day when it is shorter (31 March minus one month is 28/29 February).
  const lastDay = new Date(Date.UTC(cutoff.getUTCFullYear(), cutoff.getUTCMonth() + 1, 0)).getUTCDate();
  cutoff.setUTCDate(Math.min(day, lastDay));
  return cutoff;
}

/** The retention as a person would write it: 400d, 13 months. */
export function formatRetention(retention: Retention): string {
  if ('ms' in retention) return formatDuration(retention.ms);
  const { months } = retention;
  if (months % 12 === 0) return months === 12 ? '1 year' : `${months / 12} years`;
  return months === 1 ? '1 month' : `${months} months`;
}
