import type pg from 'pg';

import { qualify } from '../sql-quoting.ts';
import { inTransaction } from './pg-pool.ts';

/**
 * Heap pages per range: 128 MB of an 8 kB-page table. A range's CSV is about as large as its pages, more where values
 * are kept out of line (TOAST).
 */
export const PAGES_PER_RANGE = 16_384;

/**
 * Runs `read` once per range of the table's heap pages (a `ctid` condition), in page order, all in one REPEATABLE READ
 * snapshot: every row the snapshot sees has exactly one ctid, so it is in exactly one range. The last range is open
 * at its end, so rows in pages added since the table's size was read are not missed either. The transaction waits
 * idle while the caller works between ranges, so a server's idle_in_transaction_session_timeout is lifted for it.
 */
export async function forEachPageRange(
  pgPool: pg.Pool,
  schema: string,
  table: string,
  read: (client: pg.ClientBase, ctidCondition: string) => Promise<void>,
  pagesPerRange = PAGES_PER_RANGE,
): Promise<void> {
  await inTransaction(
    pgPool,
    async (client) => {
      await client.query('SET LOCAL idle_in_transaction_session_timeout = 0');
      const { rows } = await client.query<{ pages: string }>(
        `SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int AS pages`,
        [qualify(schema, table)],
      );
      for (const condition of pageRangeConditions(Number(rows[0]!.pages), pagesPerRange)) await read(client, condition);
    },
    'snapshot',
  );
}

/** The `ctid` conditions covering every page from 0, `pagesPerRange` at a time, the last one open-ended. */
export function pageRangeConditions(pages: number, pagesPerRange: number): string[] {
  if (!(pagesPerRange >= 1)) throw new Error(`pages per range must be at least 1, not ${pagesPerRange}`);
  const conditions: string[] = [];
  for (let first = 0; ; first += pagesPerRange) {
    const next = first + pagesPerRange;
    if (next >= pages) {
      conditions.push(`ctid >= '(${first},0)'::tid`);
      return conditions;
    }
    conditions.push(`ctid >= '(${first},0)'::tid AND ctid < '(${next},0)'::tid`);
  }
}
