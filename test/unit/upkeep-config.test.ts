import { describe, expect, test } from 'vitest';

import { loadConfig } from '../../config/config.ts';
import { parseRetention, retentionCutoff } from '../../config/retention.ts';
import { UsageError } from '../../errors/usage-error.ts';

const table = { table: 'events', timeColumn: 'timestamp' };
const load = (values: Record<string, unknown>) => loadConfig({ env: {}, values: { tables: [table], ...values } });
const refusal = (values: Record<string, unknown>) => {
  try {
    load(values);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('the config was accepted');
};

describe('the cold tier upkeep config', () => {
  test('defaults: a daily schedule at 03:30 UTC, snapshots kept 7 days, orphans removed after a day, a DuckDB file rewritten once a quarter of it is free, every lake file with a deleted row rewritten', () => {
    expect(load({}).maintenance).toEqual({
      scheduleId: 'ducktier-cold-maintenance',
      cron: '30 3 * * *',
      timezone: 'UTC',
      snapshotRetention: 7 * 86_400_000,
      orphanAge: 86_400_000,
      compactFreeShare: 0.25,
      rewriteDeletedShare: 0,
    });
  });

  test('the rewrite shares are numbers from 0 to 1, a wrong one is one line naming it', () => {
    expect(load({ maintenance: { compactFreeShare: 0.5, rewriteDeletedShare: 1 } }).maintenance).toMatchObject({
      compactFreeShare: 0.5,
      rewriteDeletedShare: 1,
    });
    expect(refusal({ maintenance: { compactFreeShare: 1.5 } })).toBe(
      'invalid config: maintenance.compactFreeShare: 1.5 is above 1 (write a share from 0 to 1, e.g. 0.25)',
    );
    expect(refusal({ maintenance: { rewriteDeletedShare: -0.1 } })).toBe(
      'invalid config: maintenance.rewriteDeletedShare: -0.1 is below 0 (write a share from 0 to 1, e.g. 0.25)',
    );
    expect(refusal({ maintenance: { compactFreeShare: '25%' } })).toBe(
      'invalid config: maintenance.compactFreeShare: "25%" is not a number from 0 to 1 (write e.g. 0.25)',
    );
  });

  test('the snapshot retention must be longer than the longest a report may run, in one line naming the field', () => {
    const message = refusal({ maintenance: { snapshotRetention: '20 minutes' } });
    expect(message).toBe(
      "invalid config: maintenance.snapshotRetention: '20 minutes' is not longer than the longest a report may run (30m); write e.g. '1h' or more",
    );
    expect(message).not.toContain('\n');
    expect(refusal({ maintenance: { snapshotRetention: '30m' } })).toContain('not longer than the longest a report');
    expect(load({ maintenance: { snapshotRetention: '31m' } }).maintenance.snapshotRetention).toBe(31 * 60_000);
    expect(refusal({ maintenance: { snapshotRetention: 'soon' } })).toContain(
      "maintenance.snapshotRetention: 'soon' is not a duration",
    );
  });

  test('orphaned files must be older than the longest a copy may run', () => {
    expect(refusal({ maintenance: { orphanAge: '1h' } })).toBe(
      "invalid config: maintenance.orphanAge: '1h' is not longer than the longest a copy may run (2h); write e.g. '4h' or more",
    );
    expect(load({ maintenance: { orphanAge: '3h' } }).maintenance.orphanAge).toBe(3 * 3_600_000);
  });

  test('an unknown maintenance field is refused', () => {
    expect(refusal({ maintenance: { retention: '7d' } })).toContain('maintenance');
  });

  test('coldRetention takes days, weeks, months and years; coldArchive a directory or an s3:// prefix', () => {
    const [policy] = load({
      tables: [{ ...table, coldRetention: '13 months', coldArchive: 's3://archive-bucket/events' }],
      cold: { s3: { accessKeyId: 'AKID', secretAccessKey: 'secret' } },
    }).tables;
    expect(policy).toMatchObject({ coldRetention: { months: 13 }, coldArchive: 's3://archive-bucket/events/' });
    expect(load({ tables: [{ ...table, coldRetention: '400d' }] }).tables[0]!.coldRetention).toEqual({
      ms: 400 * 86_400_000,
    });
    expect(load({ tables: [{ ...table, coldRetention: '2 years' }] }).tables[0]!.coldRetention).toEqual({ months: 24 });
    expect(load({ tables: [table] }).tables[0]!.coldRetention).toBeUndefined();
  });

  test('a wrong coldRetention or coldArchive is one line naming it', () => {
    expect(refusal({ tables: [{ ...table, coldRetention: 'forever' }] })).toBe(
      "invalid config: tables.0.coldRetention: 'forever' is not a retention (write e.g. '400d', '13 months', '2 years')",
    );
    expect(refusal({ tables: [{ ...table, coldRetention: '0 months' }] })).toContain('tables.0.coldRetention');
    expect(refusal({ tables: [{ ...table, coldRetention: '1d' }] })).toContain(
      'tables.0.coldRetention: must be longer than the hot window (2d)',
    );
    expect(refusal({ tables: [{ ...table, coldArchive: '/archive' }] })).toContain(
      'tables.0.coldArchive: coldArchive is only used by coldRetention; set coldRetention too',
    );
    expect(refusal({ tables: [{ ...table, coldRetention: '400d', coldArchive: 'gs://bucket/x' }] })).toContain(
      "'gs://bucket/x' is neither a directory nor s3://bucket/prefix",
    );
  });

  test('an s3:// coldArchive takes the S3 settings a lake takes: the AWS_* variables, or cold.s3.*', () => {
    const archived = [{ ...table, coldRetention: '400d', coldArchive: 's3://archive-bucket/events' }];
    const env = {
      AWS_ACCESS_KEY_ID: 'AKID',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9000',
    };
    // The settings a lake on S3 gets from the same environment, as DuckDB takes them.
    const { s3 } = loadConfig({
      env: { ...env, DUCKTIER_COLD_FORMAT: 'ducklake', DUCKTIER_COLD_DATA_PATH: 's3://cold-bucket/lake' },
      values: { tables: [table] },
    }).cold;
    expect(s3).toMatchObject({ endpoint: '127.0.0.1:9000', useSsl: false, region: 'eu-west-1', accessKeyId: 'AKID' });
    const file = loadConfig({ env, values: { tables: archived } });
    expect(file.cold).toEqual({ format: 'duckdb', path: expect.stringMatching(/cold\.duckdb$/), s3 });
    const given = loadConfig({
      env: {},
      values: {
        tables: archived,
        cold: { s3: { accessKeyId: 'AKID', secretAccessKey: 'secret', region: 'eu-west-1' } },
      },
    });
    expect(given.cold.s3).toMatchObject({
      accessKeyId: 'AKID',
      secretAccessKey: 'secret',
      endpoint: undefined,
      useSsl: true,
    });
    // A lake on a directory gets them too, for its archives; a directory archive needs none.
    const lake = loadConfig({ env, values: { tables: archived, cold: { format: 'ducklake' } } });
    expect(lake.cold.s3).toEqual(s3);
    expect(
      loadConfig({ env, values: { tables: [{ ...table, coldRetention: '400d', coldArchive: '/archive' }] } }).cold.s3,
    ).toBeUndefined();
  });

  test('an s3:// coldArchive without S3 keys is refused in one line naming it and what is missing', () => {
    const archived = (name: string) => ({
      ...table,
      table: name,
      coldRetention: '400d',
      coldArchive: `s3://archive-bucket/${name}`,
    });
    const message = refusal({ tables: [archived('events')] });
    expect(message).toBe(
      "invalid config: tables.0.coldArchive: 's3://archive-bucket/events/' is on S3, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or cold.s3.accessKeyId and cold.s3.secretAccessKey) are not set",
    );
    expect(message).not.toContain('\n');
    expect(
      refusal({
        tables: [{ ...table, coldRetention: '400d' }, archived('clicks')],
        cold: { s3: { accessKeyId: 'AKID' } },
      }),
    ).toBe(
      "invalid config: tables.1.coldArchive: 's3://archive-bucket/clicks/' is on S3, but AWS_SECRET_ACCESS_KEY (or cold.s3.secretAccessKey) is not set",
    );
    expect(() =>
      loadConfig({ env: { AWS_SECRET_ACCESS_KEY: 'secret' }, values: { tables: [archived('events')] } }),
    ).toThrow(
      "tables.0.coldArchive: 's3://archive-bucket/events/' is on S3, but AWS_ACCESS_KEY_ID (or cold.s3.accessKeyId) is not set",
    );
  });

  test('parses retentions and computes cutoffs by the calendar', () => {
    expect(parseRetention('13 months')).toEqual({ months: 13 });
    expect(parseRetention('1 mo')).toEqual({ months: 1 });
    expect(parseRetention('36h')).toEqual({ ms: 36 * 3_600_000 });
    expect(parseRetention('-1d')).toBeUndefined();
    const now = new Date('2026-03-31T12:00:00Z');
    expect(retentionCutoff({ months: 1 }, now).toISOString()).toBe('2026-02-28T12:00:00.000Z');
    expect(retentionCutoff({ months: 13 }, now).toISOString()).toBe('2025-02-28T12:00:00.000Z');
    expect(retentionCutoff({ months: 12 }, new Date('2024-02-29T00:00:00Z')).toISOString()).toBe(
      '2023-02-28T00:00:00.000Z',
    );
    expect(retentionCutoff({ ms: 400 * 86_400_000 }, now).toISOString()).toBe('2025-02-24T12:00:00.000Z');
  });
});
