import { describe, expect, test } from 'vitest';

import { eventToCsv } from '../../demo/event-generator.ts';
import { mapColumn } from '../../storage/duckdb/duck-type-mapping.ts';
import type { PgColumn } from '../../storage/postgres/pg-catalog.ts';

const column = (typeName: string, extra: Partial<PgColumn> = {}): PgColumn => ({
  name: 'c',
  origin: { relid: 1, attnum: 1 },
  declaredType: typeName,
  typeName,
  category: 'U',
  notNull: false,
  generated: false,
  ...extra,
});

describe('PostgreSQL to DuckDB type mapping', () => {
  test.each([
    ['int4', 'INTEGER'],
    ['int8', 'BIGINT'],
    ['int2', 'SMALLINT'],
    ['float8', 'DOUBLE'],
    ['float4', 'FLOAT'],
    ['bool', 'BOOLEAN'],
    ['text', 'VARCHAR'],
    ['varchar', 'VARCHAR'],
    ['bpchar', 'VARCHAR'],
    ['jsonb', 'JSON'],
    ['json', 'JSON'],
    ['uuid', 'UUID'],
    ['timestamp', 'TIMESTAMP'],
    ['timestamptz', 'TIMESTAMPTZ'],
    ['date', 'DATE'],
    ['interval', 'INTERVAL'],
    ['bytea', 'BLOB'],
  ])('%s becomes %s', (pg, duck) => {
    expect(mapColumn(column(pg))).toMatchObject({ duckType: duck, viaText: false });
  });

  test('numerics keep their precision: DECIMAL up to 38 digits, exact text beyond', () => {
    expect(mapColumn(column('numeric', { numeric: { precision: 12, scale: 2 } })).duckType).toBe('DECIMAL(12,2)');
    expect(mapColumn(column('numeric', { numeric: { precision: 50, scale: 5 } }))).toMatchObject({
      duckType: 'VARCHAR',
      viaText: true,
    });
    expect(mapColumn(column('numeric'))).toMatchObject({ duckType: 'VARCHAR', viaText: true });
  });

  test("arrays map element-wise; enums read as labels; unknown types keep PostgreSQL's text", () => {
    expect(mapColumn(column('_int4', { category: 'A', element: { typeName: 'int4', category: 'N' } })).duckType).toBe(
      'INTEGER[]',
    );
    expect(mapColumn(column('_text', { category: 'A', element: { typeName: 'text', category: 'S' } })).copyImport).toBe(
      'CAST(CAST(%s AS JSON) AS VARCHAR[])',
    );
    expect(mapColumn(column('mood', { category: 'E' }))).toMatchObject({ duckType: 'VARCHAR', viaText: false });
    expect(mapColumn(column('inet', { category: 'I' }))).toMatchObject({ duckType: 'VARCHAR', viaText: true });
  });
});

describe('demo event CSV', () => {
  test('quotes the JSON payload so commas, quotes and newlines survive', () => {
    const line = eventToCsv({
      id: 7,
      eventType: 'search',
      userId: 3,
      timestamp: new Date('2026-01-24T10:00:00.5Z'),
      data: { q: 'a "b", c\nd' },
    });
    expect(line).toBe('7,search,3,2026-01-24 10:00:00.500,"{""q"":""a \\""b\\"", c\\nd""}"\n');
  });
});
