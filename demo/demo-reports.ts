import type { ReportDefinition } from '../storage/federation/report-definition.ts';

const inRange = `("timestamp" >= CAST($from AS TIMESTAMPTZ) OR $from IS NULL) AND ("timestamp" < CAST($to AS TIMESTAMPTZ) OR $to IS NULL)`;

function summaryOver(view: string): string {
  return `SELECT event_type,
                 count(*) AS event_count,
                 count(DISTINCT user_id) AS unique_users,
                 min("timestamp") AS first_seen,
                 max("timestamp") AS last_seen
            FROM ${view}
           WHERE ${inRange}
           GROUP BY event_type
           ORDER BY event_count DESC, event_type`;
}

/** The seed's reports over the demo `events` policy: configuration data, like the policy itself. */
export const DEMO_REPORTS: ReportDefinition[] = [
  {
    name: 'event_summary',
    table: 'events',
    tiers: 'all',
    title: 'Combined event summary (PostgreSQL + DuckDB, one SQL)',
    sql: summaryOver('events_all'),
  },
  {
    name: 'recent_summary',
    table: 'events',
    tiers: 'hot',
    title: 'Recent events (PostgreSQL partitions)',
    sql: summaryOver('events_hot'),
  },
  {
    name: 'historical_summary',
    table: 'events',
    tiers: 'cold',
    title: 'Historical events (DuckDB columnar file)',
    sql: summaryOver('events_cold'),
  },
  {
    name: 'daily_breakdown',
    table: 'events',
    tiers: 'cold',
    title: 'Daily breakdown (DuckDB columnar file)',
    sql: `SELECT CAST("timestamp" AS DATE) AS day, event_type, count(*) AS events
            FROM events_cold
           WHERE ${inRange}
           GROUP BY ALL
           ORDER BY day, event_type`,
  },
  {
    name: 'hourly_breakdown',
    table: 'events',
    tiers: 'hot',
    title: "Hourly breakdown (PostgreSQL rows on DuckDB's engine)",
    sql: `SELECT date_trunc('hour', "timestamp") AS hour, count(*) AS events
            FROM events_hot
           WHERE ${inRange}
           GROUP BY ALL
           ORDER BY hour`,
  },
];
