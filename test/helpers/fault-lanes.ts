import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { expect } from 'vitest';

import type { DucktierConfig } from '../../config/config.ts';
import type { DemoEvent } from '../../demo/event-generator.ts';
import { getMove } from '../../storage/postgres/pg-move-state.ts';
import { listHeldLocks } from '../../storage/postgres/pg-partition-locks.ts';
import { externalPgTarget } from '../../storage/postgres/pg-target.ts';
import { moveWorkflowId } from '../../workflows/workflow-ids.ts';
import { withColdStore } from './cold-store.ts';
import { type DeploymentOptions, writeDeploymentConfig } from './deployment.ts';
import { partitionOfDay } from './truth.ts';
import type { ProcessExit } from './worker-process.ts';

/** A row of the events table as the fault tests compare it in both tiers. */
export interface TruthRow {
  id: number;
  event_type: string;
  user_id: number;
  ms: number;
  data: unknown;
}

/** The generator's rows of one partition, in id order. */
export function truthOf(events: DemoEvent[], partition: string): TruthRow[] {
  return truthRows(events.filter((event) => partitionOfDay('events', event.timestamp) === partition));
}

/** Events as the fault tests compare rows, in id order. */
export function truthRows(events: DemoEvent[]): TruthRow[] {
  return [...events]
    .sort((a, b) => a.id - b.id)
    .map((event) => ({
      id: event.id,
      event_type: event.eventType,
      user_id: event.userId,
      ms: event.timestamp.getTime(),
      data: event.data,
    }));
}

/** One case's deployment: its config file for the worker processes, its task queues and DuckDB file, its partition. */
export interface Lane {
  config: DucktierConfig;
  configFile: string;
  partition: string;
  truth: TruthRow[];
  moveId: string;
}

export function createLane(
  name: string,
  database: string,
  partition: string,
  events: DemoEvent[],
  options: DeploymentOptions & { postgresUrl?: string } = {},
): Lane {
  const { postgresUrl, ...deployment } = options;
  const { config, configFile } = writeDeploymentConfig(name, database, {
    ...deployment,
    ...(postgresUrl ? { extraConfig: { postgres: { url: postgresUrl } } } : {}),
  });
  return {
    config,
    configFile,
    partition,
    truth: truthOf(events, partition),
    moveId: moveWorkflowId(config.temporal.taskQueue, 'public', 'events', partition),
  };
}

export const laneName = (prefix: string, point: string) => `${prefix}_${point.replace(/\W+/g, '_').toLowerCase()}`;

export const moveKeyOf = (partition: string) => ({
  tableSchema: 'public',
  tableName: 'events',
  partitionName: partition,
});

export async function pgRows(db: pg.Pool, partition: string): Promise<TruthRow[]> {
  const { rows } = await db.query<TruthRow>(
    `SELECT id, event_type, user_id, (extract(epoch FROM "timestamp") * 1000)::float8 AS ms, data FROM public."${partition}" ORDER BY id`,
  );
  return rows;
}

/**
 * The whole cold tier of a lane (it only ever received this lane's partition), read after its worker stopped; a lake's
 * catalog is in `postgres`.
 */
export async function coldContents(
  lane: Pick<Lane, 'config' | 'partition'>,
  postgres = externalPgTarget(lane.config.postgres.url),
) {
  return withColdStore({ config: lane.config, stack: { postgres } }, async (store) => {
    const rows = await store.withConnection(async (connection) =>
      (await store.countTable('events_historical')) === 0
        ? []
        : (
            await connection.runAndReadAll(
              `SELECT id, event_type, user_id, epoch_ms("timestamp")::DOUBLE AS ms, data, _ducktier_partition FROM ${store.relation('events_historical')} ORDER BY id`,
            )
          ).getRowObjectsJS(),
    );
    const entry = await store.manifestEntry({ schema: 'public', table: 'events', partition: lane.partition });
    return {
      rows: rows.map((row) => ({ ...row, data: JSON.parse(String(row.data)) })),
      manifest: entry ? [{ partition_name: lane.partition, rows: entry.rows }] : [],
    };
  });
}

/** Neither the partition's lock nor its change capture (triggers, captured instants) is left behind. */
export async function expectNoLockOrCapture(pgPool: pg.Pool, partition: string): Promise<void> {
  expect(await listHeldLocks(pgPool, [{ schema: 'public', partition }])).toEqual([]);
  const { rows } = await pgPool.query(
    `SELECT (SELECT count(*)::int FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname LIKE 'ducktier%') AS triggers,
            (SELECT count(*)::int FROM ducktier.move_changes WHERE table_schema = 'public' AND partition_name = $2) AS instants`,
    [`public."${partition}"`, partition],
  );
  expect(rows).toEqual([{ triggers: 0, instants: 0 }]);
}

/**
 * What every completed move must leave: PostgreSQL without the partition, no lock or change capture, DuckDB with
 * exactly its rows once. `stop` stops the lane's worker (it must stop cleanly), so a DuckDB file can be read.
 */
export async function expectMovedWhole(
  deployment: { pgPool: pg.Pool; temporal: Client },
  lane: Lane,
  stop: () => Promise<ProcessExit>,
): Promise<void> {
  const { rows } = await deployment.pgPool.query('SELECT to_regclass($1) AS oid', [`public."${lane.partition}"`]);
  expect(rows).toEqual([{ oid: null }]);
  expect(await getMove(deployment.pgPool, moveKeyOf(lane.partition))).toMatchObject({
    state: 'cold',
    rows: lane.truth.length,
    truncatedDuringMove: false,
    error: null,
  });
  await expectNoLockOrCapture(deployment.pgPool, lane.partition);
  expect((await deployment.temporal.workflow.getHandle(lane.moveId).describe()).status.name).toBe('COMPLETED');
  expect(await stop()).toEqual({ code: 0, signal: null });
  expect(await coldContents(lane)).toEqual({
    rows: lane.truth.map((row) => ({ ...row, _ducktier_partition: lane.partition })),
    manifest: [{ partition_name: lane.partition, rows: lane.truth.length }],
  });
}
