import { fdatasync as fdatasyncCallback } from 'node:fs';
import { open, readdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const fdatasync = promisify(fdatasyncCallback);

/** One pass of syncing a write's files to disk; `final` is the pass just before the write commits. */
export type WriteSync = (final: boolean) => Promise<void>;

/**
 * Pushes a long write's files to disk a little at a time while it runs. Left to the kernel, a copy's hundreds of
 * megabytes stay in the page cache until the commit's fsync (or the kernel's writeback 30 s later) sends them in one
 * burst; on a shared disk that burst holds up PostgreSQL's WAL flushes, so every commit of the hot path waits for it
 * (a 5 M-row copy into a DuckDB file stalled a steady writer's inserts 116-141 ms at its commit; synced as it went,
 * the writer's longest wait in the whole copy was 28 ms). `stop` syncs once more, so a caller that commits afterwards
 * knows its files are durable first (a lake's Parquet files, which DuckDB does not sync, before the catalog names them).
 */
export class WriteFlusher {
  /** Aborted by stop, which must not wait out the pause between two passes (a one-row copy would take it whole). */
  private readonly stopping = new AbortController();
  private failure: unknown;
  private readonly loop: Promise<void>;

  private constructor(
    private readonly sync: WriteSync,
    intervalMs: number,
  ) {
    const { signal } = this.stopping;
    this.loop = (async () => {
      while (!signal.aborted) {
        await sleep(intervalMs, undefined, { signal }).catch(() => {});
        if (!signal.aborted) await this.sync(false).catch((error: unknown) => (this.failure ??= error));
      }
    })();
  }

  /** Starts a pass of `sync` every `intervalMs`. */
  static start(sync: WriteSync, intervalMs = 250): WriteFlusher {
    return new WriteFlusher(sync, intervalMs);
  }

  /**
   * Stops the passes (a second call only waits for the first); with `flush`, runs the final pass, failing if it or an
   * earlier pass failed.
   */
  async stop(options: { flush: boolean }): Promise<void> {
    this.stopping.abort();
    await this.loop;
    if (!options.flush) return;
    if (this.failure !== undefined) throw this.failure;
    await this.sync(true);
  }
}

/**
 * Runs `work` with a pass of `sync` every 250 ms, then the final pass once it succeeded (a failed pass fails it), so a
 * caller that commits right after knows every file the work wrote is on disk.
 */
export async function syncedAsItGoes<T>(sync: WriteSync, work: () => Promise<T>): Promise<T> {
  const flusher = WriteFlusher.start(sync);
  try {
    const result = await work();
    await flusher.stop({ flush: true });
    return result;
  } finally {
    await flusher.stop({ flush: false });
  }
}

/**
 * Syncs the files at `paths` through the descriptors this process already has open on them (found in /proc/self/fd),
 * never through one of its own: closing any descriptor of a file drops every POSIX lock the process holds on it, and
 * DuckDB locks its database file that way (a second process could then open the file beside this one). A descriptor
 * closed or reused meanwhile is skipped; where /proc is missing nothing is synced (the commit's own sync remains).
 */
export async function syncOpenDescriptors(paths: readonly string[]): Promise<number> {
  // /proc names a descriptor's file by its real path: resolve the directories' symbolic links the same way.
  const real = (file: string) =>
    realpath(path.dirname(file))
      .then((dir) => path.join(dir, path.basename(file)))
      .catch(() => path.resolve(file));
  const wanted = new Set(await Promise.all(paths.map(real)));
  const descriptors = await readdir('/proc/self/fd').catch(() => []);
  let synced = 0;
  for (const entry of descriptors) {
    const target = await readlink(`/proc/self/fd/${entry}`).catch(() => '');
    if (!wanted.has(target)) continue;
    await fdatasync(Number(entry)).then(
      () => synced++,
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EBADF' && error.code !== 'EINVAL') throw error;
      },
    );
  }
  return synced;
}

/**
 * The files a write adds under `root` (a lake's data path, wherever DuckLake lays them out): the files present when it
 * began are remembered by name, and each pass syncs every file not among them, the ones still being written included;
 * the final pass also syncs the directories holding them, so their names are as durable as their contents. Files a
 * concurrent writer adds are synced too, which costs little. A file or directory removed meanwhile (upkeep) is skipped.
 */
export class AddedFiles {
  private constructor(
    private readonly root: string,
    private readonly before: ReadonlySet<string>,
  ) {}

  static async under(root: string): Promise<AddedFiles> {
    return new AddedFiles(root, new Set(await filesUnder(root)));
  }

  /** The files under the root now that were not there when the write began. */
  async added(): Promise<string[]> {
    return (await filesUnder(this.root)).filter((file) => !this.before.has(file));
  }

  readonly sync: WriteSync = async (final) => {
    const added = await this.added();
    for (const file of added) await syncPath(file);
    if (final) for (const dir of new Set(added.map((file) => path.dirname(file)))) await syncPath(dir);
  };
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(unlessMissing([]));
  const files: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(full)));
    else if (entry.isFile()) files.push(full);
  }
  return files;
}

/** fdatasync through a descriptor of our own (for files no lock is held on), skipping one removed meanwhile. */
async function syncPath(file: string): Promise<void> {
  const handle = await open(file, 'r').catch(unlessMissing(undefined));
  if (!handle) return;
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** A catch handler giving `fallback` for a path that does not exist (any more), rethrowing anything else. */
function unlessMissing<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw error;
  };
}
