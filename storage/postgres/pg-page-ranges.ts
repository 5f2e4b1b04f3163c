import type pg from 'pg';

import { qualify } from '../sql-quoting.ts';
import { inTransaction } from './pg-pool.ts';

/**
 * Heap pages per range: 128 MB of an 8 kB-page table whose rows are kept in line, whose CSV is about as large as its
 * pages. Values kept out of line (TOAST) take no room in the heap but are written out in full, so a table with a TOAST
 * table reads fewer pages per range, in proportion (pagesForRenderedRows).
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
      const { rows } = await client.query<{ heap: string; toast: string; block: number }>(
        `SELECT pg_relation_size(c.oid) AS heap, coalesce(pg_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast,
                current_setting('block_size')::int AS block
           FROM pg_class c WHERE c.oid = $1::regclass`,
        [qualify(schema, table)],
      );
      const { heap, toast, block } = rows[0]!;
      const pages = Number(heap) / block;
      const perRange = pagesForRenderedRows(pagesPerRange, Number(heap), Number(toast));
      for (const condition of pageRangeConditions(pages, perRange)) await read(client, condition);
    },
    'snapshot',
  );
}

/**
 * Heap pages per range for a table whose TOAST table holds `toastBytes` beside its `heapBytes`: `pagesPerRange` scaled
 * by the heap's share, so a range renders to about as much as `pagesPerRange` pages of in-line rows (at least 1).
 */
export function pagesForRenderedRows(pagesPerRange: number, heapBytes: number, toastBytes: number): number {
  if (!(heapBytes > 0) || !(toastBytes > 0)) return pagesPerRange;
  return Math.max(1, Math.floor((pagesPerRange * heapBytes) / (heapBytes + toastBytes)));
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
