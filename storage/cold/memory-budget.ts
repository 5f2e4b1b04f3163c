import type { DuckDBConnection } from '@duckdb/node-api';

import { memoryBytes } from '../../config/memory-size.ts';
import { firstLine } from '../../errors/first-line.ts';
import { quoteLiteral } from '../sql-quoting.ts';

/** What a use of the cold store's DuckDB instance is for: moves and upkeep, or a report. */
export type DuckWork = 'move' | 'report';

/** DuckDB memory limits per kind of work (DuckDB's size strings, such as 128MB). */
export interface MemoryLimits {
  move: string;
  report: string;
}

/** DuckDB running out of memory (the first line of its error). */
export const OUT_OF_MEMORY = /^Out of Memory Error/;

export function isOutOfMemory(error: unknown): boolean {
  return error instanceof Error && OUT_OF_MEMORY.test(firstLine(error));
}

/** DuckDB refusing a lower limit because it cannot free enough memory right now (work in flight holds it). */
const LIMIT_NOT_REACHABLE = /Failed to change memory limit/;

/**
 * DuckDB has one memory limit per instance, and its buffer pool stays filled up to it (the blocks a copy has just
 * written stay cached). A move streams and needs little; a report's hash tables need much more (past the limit they
 * spill, and some cannot). So the instance runs at the moves' limit while no report runs and at the reports' limit
 * (or the moves', if larger) while any does, moves in flight then included: a worker that only moves stays small, and
 * a report gets its room.
 *
 * Changes run one at a time, each setting the limit the work running at that moment needs, so concurrent starts and
 * ends settle on the right one. Lowering makes DuckDB evict cached blocks; when it cannot free enough at once (a
 * move's work in flight), the higher limit stays, and the end of the next use tries again.
 */
export class MemoryBudget {
  private reports = 0;
  private applied: string;
  private change: Promise<void> = Promise.resolve();

  /** `connect` opens a connection on the instance in use; `opened` is the limit that instance was opened with. */
  constructor(
    private limits: MemoryLimits,
    opened: string,
    private readonly connect: () => Promise<DuckDBConnection>,
  ) {
    this.applied = opened;
  }

  /**
   * The limit the work running now needs; an instance opened while it runs starts with it (see replaced). While a
   * report runs, moves beside it keep at least their own limit.
   */
  get wanted(): string {
    const { move, report } = this.limits;
    if (this.reports === 0) return move;
    return memoryBytes(report) >= memoryBytes(move) ? report : move;
  }

  /** The instance was replaced by one opened with `limit`. */
  replaced(limit: string): void {
    this.applied = limit;
  }

  /** Other limits from now on. */
  setLimits(limits: MemoryLimits): Promise<void> {
    this.limits = limits;
    return this.settle();
  }

  /** Runs `work` with the limit its kind needs in force, and settles the limit again when it ends. */
  async during<T>(kind: DuckWork, work: () => Promise<T>): Promise<T> {
    if (kind === 'report') {
      this.reports++;
      await this.settle();
    }
    try {
      return await work();
    } finally {
      if (kind === 'report') this.reports--;
      await this.settle();
    }
  }

  /** Queues a change to the limit wanted when it runs. Never fails: a limit not set now is tried again later. */
  private settle(): Promise<void> {
    this.change = this.change.then(async () => {
      const wanted = this.wanted;
      if (wanted === this.applied) return;
      try {
        const connection = await this.connect();
        try {
          await connection.run(`SET memory_limit = ${quoteLiteral(wanted)}`);
          this.applied = wanted;
        } finally {
          connection.closeSync();
        }
      } catch (error) {
        const message = firstLine(error);
        if (!LIMIT_NOT_REACHABLE.test(message))
          console.warn(`ducktier: DuckDB's memory limit not set to ${wanted}: ${message}`);
      }
    });
    return this.change;
  }
}
