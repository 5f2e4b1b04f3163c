import { type DemoEvent, generateEvents, type GeneratorOptions } from '../../demo/event-generator.ts';

/** Truth computed from the generator alone, never from a database. */
export function allEvents(options: GeneratorOptions): DemoEvent[] {
  return [...generateEvents(options)];
}

export const dayKey = (time: Date): string => time.toISOString().slice(0, 10);

export function partitionOfDay(table: string, time: Date): string {
  return `${table}_p${dayKey(time).replaceAll('-', '')}`;
}

export interface SummaryRow {
  event_type: string;
  event_count: number;
  unique_users: number;
  first_seen: number;
  last_seen: number;
}

/** The event_summary report, computed in JS. */
export function eventSummary(events: DemoEvent[]): SummaryRow[] {
  const byType = new Map<string, { count: number; users: Set<number>; first: number; last: number }>();
  for (const event of events) {
    const entry = byType.get(event.eventType) ?? {
      count: 0,
      users: new Set<number>(),
      first: Infinity,
      last: -Infinity,
    };
    entry.count++;
    entry.users.add(event.userId);
    entry.first = Math.min(entry.first, event.timestamp.getTime());
    entry.last = Math.max(entry.last, event.timestamp.getTime());
    byType.set(event.eventType, entry);
  }
  return [...byType.entries()]
    .map(([type, e]) => ({
      event_type: type,
      event_count: e.count,
      unique_users: e.users.size,
      first_seen: e.first,
      last_seen: e.last,
    }))
    .sort((a, b) => b.event_count - a.event_count || a.event_type.localeCompare(b.event_type));
}

/** DuckDB renders TIMESTAMP as 'YYYY-MM-DD HH:MM:SS[.fff]' in UTC. */
export function duckTimestampMs(text: unknown): number {
  return new Date(`${String(text).replace(' ', 'T')}Z`).getTime();
}

export const DAY = 86_400_000;

/** Today's 00:00 UTC in ms: tests anchor their generated days to it, so partitions fall on whole days. */
export const utcMidnightToday = (): number => new Date(new Date().toISOString().slice(0, 10)).getTime();
