import type { DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

import { runReportInvocation, startMigration } from '../../client/migrations.ts';
import { coldColumnsFor } from '../../storage/cold/cold-columns.ts';
import { SOURCE_PARTITION_COLUMN } from '../../storage/cold/cold-store.ts';
import { inDuckTransaction } from '../../storage/duckdb/duck-transaction.ts';
import { openExtensionSnapshot } from '../../storage/federation/extension-snapshot.ts';
import { getMove } from '../../storage/postgres/pg-move-state.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import type { TestColdStore } from '../helpers/global-setup.ts';
import { allEvents, DAY, partitionOfDay, utcMidnightToday } from '../helpers/truth.ts';

const today = utcMidnightToday();
const generator = { rows: 2_400, days: 8, anchor: new Date(today), seed: 31 };
const events = allEvents(generator);
const dayAgo = (days: number) => partitionOfDay('events', new Date(today - days * DAY));
const rowsOf = (partition: string) => events.filter((e) => partitionOfDay('events', e.timestamp) === partition).length;
const table = { schema: 'public', table: 'events' };
const [first, second, third] = [dayAgo(6), dayAgo(5), dayAgo(4)];

/** The run's lake (on S3 when the run is), and a DuckDB file beside it: the same steps, each format's answer. */
const lakeStore: TestColdStore = inject('testColdStore') === 'lake-s3' ? 'lake-s3' : 'lake';

/**
 * What a report's cold side sees when moves commit while it runs, step by step through the storage API a report uses
 * (one DuckDB transaction, the postgres extension's PostgreSQL snapshot inside it, the store's cold snapshot).
 */
describe.each([lakeStore, 'duckdb'] as const)('a report snapshot of a %s cold tier', (coldStore) => {
  let env: TestDeploymentWithWorkers;
  const moveOne = async (partition: string) =>
    (await startMigration(env.temporal, env.config, { table: 'events', partition })).result();
  const writeOf = async (partition: string) => ({
    partition,
    writeId: (await getMove(env.pgPool, { tableSchema: 'public', tableName: 'events', partitionName: partition }))!
      .coldWriteId,
  });

  beforeAll(async () => {
    env = await createTestDeploymentWithWorkers(`snapshots_${coldStore.replace('-', '_')}`, { coldStore });
    await seedDemoData(env, generator);
    expect(await moveOne(first)).toMatchObject([{ status: 'moved', rows: rowsOf(first) }]);
  });
  afterAll(async () => env?.close());

  test('a move commits after the run began, before its PostgreSQL snapshot: the lake is read exactly as that snapshot sees it (a later write is not), a DuckDB file that was read first must start again', async () => {
    const store = env.workers.coldStore;
    const countIn = async (relation: string, partition: string, connection: DuckDBConnection) =>
      Number(
        (
          await connection.runAndReadAll(
            `SELECT count(*)::INTEGER AS n FROM ${relation} WHERE ${SOURCE_PARTITION_COLUMN} = $partition`,
            { partition },
          )
        ).getRowObjectsJson()[0]!.n,
      );
    const seen = await store.withConnection((connection) =>
      inDuckTransaction(
        connection,
        async () => {
          // The run's DuckDB transaction is under way before the move. A DuckDB file fixes its view at the
          // transaction's first read of it; a lake fixes its view at the first read too, which a report makes only
          // after reading the pin in PostgreSQL's snapshot (so nothing here reads the lake yet).
          const before =
            coldStore === 'duckdb'
              ? await countIn(store.relation('events_historical'), first, connection)
              : Number((await connection.runAndReadAll('SELECT 1 AS one')).getRowObjectsJson()[0]!.one);
          // ... then a whole move commits: the cold write, the detach, the drop ...
          expect(await moveOne(second)).toMatchObject([{ status: 'moved', rows: rowsOf(second) }]);
          // ... and only then does the run take its PostgreSQL snapshot, which records `second` as cold.
          const snapshot = await openExtensionSnapshot(connection, [table]);
          try {
            const cold = await store.openSnapshot(connection, (sql) => snapshot.query(sql));
            const holdsBoth = await cold.holdsWrites(table, [await writeOf(first), await writeOf(second)]);
            // A write after the pin (a copy of a partition still hot) is not seen by the run.
            const late = await store.writePartition(
              {
                ...table,
                partition: third,
                coldTable: 'events_historical',
                columns: await coldColumnsFor(env.pgPool, env.config.tables[0]!),
                timeColumn: 'timestamp',
              },
              env.pgPool,
              {},
            );
            return {
              before,
              holdsBoth,
              version: cold.version,
              second: await countIn(cold.relation('events_historical'), second, connection),
              third: await countIn(cold.relation('events_historical'), third, connection),
              lateRows: late.rows,
            };
          } finally {
            await snapshot.close();
          }
        },
        'read-only',
      ),
    );
    expect(seen.before).toBe(coldStore === 'duckdb' ? rowsOf(first) : 1);
    expect(seen.lateRows).toBe(rowsOf(third));
    if (coldStore === 'duckdb') {
      // The file's snapshot predates the move: the run would start again (report-runner.ts), as it always has.
      expect(seen).toMatchObject({ holdsBoth: false, version: null, second: 0, third: 0 });
    } else {
      // The lake was pinned in PostgreSQL's snapshot: the moved partition is there, the later copy is not.
      expect(seen).toMatchObject({ holdsBoth: true, second: rowsOf(second), third: 0 });
      expect(seen.version).toEqual(expect.any(Number));
    }
    // The copy of `third` is not served (its partition is still hot); discard it as a failed move would.
    expect(await store.deletePartition({ ...table, partition: third, coldTable: 'events_historical' })).toBe(
      rowsOf(third),
    );
  });

  test('a report through the workflow says which cold snapshot it read, in one attempt when nothing moves', async () => {
    const result = await runReportInvocation(env.temporal, env.config, {
      sql: 'SELECT count(*) AS n FROM events_all',
    });
    expect(result.rows).toEqual([{ n: generator.rows }]);
    expect(result.plan.coldSnapshot.attempt).toBe(1);
    if (coldStore === 'duckdb') expect(result.plan.coldSnapshot.lakeVersion).toBeNull();
    else expect(result.plan.coldSnapshot.lakeVersion).toEqual(expect.any(Number));
  });
});
