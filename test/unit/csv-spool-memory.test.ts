import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { mapColumn } from '../../storage/duckdb/duck-type-mapping.ts';
import { csvSelect } from '../../storage/duckdb/pg-transport.ts';
import type { PgColumn } from '../../storage/postgres/pg-catalog.ts';

const column = (name: string, typeName: string, attnum: number): PgColumn => ({
  name,
  origin: { relid: 1, attnum },
  declaredType: typeName,
  typeName,
  category: 'U',
  notNull: false,
  generated: false,
});
const COLUMNS = [
  column('id', 'int8', 1),
  column('event_type', 'text', 2),
  column('user_id', 'int4', 3),
  column('seen_at', 'timestamptz', 4),
  column('data', 'jsonb', 5),
].map(mapColumn);
/** About as many rows as 16,384 pages of the demo table hold: four of the gentle pace's spools (4,096 pages each). */
const ROWS = 420_000;

describe('a gentle copy loads each spool on one thread within a move’s memory limit', () => {
  let dir: string;
  let spool: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ducktier-csv-'));
    spool = path.join(dir, 'range.csv');
    // The spool as PostgreSQL's COPY (FORMAT csv) writes it: a JSON payload of ~250 bytes per row.
    const generator = await DuckDBInstance.create(':memory:');
    const connection = await generator.connect();
    await connection.run(
      `COPY (SELECT i, 'event' || (i % 7), i % 50000, '2026-11-25 00:00:00+00'::TIMESTAMPTZ + to_microseconds(i),
        '{"page": "/p/' || (i % 1000) || '", "session": "' || md5(i::text) || '", "ua": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "ref": "https://example.com/' || (i % 313) || '"}'
        FROM range(${ROWS}) r(i)) TO '${spool}' (FORMAT csv, HEADER false)`,
    );
    connection.closeSync();
    generator.closeSync();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // 840,000 rows read on one thread: a few seconds alone, past vitest's 5 s default on a busy machine.
  test('two ranges into one transaction at 128MB; the rows arrive whole', { timeout: 60_000 }, async () => {
    const instance = await DuckDBInstance.create(path.join(dir, 'cold.duckdb'), { memory_limit: '128MB' });
    try {
      const connection = await instance.connect();
      await connection.run(
        `CREATE TABLE cold (id BIGINT, event_type VARCHAR, user_id INTEGER, seen_at TIMESTAMPTZ, data JSON, p VARCHAR)`,
      );
      await connection.run('BEGIN');
      for (const range of ['a', 'b'])
        await connection.run(`INSERT INTO cold ${csvSelect(spool, COLUMNS, `, '${range}' AS p`, { parallel: false })}`);
      await connection.run('COMMIT');
      const rows = (
        await connection.runAndReadAll(
          `SELECT count(*)::INT AS n, count(DISTINCT id)::INT AS ids, sum(user_id)::BIGINT AS users, count(DISTINCT json_extract_string(data, '$.ref'))::INT AS refs FROM cold`,
        )
      ).getRowObjectsJson();
      expect(rows).toEqual([{ n: 2 * ROWS, ids: ROWS, users: String(2 * sumOfUserIds()), refs: 313 }]);
      connection.closeSync();
    } finally {
      instance.closeSync();
    }
  });
});

function sumOfUserIds(): number {
  let sum = 0;
  for (let i = 0; i < ROWS; i++) sum += i % 50000;
  return sum;
}
