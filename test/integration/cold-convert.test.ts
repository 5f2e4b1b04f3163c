import { existsSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

import { type DucktierConfig, findPolicy, loadConfig } from '../../config/config.ts';
import { DEMO_DEFAULTS } from '../../demo/demo-config.ts';
import { coldColumnsFor } from '../../storage/cold/cold-columns.ts';
import { assertMovesMayStart } from '../../storage/postgres/pg-cold-store-record.ts';
import { inTransaction } from '../../storage/postgres/pg-pool.ts';
import { pgFingerprint, type RowFingerprint } from '../../storage/verification/row-fingerprint.ts';
import { ducktier, expectOneLineUsageError } from '../helpers/cli.ts';
import { expectColdEventsEqual, readColdEvents, readColdEventsFromFile } from '../helpers/cold-events.ts';
import { withColdStore } from '../helpers/cold-store.ts';
import { createTestDeployment, seedDemoData, testColdSettings, type TestDeployment } from '../helpers/deployment.ts';
import { allEvents, DAY, partitionOfDay, utcMidnightToday } from '../helpers/truth.ts';

const NAME = 'cold_convert';
const today = utcMidnightToday();
const generator = { rows: 3_000, days: 6, anchor: new Date(today + DAY / 2), seed: 23 };
const events = allEvents(generator);
// The lake the file is converted to: on the run's S3 server when it has one (DUCKTIER_TEST_COLD_STORE=lake-s3).
const lakeKind = inject('testColdStore') === 'lake-s3' ? 'lake-s3' : 'lake';
const lakeSettings = testColdSettings(NAME, lakeKind) as { catalogSchema: string; dataPath?: string };

/** The DuckDB file of a deployment configured with one. */
function coldFile(config: DucktierConfig): string {
  if (config.cold.format !== 'duckdb') throw new Error('expected a DuckDB file cold tier');
  return config.cold.path;
}

describe('ducktier cold convert', () => {
  let deployment: TestDeployment;
  let lakeConfig: DucktierConfig;
  /** The partitions the migration moves, with their fingerprints computed by PostgreSQL before they moved. */
  const truth = new Map<string, RowFingerprint>();
  let movedEvents: typeof events;
  let reportBefore: unknown;
  const fileEnv = { DUCKTIER_COLD_FORMAT: 'duckdb', DUCKTIER_COLD_DATA_PATH: '' };
  const lakeEnv = { DUCKTIER_COLD_FORMAT: 'ducklake', DUCKTIER_COLD_DATA_PATH: lakeSettings.dataPath ?? '' };
  const cli = (args: string[], env: NodeJS.ProcessEnv) => ducktier([...args, '--config', deployment.configFile], env);
  const summary = async (env: NodeJS.ProcessEnv) => {
    const result = await cli(['report', 'event_summary', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout).rows;
  };
  const conversions = async () =>
    (await deployment.pgPool.query(`SELECT id, state FROM ducktier.cold_conversions ORDER BY id`)).rows;
  const recordedStore = async () =>
    (await deployment.pgPool.query(`SELECT format, location FROM ducktier.cold_store`)).rows;
  /** What a move's prepare step checks in its transaction before it records the move's start. */
  const moveMayStart = (config: DucktierConfig) =>
    inTransaction(deployment.pgPool, (client) => assertMovesMayStart(client, config.temporal.taskQueue, config.cold));
  /** Every cold partition's fingerprint as the store computes it equals PostgreSQL's from before the move. */
  const expectFingerprintsEqualTruth = async (config: DucktierConfig) => {
    const policy = findPolicy(config, 'events');
    const columns = await coldColumnsFor(deployment.pgPool, policy);
    await withColdStore({ config, stack: deployment.stack }, async (store) => {
      for (const [partition, fingerprint] of truth)
        expect(
          await store.fingerprintPartition({
            schema: 'public',
            table: 'events',
            partition,
            coldTable: policy.coldTable,
            columns,
            timeColumn: policy.timeColumn,
          }),
        ).toEqual(fingerprint);
    });
  };

  beforeAll(async () => {
    const { dataPath: _lakeOnly, ...lakeExtras } = testColdSettings(NAME, lakeKind);
    // The file's config also names the lake's catalog schema and S3 settings, which convert takes for the new lake.
    deployment = await createTestDeployment(NAME, {
      coldStore: 'duckdb',
      extraConfig: { cold: { ...lakeExtras, format: 'duckdb' } },
    });
    lakeConfig = loadConfig({ file: deployment.configFile, env: lakeEnv }, DEMO_DEFAULTS);
    await seedDemoData(deployment, generator);
    const policy = findPolicy(deployment.config, 'events');
    const columns = await coldColumnsFor(deployment.pgPool, policy);
    for (let day = 3; day <= generator.days; day++) {
      const partition = partitionOfDay('events', new Date(today - day * DAY));
      truth.set(partition, await pgFingerprint(deployment.pgPool, 'public', partition, columns));
    }
    movedEvents = events.filter((e) => truth.has(partitionOfDay('events', e.timestamp)));
    expect(movedEvents.length).toBeGreaterThan(0);
  });
  afterAll(async () => deployment?.close());

  test('moves partitions into a DuckDB file; the report over events_all is the truth', async () => {
    const migrated = await cli(['migrate', '--wait', '--json'], fileEnv);
    expect(migrated.code, migrated.stderr).toBe(0);
    reportBefore = await summary(fileEnv);
    const total = (reportBefore as Array<{ event_count: number }>).reduce((sum, row) => sum + row.event_count, 0);
    expect(total).toBe(events.length);
    expect(await recordedStore()).toEqual([{ format: 'duckdb', location: coldFile(deployment.config) }]);
    await expectFingerprintsEqualTruth(deployment.config);
  });

  test('a config naming another cold store than the deployment stops at start, in one line naming both', async () => {
    const status = await cli(['status'], lakeEnv);
    expect(status.code).toBe(2);
    const line = status.stderr.trim().split('\n').at(-1)!;
    expect(line).toMatch(
      /this deployment's cold tier is DuckDB file .*cold\.duckdb, but the config names DuckLake .* \(catalog schema lake_cold_convert\): set cold.format back to 'duckdb', or move the cold rows with `ducktier cold convert --to ducklake`/,
    );
    const report = await cli(['report', 'event_summary'], lakeEnv);
    expect(report.code).toBe(2);
    expect(report.stderr.trim().split('\n').at(-1)).toBe(line);
  });

  test('bad input is one line and changes nothing', async () => {
    expectOneLineUsageError(
      await cli(['cold', 'convert', '--to', 'parquet'], fileEnv),
      /--to must be duckdb or ducklake, got 'parquet'/,
    );
    expectOneLineUsageError(await cli(['cold', 'convert'], fileEnv), /--to duckdb\|ducklake is required/);
    expectOneLineUsageError(
      await cli(['cold', 'convert', '--to', 'duckdb', '--data-path', '/tmp/x'], fileEnv),
      /--data-path names a lake's data path/,
    );
    expectOneLineUsageError(
      await cli(['cold', 'convert', '--to', 'duckdb'], fileEnv),
      /the cold tier is already DuckDB file .*cold\.duckdb; nothing to convert/,
    );
    expect(await conversions()).toEqual([]);
    const help = await cli(['cold', 'convert', '--help'], fileEnv);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/usage: ducktier cold convert\|maintain \[flags\][\s\S]*--to duckdb\|ducklake/);
  });

  test('converts to a lake: killed mid-way, it resumes and completes exactly; reports equal before and after', async () => {
    const args = [
      'cold',
      'convert',
      '--to',
      'ducklake',
      ...(lakeEnv.DUCKTIER_COLD_DATA_PATH ? ['--data-path', lakeEnv.DUCKTIER_COLD_DATA_PATH] : []),
    ];
    const killed = await ducktier([...args, '--config', deployment.configFile], {
      ...fileEnv,
      DUCKTIER_CONVERT_CRASH_AFTER: '2',
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stderr).toMatch(/\[1\/4\] public\.events_p\d+: [\d,]+ rows copied, fingerprints equal/);
    expect(await conversions()).toEqual([{ id: expect.anything(), state: 'copying' }]);
    // Until the switch the deployment's store is the file, and reports read it, exactly; a move may not start.
    expect((await recordedStore())[0].format).toBe('duckdb');
    expect(await summary(fileEnv)).toEqual(reportBefore);
    await expect(moveMayStart(deployment.config)).rejects.toThrow(
      /moves wait while `ducktier cold convert` copies the cold tier to ducklake/,
    );

    const resumed = await cli([...args, '--json'], fileEnv);
    expect(resumed.code, resumed.stderr).toBe(0);
    const result = JSON.parse(resumed.stdout);
    expect(result.resumed).toBe(true);
    expect(result.partitions.map((p: { partition: string }) => p.partition).sort()).toEqual([...truth.keys()].sort());
    expect(result.partitions.map((p: { alreadyDone: boolean }) => p.alreadyDone)).toEqual([true, false, false, false]);
    expect(result.rows).toBe(movedEvents.length);
    expect(result.configHint).toMatch(/set cold.format to 'ducklake'/);
    const fileRetired = `${coldFile(deployment.config)}.retired-${result.conversionId}`;
    expect(result.retired).toBe(fileRetired);
    expect(existsSync(fileRetired)).toBe(true);
    expect(await conversions()).toEqual([{ id: String(result.conversionId), state: 'retired' }]);

    // The lake holds exactly the moved rows, value for value, and each partition's fingerprint is PostgreSQL's.
    expectColdEventsEqual(
      await withColdStore({ config: lakeConfig, stack: deployment.stack }, readColdEvents),
      movedEvents,
    );
    await expectFingerprintsEqualTruth(lakeConfig);
    expect(await summary(lakeEnv)).toEqual(reportBefore);
    // The old config now names a store the deployment left: its moves are refused, the new one's may start.
    await expect(moveMayStart(deployment.config)).rejects.toThrow(/this deployment's cold tier is DuckLake/);
    await moveMayStart(lakeConfig);
    const stale = await cli(['status'], fileEnv);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/this deployment's cold tier is DuckLake .*, but the config names DuckDB file/);
  });

  test('converts back to a DuckDB file, exactly; the lake is retired', async () => {
    const back = await cli(['cold', 'convert', '--to', 'duckdb', '--json'], lakeEnv);
    expect(back.code, back.stderr).toBe(0);
    const result = JSON.parse(back.stdout);
    expect(result.resumed).toBe(false);
    expect(result.rows).toBe(movedEvents.length);
    expect(result.retired).toMatch(/the lake's tables events_historical in catalog schema lake_cold_convert \(dropped/);
    expect(await summary(fileEnv)).toEqual(reportBefore);
    expectColdEventsEqual(await readColdEventsFromFile(coldFile(deployment.config)), movedEvents);
    await expectFingerprintsEqualTruth(deployment.config);
    const dropped = await deployment.pgPool.query(
      `SELECT count(*)::int AS n FROM ${lakeSettings.catalogSchema}.ducklake_table WHERE table_name = 'events_historical' AND end_snapshot IS NULL`,
    );
    expect(dropped.rows[0].n).toBe(0);
  });
});
