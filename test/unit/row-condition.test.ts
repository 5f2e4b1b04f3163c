import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { UsageError } from '../../errors/usage-error.ts';
import { parseRowCondition } from '../../storage/federation/row-condition.ts';

const COLUMNS = ['id', 'event_type', 'user_id', 'timestamp', 'data', 'Mixed Case'];

describe('row conditions (what an erasure may say, rendered for each engine)', () => {
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    connection = await instance.connect();
  });
  afterAll(() => {
    connection.closeSync();
    instance.closeSync();
  });
  const parse = (text: string, params: Record<string, string> = {}) =>
    parseRowCondition(connection, text, COLUMNS, params, 'erase --where');

  test('columns, constants and parameters in both dialects; parameters bound in the order PostgreSQL numbers them', async () => {
    const condition = await parse(
      `user_id = $user AND "timestamp" < '2026-01-01' AND event_type IN ('a', $kind) AND id BETWEEN -3 AND 2.50 OR "Mixed Case" IS NULL AND NOT (user_id = $user OR id = 1)`,
      { kind: 'search', user: '42' },
    );
    expect(condition.postgres).toEqual({
      sql: `((("user_id" = $1) AND ("timestamp" < '2026-01-01') AND ("event_type" IN ('a', $2)) AND ("id" BETWEEN -3 AND 2.50)) OR (("Mixed Case" IS NULL) AND (NOT (("user_id" = $1) OR ("id" = 1)))))`,
      values: ['42', 'search'],
    });
    expect(condition.duckdb).toEqual({
      sql: `((("user_id" = $user) AND ("timestamp" < '2026-01-01') AND ("event_type" IN ('a', $kind)) AND ("id" BETWEEN -3 AND 2.50)) OR (("Mixed Case" IS NULL) AND (NOT (("user_id" = $user) OR ("id" = 1)))))`,
      params: { user: '42', kind: 'search' },
    });
  });

  test('LIKE, ILIKE, lower(), IS DISTINCT FROM, casts and quotes in strings', async () => {
    const condition = await parse(
      `lower(event_type) NOT LIKE 'x%' AND event_type ILIKE 'it''s' AND user_id IS DISTINCT FROM NULL AND CAST("timestamp" AS DATE) = DATE '2026-01-02'`,
    );
    expect(condition.postgres.sql).toBe(
      `((lower("event_type") NOT LIKE 'x%') AND ("event_type" ILIKE 'it''s') AND ("user_id" IS DISTINCT FROM NULL) AND (CAST("timestamp" AS date) = CAST('2026-01-02' AS date)))`,
    );
    expect(condition.duckdb.sql).toBe(
      `((lower("event_type") NOT LIKE 'x%') AND ("event_type" ILIKE 'it''s') AND ("user_id" IS DISTINCT FROM NULL) AND (CAST("timestamp" AS DATE) = CAST('2026-01-02' AS DATE)))`,
    );
  });

  test('an unquoted name matches its column whatever its case', async () => {
    expect((await parse('USER_ID = 1')).postgres.sql).toBe('("user_id" = 1)');
  });

  test.each([
    ['1 = 1; DROP TABLE events', /must be one condition over the table's columns/],
    ['user_id = 1 FROM pg.public.events', /must be one condition over the table's columns/],
    ['user_id = (SELECT 1)', /may not use subquery/],
    ['secret = 1', /'secret' is not a column of the table \(columns: id, event_type/],
    ['e.user_id = 1', /may not use the qualified name e.user_id/],
    ['user_id + 1 = 2', /may not use the operator \+; a condition may use columns, constants/],
    ["data->>'email' = 'x'", /may not use the operator ->>/],
    ['now() > "timestamp"', /may not use the function now\(\)/],
    ['user_id = $who', /uses \$who, which no --param gives \(none given\)/],
    ['user_id = 12345678901234567890', /write large numbers as strings/],
  ])('refuses %s', async (text, message) => {
    const failure = await parse(text).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UsageError);
    expect((failure as Error).message).toMatch(message);
    expect((failure as Error).message.startsWith('erase --where: ')).toBe(true);
  });

  test('refuses a parameter the condition does not use', async () => {
    await expect(parse('user_id = $user', { user: '1', other: '2' })).rejects.toThrow(
      'erase --where: --param other is not used by the condition',
    );
  });
});
