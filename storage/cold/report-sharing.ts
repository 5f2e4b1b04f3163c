import { firstLine } from '../../errors/first-line.ts';
import { isOutOfMemory } from './memory-budget.ts';

/**
 * A lake's catalog transaction that another report's failure aborted: a report running beside one that ran out of
 * memory can fail so (DuckLake: "Failed to get data file list from DuckLake: Current transaction is aborted").
 */
const ABORTED_BY_ANOTHER = /Current transaction is aborted/;

/**
 * Whether a report that failed beside others should run again alone: it ran out of memory, or its lake catalog
 * transaction was aborted by another report's failure. Alone, either fails for good.
 */
export function failedForSharing(error: unknown): boolean {
  return isOutOfMemory(error) || (error instanceof Error && ABORTED_BY_ANOTHER.test(firstLine(error)));
}

/**
 * Reports share their DuckDB instance and its one memory limit. Most of a report's memory can spill to disk, but some
 * cannot (a COUNT(DISTINCT)'s hash tables, for one), so reports that each fit the limit alone may not fit side by side.
 * A report that ran out of memory while another report ran beside it therefore runs again alone: it waits for the
 * reports in flight to end, and reports arriving after it wait for it. Only a report that runs out of memory alone
 * fails. Admission is first come, first served, so a report waiting to run alone is not overtaken for ever.
 */
export class ReportSharing {
  private shared = 0;
  private alone = false;
  /** Reports in flight, each marked once another report ran beside it. */
  private readonly running = new Set<{ beside: boolean }>();
  private readonly waiting: Array<{ alone: boolean; admit: () => void }> = [];

  /**
   * Runs `attempt` beside other reports, and once more alone if it failed for sharing (`failedForSharing`) beside one;
   * `runningAlone` hears of each such failure before the second run waits its turn.
   */
  async run<T>(
    attempt: () => Promise<T>,
    failedForSharing: (error: unknown) => boolean,
    runningAlone?: (error: unknown) => void,
  ): Promise<T> {
    await this.enter(false);
    const run = { beside: this.running.size > 0 };
    for (const other of this.running) other.beside = true;
    this.running.add(run);
    try {
      return await attempt();
    } catch (error) {
      if (!run.beside || !failedForSharing(error)) throw error;
      runningAlone?.(error);
    } finally {
      this.running.delete(run);
      this.leave(false);
    }
    await this.enter(true);
    try {
      return await attempt();
    } finally {
      this.leave(true);
    }
  }

  private enter(alone: boolean): Promise<void> {
    if (this.waiting.length === 0 && this.mayStart(alone)) {
      this.take(alone);
      return Promise.resolve();
    }
    return new Promise((admit) => this.waiting.push({ alone, admit }));
  }

  private leave(alone: boolean): void {
    if (alone) this.alone = false;
    else this.shared--;
    while (this.waiting.length > 0 && this.mayStart(this.waiting[0]!.alone)) {
      const next = this.waiting.shift()!;
      this.take(next.alone);
      next.admit();
    }
  }

  private mayStart(alone: boolean): boolean {
    return !this.alone && (!alone || this.shared === 0);
  }

  private take(alone: boolean): void {
    if (alone) this.alone = true;
    else this.shared++;
  }
}
