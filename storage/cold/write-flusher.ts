import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Pushes a long write's files to disk a little at a time while it runs. Left to the kernel, a copy's hundreds of
 * megabytes stay in the page cache until the commit's fsync (or the kernel's writeback 30 s later) sends them in one
 * burst; on a shared disk that burst holds up PostgreSQL's WAL flushes, so every commit of the hot path waits for it
 * (a 5 M-row copy into a DuckDB file stalled a steady writer's inserts 116-141 ms at its commit; synced as it went,
 * the writer's longest wait in the whole copy was 28 ms). `stop` syncs once more, so a caller that commits afterwards
 * knows its files are durable first (a lake's Parquet files, which DuckDB does not sync, before the catalog names them).
 */
export class WriteFlusher {
  /** Aborted by stop, which must not wait out the pause between two syncs (a one-row copy would take it whole). */
  private readonly stopping = new AbortController();
  private failure: unknown;
  private readonly loop: Promise<void>;

  private constructor(
    private readonly files: () => Promise<string[]>,
    intervalMs: number,
  ) {
    const { signal } = this.stopping;
    this.loop = (async () => {
      while (!signal.aborted) {
        await sleep(intervalMs, undefined, { signal }).catch(() => {});
        if (!signal.aborted) await this.flush().catch((error: unknown) => (this.failure ??= error));
      }
    })();
  }

  /** Starts syncing `files()` (listed afresh each time) every `intervalMs`. */
  static start(files: () => Promise<string[]>, intervalMs = FLUSH_INTERVAL_MS): WriteFlusher {
    return new WriteFlusher(files, intervalMs);
  }

  /** Stops (again: no-op); with `flush`, syncs every file once more, failing if that or an earlier sync failed. */
  async stop(options: { flush: boolean }): Promise<void> {
    this.stopping.abort();
    await this.loop;
    if (!options.flush) return;
    if (this.failure !== undefined) throw this.failure;
    await this.flush();
  }

  private async flush(): Promise<void> {
    for (const file of await this.files()) await syncFile(file);
  }
}

export const FLUSH_INTERVAL_MS = 250;

/** fdatasync through a descriptor of our own: it writes out the file's dirty pages whoever wrote them. */
async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r').catch(unlessMissing(undefined)); // not written yet, or already replaced
  if (!handle) return;
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/**
 * The files under `root` created or changed at or after `sinceMs` (epoch milliseconds), for writers that only add
 * files (a lake's Parquet files are never rewritten): a new file changes its directory's time, so only the files of
 * directories changed since then are looked at, but every directory is, since a new file in an old directory changes
 * only that one. A file or directory removed meanwhile (upkeep) is skipped.
 */
export async function filesAddedSince(root: string, sinceMs: number): Promise<string[]> {
  const found: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(unlessMissing([]));
    const changed = ((await modifiedAt(dir)) ?? 0) >= sinceMs;
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await visit(full);
      else if (changed && entry.isFile() && ((await modifiedAt(full)) ?? 0) >= sinceMs) found.push(full);
    }
  };
  await visit(root);
  return found;
}

async function modifiedAt(file: string): Promise<number | undefined> {
  return (await stat(file).catch(unlessMissing(undefined)))?.mtimeMs;
}

/** A catch handler giving `fallback` for a path that does not exist (any more), rethrowing anything else. */
function unlessMissing<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw error;
  };
}
