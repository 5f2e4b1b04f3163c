import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

import { qualify } from '../../storage/sql-quoting.ts';
import { bestOf } from '../stats.ts';

export interface CopyLimit {
  rows: number;
  bytes: number;
  bestMs: number;
  allMs: number[];
  rowsPerSecond: number;
}

/**
 * The physical limit of getting a partition out of PostgreSQL: `COPY (SELECT * FROM partition) TO STDOUT (FORMAT
 * binary)` read by a client that throws every byte away. Best of `runs`, which favours the baseline.
 */
export async function measureCopyLimit(
  pool: pg.Pool,
  schema: string,
  partition: string,
  rows: number,
  runs: number,
): Promise<CopyLimit> {
  const { result: bytes, bestMs, allMs } = await bestOf(runs, () => copyToNothing(pool, schema, partition));
  return { rows, bytes, bestMs, allMs, rowsPerSecond: Math.round(rows / (bestMs / 1000)) };
}

async function copyToNothing(pool: pg.Pool, schema: string, partition: string): Promise<number> {
  const client = await pool.connect();
  try {
    let bytes = 0;
    const nothing = new Writable({
      write(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        done();
      },
    });
    await pipeline(
      client.query(copyTo(`COPY (SELECT * FROM ${qualify(schema, partition)}) TO STDOUT (FORMAT binary)`)),
      nothing,
    );
    return bytes;
  } finally {
    client.release();
  }
}
