import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

import { startMigration } from '../../client/migrations.ts';
import { findPolicy } from '../../config/config.ts';
import {
  createTestDeploymentWithWorkers,
  seedDemoData,
  type TestDeploymentWithWorkers,
} from '../helpers/deployment.ts';
import { movedPartitions } from '../helpers/move-history.ts';
import { DAY, partitionOfDay, utcMidnightToday } from '../helpers/truth.ts';

/** The row group size a lake's move must write: DuckDB's default (122,880) needs more memory to read back. */
const ROW_GROUP_ROWS = 30_720;
// One day of rows, three days old: one partition past the hot window, over two row groups' worth.
const dayStart = new Date(utcMidnightToday() - 3 * DAY);
const generator = { rows: 70_000, days: 1, anchor: new Date(dayStart.getTime() + DAY), seed: 61 };

// A lake on a directory, where the test can read the Parquet footers itself (on S3 the same setting applies).
describe.skipIf(inject('testColdStore') !== 'lake')("a lake's Parquet files", () => {
  let env: TestDeploymentWithWorkers;
  let partitionRows: number;

  beforeAll(async () => {
    env = await createTestDeploymentWithWorkers('lake_row_groups');
    await seedDemoData(env, generator);
    const { rows } = await env.pgPool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${partitionOfDay('events', dayStart)}"`,
    );
    partitionRows = rows[0]!.n;
    expect(partitionRows).toBeGreaterThanOrEqual(generator.rows);
    const outcomes = await (await startMigration(env.temporal, env.config, { table: 'events' })).result();
    expect(movedPartitions(outcomes)).toEqual([partitionOfDay('events', dayStart)]);
  });
  afterAll(async () => env?.close());

  test('a move writes row groups of at most 30,720 rows, which read back within the memory limit of moves', async () => {
    if (env.config.cold.format !== 'ducklake') throw new Error('the deployment is not a lake');
    // The lake holds ducktier's own small tables too; the moved rows are the cold table's files.
    const { coldTable } = findPolicy(env.config, 'events');
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const reader = await connection.runAndReadAll(
        `SELECT count(*)::INTEGER AS groups, sum(num_rows)::INTEGER AS rows, max(num_rows)::INTEGER AS largest
           FROM (SELECT DISTINCT file_name, row_group_id, row_group_num_rows AS num_rows
                   FROM parquet_metadata('${env.config.cold.dataPath}/**/*.parquet')
                  WHERE file_name LIKE '%/${coldTable}/%')`,
      );
      const [footers] = reader.getRowObjectsJson();
      expect(footers!.rows).toBe(partitionRows);
      expect(footers!.largest).toBeLessThanOrEqual(ROW_GROUP_ROWS);
      expect(footers!.groups).toBeGreaterThanOrEqual(Math.ceil(partitionRows / ROW_GROUP_ROWS));
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});
