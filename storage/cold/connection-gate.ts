import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

/** How often a holder waiting for the uses in flight to end looks again. */
const DRAIN_POLL_MS = 25;

/**
 * Counts the uses of a DuckDB instance in flight, and lets one holder have it alone: new uses wait while the holder
 * waits for those in flight to end and then does its work (a DuckDB file's compaction closes the instance and opens
 * the new file). A use started inside another use (a report calling the store) is part of it and never waits: the
 * outer use is already counted, and waiting for the holder would wait for itself.
 */
export class ConnectionGate {
  private inFlight = 0;
  private held: Promise<void> | undefined;
  private readonly outer = new AsyncLocalStorage<{ open: boolean }>();

  async use<T>(work: () => Promise<T>): Promise<T> {
    if (this.outer.getStore()?.open) return work();
    while (this.held) await this.held;
    this.inFlight++;
    const scope = { open: true };
    try {
      return await this.outer.run(scope, work);
    } finally {
      // Anything `work` left running past its end (a timer, a promise nobody awaited) is no longer inside this use.
      scope.open = false;
      this.inFlight--;
    }
  }

  /**
   * Holds off new uses, waits up to `drainMs` for those in flight to end, then runs `work` alone. Undefined (and `work`
   * not run) when they did not end in time: the uses that waited then go on, and the caller may try again later.
   */
  async alone<T>(drainMs: number, work: () => Promise<T>): Promise<{ result: T } | undefined> {
    if (this.outer.getStore()?.open) throw new Error('a use of the cold store cannot wait for itself to end');
    while (this.held) await this.held;
    let release!: () => void;
    this.held = new Promise((resolve) => (release = resolve));
    try {
      const deadline = Date.now() + drainMs;
      while (this.inFlight > 0) {
        if (Date.now() >= deadline) return undefined;
        await sleep(DRAIN_POLL_MS);
      }
      return { result: await work() };
    } finally {
      this.held = undefined;
      release();
    }
  }
}
