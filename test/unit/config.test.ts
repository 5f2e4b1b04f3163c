import os from 'node:os';
import path from 'node:path';

import { describe, expect, test } from 'vitest';

import { loadConfig } from '../../config/config.ts';
import { formatDuration, parseDuration } from '../../config/duration.ts';
import { defaultMoveMemoryLimit, memoryBytes } from '../../config/memory-size.ts';
import { DEMO_DEFAULTS } from '../../demo/demo-config.ts';
import { UsageError } from '../../errors/usage-error.ts';

describe('configuration', () => {
  test('defaults to the demo policy with the documented values', () => {
    const config = loadConfig({ env: {}, values: {} }, DEMO_DEFAULTS);
    expect(config.tables).toEqual([
      {
        table: 'events',
        schema: 'public',
        timeColumn: 'timestamp',
        partitionInterval: 'day',
        hotWindow: 2 * 86_400_000,
        premake: 3,
        coldTable: 'events_historical',
      },
    ]);
    expect(config.schedule).toEqual({ id: 'ducktier-migrate-daily', cron: '0 2 * * *', timezone: 'UTC' });
    expect(config.temporal).toMatchObject({
      namespace: 'default',
      taskQueue: 'ducktier',
      coldTaskQueue: 'ducktier-cold',
    });
    expect(config.duckdb).toMatchObject({
      federation: 'auto',
      memoryLimit: '256MB',
      moveMemoryLimit: `${64 * Math.max(2, os.availableParallelism())}MB`,
    });
    expect([1, 2, 8].map((threads) => defaultMoveMemoryLimit(threads))).toEqual(['128MB', '128MB', '512MB']);
    expect([memoryBytes('256MB'), memoryBytes('2GiB'), memoryBytes('1.5 kb')]).toEqual([256e6, 2 ** 31, 1500]);
    expect(config.moves).toEqual({ verifyParallelWorkers: 0, pace: 'full', concurrency: 1 });
    expect(config.dataDir.endsWith('.ducktier')).toBe(true);
    expect(config.cold).toEqual({ format: 'duckdb', path: path.join(config.dataDir, 'cold', 'cold.duckdb') });
    expect(config.reports.map((r) => r.name)).toContain('event_summary');
  });

  test('without defaults from its caller, a config must name its tables', () => {
    expect(() => loadConfig({ env: {}, values: {} })).toThrow('tables: at least one table policy is needed');
  });

  test('a table policy gets defaults for everything but its name and time column', () => {
    const config = loadConfig({ env: {}, values: { tables: [{ table: 'metrics', timeColumn: 'at' }] } }, DEMO_DEFAULTS);
    expect(config.tables[0]).toMatchObject({
      schema: 'public',
      partitionInterval: 'day',
      hotWindow: 172_800_000,
      premake: 3,
      coldTable: 'metrics_historical',
    });
    expect(config.reports).toEqual([]);
  });

  test('environment variables override the file', () => {
    const config = loadConfig(
      {
        env: {
          DUCKTIER_PG_URL: 'postgresql://u@db:5432/app',
          TEMPORAL_ADDRESS: 'temporal:7233',
          TEMPORAL_NAMESPACE: 'prod',
          DUCKTIER_FEDERATION: 'copy',
          DUCKTIER_DUCKDB_MOVE_MEMORY_LIMIT: '96MB',
        },
        values: { temporal: { namespace: 'dev' }, duckdb: { moveMemoryLimit: '1GB' } },
      },
      DEMO_DEFAULTS,
    );
    expect(config.postgres.url).toBe('postgresql://u@db:5432/app');
    expect(config.temporal).toMatchObject({ address: 'temporal:7233', namespace: 'prod' });
    expect(config.duckdb).toMatchObject({ federation: 'copy', moveMemoryLimit: '96MB' });
  });

  test('a lake defaults to a directory in the data directory, its catalog in a schema of the hot database', () => {
    const config = loadConfig(
      { env: { DUCKTIER_COLD_FORMAT: 'ducklake' }, values: { dataDir: '/srv/ducktier' } },
      DEMO_DEFAULTS,
    );
    expect(config.cold).toEqual({
      format: 'ducklake',
      dataPath: '/srv/ducktier/lake/',
      catalogSchema: 'ducktier_lake',
      s3: undefined,
    });
    // The same budget as a DuckDB file's: the lake writes and reads its Parquet in small row groups.
    expect(config.duckdb.moveMemoryLimit).toBe(defaultMoveMemoryLimit());
    // Every worker process takes moves from a lake: a run moves several partitions at once.
    expect(config.moves.concurrency).toBe(4);
  });

  test('a lake on S3 takes the usual AWS variables, an S3-compatible endpoint as DuckDB addresses it', () => {
    const env = {
      DUCKTIER_COLD_FORMAT: 'ducklake',
      DUCKTIER_COLD_DATA_PATH: 's3://cold-bucket/ducktier',
      AWS_ACCESS_KEY_ID: 'AKID',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9000',
    };
    const config = loadConfig({ env, values: { cold: { catalogSchema: 'lake_prod' } } }, DEMO_DEFAULTS);
    expect(config.cold).toEqual({
      format: 'ducklake',
      dataPath: 's3://cold-bucket/ducktier/',
      catalogSchema: 'lake_prod',
      s3: {
        endpoint: '127.0.0.1:9000',
        useSsl: false,
        region: 'eu-west-1',
        accessKeyId: 'AKID',
        secretAccessKey: 'secret',
        sessionToken: undefined,
      },
    });
    const aws = loadConfig(
      {
        env: { ...env, AWS_ENDPOINT_URL: '', DUCKTIER_COLD_DATA_PATH: '' },
        values: { cold: { dataPath: 's3://bkt/p/' } },
      },
      DEMO_DEFAULTS,
    );
    expect(aws.cold).toMatchObject({ dataPath: 's3://bkt/p/', s3: { endpoint: undefined, useSsl: true } });
  });

  test.each([
    [{ cold: { format: 'iceberg' } }, /cold\.format/],
    [{ cold: { dataPath: '/data/lake' } }, /cold\.dataPath: only a DuckLake has a data path/],
    [
      { cold: { format: 'ducklake', dataPath: 'gs://b/p' } },
      /cold\.dataPath: 'gs:\/\/b\/p' is neither a directory nor/,
    ],
    [
      { cold: { format: 'ducklake', dataPath: 's3://bucket/p' } },
      /cold\.s3\.accessKeyId: an s3:\/\/ data path needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
    ],
    [
      { cold: { format: 'ducklake', dataPath: 's3://bucket/p', s3: { accessKeyId: 'k' } } },
      /cold\.s3\.secretAccessKey: an s3:\/\/ data path needs/,
    ],
    [
      { cold: { format: 'ducklake', s3: { endpoint: 'localhost:9000' } } },
      /cold\.s3\.endpoint: expected http\(s\):\/\/host:port/,
    ],
    [
      { cold: { format: 'ducklake', catalogSchema: 'Lake-1' } },
      /cold\.catalogSchema: expected a lower-case PostgreSQL name/,
    ],
    [{ cold: { format: 'ducklake', bucket: 'x' } }, /cold.*bucket/],
    [
      { cold: { format: 'ducklake', dataPath: 's3://B/p' } },
      /cold\.dataPath: 's3:\/\/B\/p' is not s3:\/\/bucket\/prefix \(a bucket is 3-63/,
    ],
  ])('rejects the cold tier %j with a message naming the field', (values, message) => {
    expect(() => loadConfig({ env: {}, values }, DEMO_DEFAULTS)).toThrow(UsageError);
    expect(() => loadConfig({ env: {}, values }, DEMO_DEFAULTS)).toThrow(message);
  });

  test('the whole config can come from DUCKTIER_CONFIG_JSON, with the other variables still on top', () => {
    const config = loadConfig({
      env: {
        DUCKTIER_CONFIG_JSON: JSON.stringify({
          tables: [{ table: 'metrics', timeColumn: 'at' }],
          temporal: { taskQueue: 'q' },
        }),
        DUCKTIER_TASK_QUEUE: 'from-env',
      },
    });
    expect(config.tables.map((policy) => policy.table)).toEqual(['metrics']);
    expect(config.temporal.taskQueue).toBe('from-env');
  });

  test.each([
    ['{"tables": [', /^DUCKTIER_CONFIG_JSON is not valid JSON: /],
    ['[]', /^DUCKTIER_CONFIG_JSON must hold a JSON object$/],
    ['{"tables": [{"table": "e"}]}', /tables\.0\.timeColumn/],
  ])('rejects DUCKTIER_CONFIG_JSON=%s in one line', (json, message) => {
    expect(() => loadConfig({ env: { DUCKTIER_CONFIG_JSON: json } })).toThrow(message);
  });

  test('refuses a config file and DUCKTIER_CONFIG_JSON together', () => {
    expect(() => loadConfig({ env: { DUCKTIER_CONFIG_JSON: '{}', DUCKTIER_CONFIG: 'prod.json' } })).toThrow(
      'give the config either in prod.json or in DUCKTIER_CONFIG_JSON, not both',
    );
  });

  test.each([
    [
      { tables: [{ table: 'e', timeColumn: 't', hotWindow: '2 fortnights' }] },
      /tables\.0\.hotWindow: '2 fortnights' is not a duration/,
    ],
    [{ tables: [{ table: 'e', timeColumn: 't', partitionInterval: 'decade' }] }, /tables\.0\.partitionInterval/],
    [{ tables: [{ table: 'e' }] }, /tables\.0\.timeColumn/],
    [{ tables: [{ table: 'e', timeColumn: 't', colour: 'blue' }] }, /tables\.0.*colour/],
    [{ tables: [] }, /tables: at least one table policy is needed/],
    [
      {
        tables: [
          { table: 'e', timeColumn: 't' },
          { table: 'e', timeColumn: 't' },
        ],
      },
      /public\.e has two policies/,
    ],
    [
      { tables: [{ table: 'e', timeColumn: 't', coldTable: 'e_all' }] },
      /coldTable: 'e_all' is the name of one of the table's report views/,
    ],
    [{ duckdb: { federation: 'sometimes' } }, /duckdb\.federation/],
    [{ duckdb: { memoryLimit: 'lots' } }, /duckdb\.memoryLimit: expected a size such as 256MB/],
    [{ duckdb: { moveMemoryLimit: '1 heap' } }, /duckdb\.moveMemoryLimit: expected a size such as 256MB/],
    [{ moves: { verifyParallelWorkers: -1 } }, /moves\.verifyParallelWorkers/],
    [{ moves: { pace: 'slow' } }, /moves\.pace/],
    [
      { reports: [{ name: 'x', table: 'nope', title: 't', sql: 'SELECT 1' }] },
      /reports\.0\.table: no table policy for 'nope'/,
    ],
  ])('rejects %j with a message naming the field', (values, message) => {
    expect(() => loadConfig({ env: {}, values }, DEMO_DEFAULTS)).toThrow(UsageError);
    expect(() => loadConfig({ env: {}, values }, DEMO_DEFAULTS)).toThrow(message);
  });
});

describe('durations', () => {
  test.each([
    ['2d', 172_800_000],
    ['2 days', 172_800_000],
    ['36h', 129_600_000],
    ['90 minutes', 5_400_000],
    ['1 week', 604_800_000],
    ['1.5h', 5_400_000],
  ])('%s is %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  test.each(['', '2', 'd', 'two days', '2 fortnights', '-1d'])('%j is not a duration', (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );

  test('formats back to the largest whole unit', () => {
    expect(formatDuration(172_800_000)).toBe('2d');
    expect(formatDuration(129_600_000)).toBe('36h');
    expect(formatDuration(5_400_000)).toBe('90m');
  });
});
