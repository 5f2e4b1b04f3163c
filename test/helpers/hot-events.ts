import type pg from 'pg';
import { expect } from 'vitest';

import type { DemoEvent } from '../../demo/event-generator.ts';
import { listPartitions } from '../../storage/postgres/pg-catalog.ts';

/** The demo rows of one relation in PostgreSQL (a partition, the parent, DEFAULT), in id order. */
export async function readHotEvents(db: pg.Pool, relation: string): Promise<DemoEvent[]> {
  const { rows } = await db.query<{ id: number; event_type: string; user_id: number; ms: number; data: unknown }>(
    `SELECT id, event_type, user_id, (extract(epoch FROM "timestamp") * 1000)::float8 AS ms, data FROM public."${relation}" ORDER BY id`,
  );
  return rows.map((row) => ({
    id: row.id,
    eventType: row.event_type,
    userId: row.user_id,
    timestamp: new Date(row.ms),
    data: row.data as DemoEvent['data'],
  }));
}

/** The rows are exactly these events, value for value. */
export function expectEventsEqual(actual: DemoEvent[], expected: DemoEvent[]): void {
  const byId = (a: DemoEvent, b: DemoEvent) => a.id - b.id;
  expect(actual.map(plain)).toEqual([...expected].sort(byId).map(plain));
}

const plain = (e: DemoEvent) => ({ ...e, timestamp: e.timestamp.getTime() });

/** The names of the events table's dated partitions that end at or before `cutoff` (epoch ms): what a migration moves. */
export async function partitionsEndingBy(db: pg.Pool, cutoff: number): Promise<string[]> {
  return (await listPartitions(db, 'public', 'events'))
    .filter((p) => !p.isDefault && p.to!.getTime() <= cutoff)
    .map((p) => p.name);
}
