import type { ReportDefinition } from '../config/report-definition.ts';

/** The tier views are already narrowed to a run's --from/--to, so the reports need no time filter of their own. */
function summaryOver(view: string): string {
  return `SELECT event_type,
                 count(*) AS event_count,
                 count(DISTINCT user_id) AS unique_users,
                 min("timestamp") AS first_seen,
                 max("timestamp") AS last_seen
            FROM ${view}
           GROUP BY event_type
           ORDER BY event_count DESC, event_type`;
}

/** The demo's reports over its `events` policy: configuration data, like the policy itself. */
export const DEMO_REPORTS: ReportDefinition[] = [
  {
    name: 'event_summary',
    table: 'events',
    title: 'Combined event summary (PostgreSQL + DuckDB, one SQL)',
    sql: summaryOver('events_all'),
    params: {},
  },
  {
    name: 'recent_summary',
    table: 'events',
    title: 'Recent events (PostgreSQL partitions)',
    sql: summaryOver('events_hot'),
    params: {},
  },
  {
    name: 'historical_summary',
    table: 'events',
    title: 'Historical events (DuckDB columnar file)',
    sql: summaryOver('events_cold'),
    params: {},
  },
  {
    name: 'daily_breakdown',
    table: 'events',
    title: 'Daily breakdown (DuckDB columnar file)',
    sql: `SELECT CAST("timestamp" AS DATE) AS day, event_type, count(*) AS events
            FROM events_cold
           GROUP BY ALL
           ORDER BY day, event_type`,
    params: {},
  },
  {
    name: 'hourly_breakdown',
    table: 'events',
    title: "Hourly breakdown (PostgreSQL rows on DuckDB's engine)",
    sql: `SELECT date_trunc('hour', "timestamp") AS hour, count(*) AS events
            FROM events_hot
           GROUP BY ALL
           ORDER BY hour`,
    params: {},
  },
  {
    name: 'top_users',
    table: 'events',
    title: 'Most active users (both tiers)',
    sql: `SELECT user_id,
                 count(*) AS events,
                 count(DISTINCT event_type) AS event_types,
                 max("timestamp") AS last_seen
            FROM events_all
           GROUP BY user_id
           ORDER BY events DESC, user_id
           LIMIT $limit`,
    params: { limit: { type: 'integer', min: 1, max: 10_000, default: 10, description: 'how many users' } },
  },
  {
    name: 'event_type_timeseries',
    table: 'events',
    title: 'Events per type over time (both tiers)',
    sql: `SELECT date_trunc($bucket, "timestamp") AS bucket_start, event_type, count(*) AS events
            FROM events_all
           GROUP BY ALL
           ORDER BY bucket_start, event_type`,
    params: {
      bucket: {
        type: 'choice',
        values: ['hour', 'day', 'week'],
        default: 'day',
        description: 'bucket width (weeks start on Monday)',
      },
    },
  },
];
