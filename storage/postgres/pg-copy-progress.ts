import type pg from 'pg';

import { qualify } from '../sql-quoting.ts';

/**
 * How many rows PostgreSQL has sent so far to the COPY statements reading one relation: DuckDB's postgres extension
 * reads a table as a series of parallel `COPY (SELECT ... WHERE ctid BETWEEN ...) TO STDOUT` range reads, and the CSV
 * path as a series of page-range COPYs on one session; pg_stat_progress_copy counts each statement's rows while it runs. Ranges follow each other on a
 * session, so a finished range's last count is carried into the total. Advisory: rows sent after the last poll of a
 * range are missed, so it can only undercount.
 */
export class CopyProgress {
  private finished = 0;
  private readonly running = new Map<number, { query: string; tuples: number }>();
  private readonly relation: string;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
    table: string,
  ) {
    this.relation = qualify(schema, table);
  }

  async rowsSent(): Promise<number> {
    const { rows } = await this.pool.query<{ pid: number; query: string; tuples: string }>(
      `SELECT p.pid, a.query, p.tuples_processed AS tuples
         FROM pg_stat_progress_copy p JOIN pg_stat_activity a ON a.pid = p.pid
        WHERE p.command = 'COPY TO' AND strpos(a.query, $1) > 0`,
      [this.relation],
    );
    const live = new Set<number>();
    for (const row of rows) {
      live.add(row.pid);
      const before = this.running.get(row.pid);
      if (before && before.query !== row.query) this.finished += before.tuples;
      this.running.set(row.pid, { query: row.query, tuples: Number(row.tuples) });
    }
    for (const [pid, range] of this.running) {
      if (live.has(pid)) continue;
      this.finished += range.tuples;
      this.running.delete(pid);
    }
    return this.finished + [...this.running.values()].reduce((sum, range) => sum + range.tuples, 0);
  }

  /** Calls `report` with the running total every `everyMs` until the returned function is called. */
  watch(report: (rowsSent: number) => void, everyMs = 1_000): () => void {
    const timer = setInterval(() => {
      // Progress is advisory; a failed read must not disturb the copy.
      this.rowsSent().then(report, () => {});
    }, everyMs);
    return () => clearInterval(timer);
  }
}
