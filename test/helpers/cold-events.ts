import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { expect } from 'vitest';

import type { DemoEvent } from '../../demo/event-generator.ts';
import type { ColdStore } from '../../storage/cold/cold-store.ts';
import { partitionOfDay } from './truth.ts';

type ColdRow = Record<string, unknown>;

/** Every cold row of the demo table, in id order. */
export async function readColdEvents(store: ColdStore): Promise<ColdRow[]> {
  return store.withConnection((connection) => readEventsTable(connection, store.relation('events_historical')));
}

/** The same from a cold DuckDB file alone (no ducktier, no PostgreSQL), once no process holds it open. */
export async function readColdEventsFromFile(file: string): Promise<ColdRow[]> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    try {
      return await readEventsTable(connection, 'events_historical');
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

async function readEventsTable(connection: DuckDBConnection, relation: string): Promise<ColdRow[]> {
  const reader = await connection.runAndReadAll(
    `SELECT id, event_type, user_id, "timestamp", data, _ducktier_partition FROM ${relation} ORDER BY id`,
  );
  return reader.getRowObjectsJS();
}

/** The cold rows are exactly these events (sorted by id), value for value, each tagged with its partition. */
export function expectColdEventsEqual(cold: ColdRow[], expected: DemoEvent[]): void {
  expect(cold.length).toBe(expected.length);
  cold.forEach((row, i) => {
    const truth = expected[i]!;
    expect(row.id).toBe(truth.id);
    expect(row.event_type).toBe(truth.eventType);
    expect(row.user_id).toBe(truth.userId);
    expect((row.timestamp as Date).getTime()).toBe(truth.timestamp.getTime());
    expect(JSON.parse(String(row.data))).toEqual(truth.data);
    expect(row._ducktier_partition).toBe(partitionOfDay('events', truth.timestamp));
  });
}
