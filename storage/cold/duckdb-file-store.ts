import { existsSync, linkSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';

import type { ColdStoreIdentity, S3Settings } from '../../config/cold-config.ts';
import { firstLine } from '../../errors/first-line.ts';
import { duckSchemaPlace } from '../duckdb/duck-schema.ts';
import { attachPostgres } from '../duckdb/pg-transport.ts';
import { enableS3 } from '../duckdb/s3-access.ts';
import { maintenanceLocks } from '../postgres/pg-read-leases.ts';
import type { PgTarget } from '../postgres/pg-target.ts';
import { migrateSchema, readSchemaMigrations } from '../schema-migrations.ts';
import type { MaintenanceSettings, MaintenanceSummary } from './cold-maintenance.ts';
import { REPLACING_MANIFEST } from './cold-manifest.ts';
import { COLD_MANIFEST_TABLE, type ColdSnapshot, type SnapshotLease } from './cold-store.ts';
import { DuckColdStore } from './duck-cold-store.ts';
import {
  compactionFiles,
  type CompactionStage,
  contentDifference,
  contentOfFile,
  copyDatabase,
  fsyncPath,
  removeFileAndWal,
  removeOldFile,
  restoreOldFile,
  settleLeftovers,
  spaceUsage,
} from './duckdb-file-compaction.ts';
import type { MemoryLimits } from './memory-budget.ts';
import { syncOpenDescriptors, type WriteSync } from './write-flusher.ts';

/** The file's own tables (the manifest), as numbered migrations (storage/schema-migrations.ts). */
export const COLD_FILE_MIGRATIONS = readSchemaMigrations(fileURLToPath(new URL('./migrations/', import.meta.url)));

export interface DuckDbFileOptions {
  filePath: string;
  /**
   * A DuckDB extension directory holding the postgres extension; without one (`missing` says why), DuckDB reads
   * PostgreSQL by COPY.
   */
  extension: { dir: string } | { missing: string };
  /** DuckDB's memory limits for moves and for reports (see memory-budget.ts). */
  memoryLimits: MemoryLimits;
  pgTarget: PgTarget;
  /** How to reach S3, when a table's coldArchive is there: httpfs from `extensionDir`, and the S3 secret. */
  s3?: { settings: S3Settings; extensionDir: string } | undefined;
}

/**
 * How long a compaction's swap waits for the moves' and reports' uses of the file in flight to end, holding off new
 * ones meanwhile; if they have not ended by then it lets them go on and tries again a little later.
 */
const SWAP_DRAIN_MS = 10_000;
const SWAP_ATTEMPTS = 6;
const SWAP_RETRY_PAUSE_MS = 5_000;
/** Copies made per maintenance run: a copy is given up when a write commits to the file while it is made. */
const COPY_ATTEMPTS = 3;

/** What one compaction did, for the maintenance summary. */
interface CompactionOutcome {
  compacted: boolean;
  note: string;
}

/**
 * The cold tier as one DuckDB file, opened read-write by exactly one process (the only one polling the cold task
 * queue): its tables live in the file's `main` schema.
 */
export class DuckDbFileStore extends DuckColdStore {
  /** A test hook: called at each point of a compaction (see CompactionStage). */
  onCompactionStage?: (stage: CompactionStage) => void;

  private constructor(
    instance: DuckDBInstance,
    private readonly options: DuckDbFileOptions,
    spoolDir: string,
  ) {
    super(
      instance,
      'dir' in options.extension ? 'extension' : 'copy',
      'missing' in options.extension ? options.extension.missing : undefined,
      options.filePath,
      spoolDir,
      {
        qualifier: 'main',
        tablesIn: `database_name = current_database() AND schema_name = 'main'`,
        manifest: REPLACING_MANIFEST,
      },
      options.memoryLimits,
    );
    this.postgresAttached = this.federation === 'extension';
  }

  get identity(): ColdStoreIdentity {
    return { format: 'duckdb', location: this.location, catalogSchema: null };
  }

  /**
   * DuckDB writes a large insert's row groups into the file as they fill, and the rest to its WAL; it syncs both at
   * the commit itself, so the passes only spread the writing out.
   */
  protected async writeSync(): Promise<WriteSync> {
    const files = [this.options.filePath, `${this.options.filePath}.wal`];
    return async () => {
      await syncOpenDescriptors(files);
    };
  }

  static async open(options: DuckDbFileOptions): Promise<DuckDbFileStore> {
    mkdirSync(path.dirname(options.filePath), { recursive: true });
    const spoolDir = path.join(path.dirname(options.filePath), 'spool');
    rmSync(spoolDir, { recursive: true, force: true });
    mkdirSync(spoolDir, { recursive: true });
    for (const note of settleLeftovers(options.filePath)) console.warn(`ducktier: ${note}`);
    let instance: DuckDBInstance;
    try {
      instance = await openFile(options, options.memoryLimits.move);
    } catch (error) {
      // A new file a compaction swapped in that does not open: the old file, kept until then, takes its name back.
      if (!(error instanceof FileDoesNotOpen) || !restoreOldFile(options.filePath)) throw error;
      console.warn(`ducktier: ${(error as Error).message}; reopened the file the interrupted compaction replaced`);
      instance = await openFile(options, options.memoryLimits.move);
    }
    removeOldFile(options.filePath);
    const store = new DuckDbFileStore(instance, options, spoolDir);
    try {
      if ('dir' in options.extension) await attachPostgresTo(instance, options.pgTarget);
      await store.withConnection((connection) =>
        migrateSchema(duckSchemaPlace(connection, `cold store ${options.filePath}`), COLD_FILE_MIGRATIONS),
      );
    } catch (error) {
      store.close();
      throw error;
    }
    return store;
  }

  /**
   * DuckDB fixes a transaction's snapshot of the file when the transaction first reads it, which may precede a move
   * that PostgreSQL's snapshot already records as served from the cold tier. Every such partition's rows were
   * committed, with the manifest entry whose write ID the detach recorded, before the detach; if this transaction's
   * snapshot lacks that write it is too old (or the copy has since been discarded), and the run starts again.
   */
  async openSnapshot(connection: DuckDBConnection): Promise<ColdSnapshot> {
    return {
      version: null,
      relation: (coldTable) => this.relation(coldTable),
      holdsWrites: (table, writes) => this.manifestHolds(connection, this.relation(COLD_MANIFEST_TABLE), table, writes),
    };
  }

  /** One process holds the file and DuckDB's MVCC keeps its readers' rows: a report needs no lease. */
  async leaseSnapshot(): Promise<SnapshotLease> {
    return { version: null, release: async () => {} };
  }

  /**
   * A DuckDB file has no snapshots to expire or files to merge: maintenance checkpoints it (folds the WAL into the file,
   * making the blocks freed by deleted rows reusable by later writes), then, when more than `compactFreeShare` of it is
   * free (spaceUsage), rewrites it into a new file without the free space (see compact). One run at a time per database.
   */
  async maintain(pgPool: pg.Pool, settings: MaintenanceSettings): Promise<MaintenanceSummary> {
    const startedAt = new Date().toISOString();
    const client = await pgPool.connect();
    try {
      if (!(await maintenanceLocks.tryRun(client)))
        throw new Error('another maintenance run of the cold tier is under way; try again once it ends');
      try {
        const before = this.fileUsage();
        const usage = await this.withConnection(async (connection) => {
          await connection.run('CHECKPOINT');
          return spaceUsage(connection);
        });
        const checkpointed = this.fileUsage();
        const free = `${usage.freeBlocks} of ${usage.totalBlocks} blocks free, ${usage.storedRows - usage.liveRows} of ${usage.storedRows} stored rows deleted: ${usage.freeShare.toFixed(3)} of the file free`;
        const notes = [
          `checkpointed ${this.location} (${before.bytes} bytes with its WAL before, ${checkpointed.bytes} after); ${free}`,
        ];
        let compacted = false;
        if (usage.freeShare > settings.compactFreeShare) {
          const outcome = await this.compact();
          compacted = outcome.compacted;
          notes.push(outcome.note);
        } else notes.push(`not rewritten: not over compactFreeShare (${settings.compactFreeShare})`);
        const after = this.fileUsage();
        return {
          format: 'duckdb',
          startedAt,
          finishedAt: new Date().toISOString(),
          filesBefore: before.files,
          filesAfter: after.files,
          bytesBefore: before.bytes,
          bytesAfter: after.bytes,
          mergedFiles: 0,
          rewrittenFiles: compacted ? 1 : 0,
          expiredSnapshots: 0,
          removedFiles: 0,
          removedOrphans: 0,
          leases: 0,
          oldestLeasedVersion: null,
          notes,
        };
      } finally {
        await maintenanceLocks.endRun(client);
      }
    } finally {
      client.release();
    }
  }

  /**
   * Rewrites the file into a new one holding the same tables and rows, then puts it in the old one's place:
   *
   * 1. copy: `COPY FROM DATABASE` into `<file>.compacting` in one DuckDB transaction, which also takes the old file's
   *    content (catalog, and per table its rows and their hash sum) in the same snapshot; checkpoint, detach, fsync;
   * 2. check: the new file, attached read-only from disk, holds exactly that content (else it is removed, and the run
   *    fails);
   * 3. swap, with the file alone (new moves' and reports' uses wait, those in flight are waited out): if a write
   *    committed since the copy began, the copy is stale: give it up and copy again. Else checkpoint and close the old
   *    instance (no WAL may be left: it would be replayed onto the new file), give the old file a second name
   *    `<file>.old`, rename the new file over `<file>` (atomic), fsync the directory, open it as the old one was opened,
   *    then remove `<file>.old`. If the new file does not open, `<file>.old` takes its name back and is reopened.
   *
   * Moves and reports wait for the swap only (a checkpoint, a close, two renames, an open); they go on while the copy is
   * made and checked. A crash at any point leaves `<file>` complete: see settleLeftovers.
   */
  private async compact(): Promise<CompactionOutcome> {
    const { compacting } = compactionFiles(this.location);
    for (let copyAttempt = 1; copyAttempt <= COPY_ATTEMPTS; copyAttempt++) {
      const writesBefore = this.writesCommitted;
      try {
        const old = await this.withConnection((connection) => copyDatabase(connection, compacting));
        const copy = await this.withConnection((connection) => contentOfFile(connection, compacting));
        const difference = contentDifference(old, copy);
        if (difference)
          throw new Error(`the rewritten cold file does not hold what the cold file holds: ${difference}`);
        this.onCompactionStage?.('copied');
        const rows = Object.values(old.tables).reduce((sum, table) => sum + table.rows, 0);
        for (let swapAttempt = 1; swapAttempt <= SWAP_ATTEMPTS; swapAttempt++) {
          const askedAt = Date.now();
          let aloneAt = askedAt;
          const swapped = await this.withInstanceAlone(SWAP_DRAIN_MS, (instance) => {
            aloneAt = Date.now();
            return this.writesCommitted === writesBefore
              ? this.swapIn(instance)
              : Promise.resolve({ instance, result: 'changed' as const });
          });
          if (swapped?.result === 'swapped')
            return {
              compacted: true,
              note:
                `rewrote ${this.location} into a new file: ${Object.keys(old.tables).length} tables, ${rows} rows, each table's rows and hash sum and the catalog checked equal; ` +
                `new uses of the file waited up to ${Date.now() - askedAt} ms (${aloneAt - askedAt} ms for the work in flight to end, ${Date.now() - aloneAt} ms for the swap)`,
            };
          if (swapped?.result === 'changed') break;
          if (swapped) return { compacted: false, note: `not rewritten: ${swapped.result}` };
          await new Promise((resolve) => setTimeout(resolve, SWAP_RETRY_PAUSE_MS));
        }
      } finally {
        removeFileAndWal(compacting);
      }
      if (this.writesCommitted === writesBefore)
        return {
          compacted: false,
          note: `not rewritten: moves or reports kept the file busy for ${SWAP_ATTEMPTS} tries of ${SWAP_DRAIN_MS / 1000}s; the next run tries again`,
        };
    }
    return {
      compacted: false,
      note: `not rewritten: a write committed while each of ${COPY_ATTEMPTS} copies was made; the next run tries again`,
    };
  }

  /**
   * The swap (step 3 of compact), with the instance alone. Never throws once the old instance is closed: whatever
   * fails, an instance on a complete file is returned (the old file's, if the new one cannot be put in place).
   */
  private async swapIn(old: DuckDBInstance): Promise<{ instance: DuckDBInstance; result: string }> {
    const { compacting, previous } = compactionFiles(this.location);
    const connection = await old.connect();
    try {
      await connection.run('CHECKPOINT');
    } finally {
      connection.closeSync();
    }
    old.closeSync();
    this.onCompactionStage?.('closed');
    const reopenOld = async (why: string) => {
      restoreOldFile(this.location);
      const instance = await openFile(this.options, this.openingMemoryLimit);
      await this.attachPostgresOrLater(instance);
      return { instance, result: why };
    };
    try {
      if (existsSync(`${this.location}.wal`) || existsSync(`${compacting}.wal`))
        return await reopenOld('a WAL was left beside a file after its checkpoint; the file was kept as it is');
      linkSync(this.location, previous);
      this.onCompactionStage?.('linked');
      renameSync(compacting, this.location);
      fsyncPath(path.dirname(this.location));
      this.onCompactionStage?.('renamed');
    } catch (error) {
      return await reopenOld(`the new file could not be put in place (${(error as Error).message}); the file was kept`);
    }
    let instance: DuckDBInstance;
    try {
      instance = await openFile(this.options, this.openingMemoryLimit);
    } catch (error) {
      return await reopenOld(`the new file did not open (${(error as Error).message}); the old file was put back`);
    }
    this.onCompactionStage?.('opened');
    removeOldFile(this.location);
    await this.attachPostgresOrLater(instance);
    return { instance, result: 'swapped' };
  }

  /** PostgreSQL not attached to the instance yet (it was unreachable when the instance opened): the next use attaches it. */
  private postgresPending = false;

  /**
   * Attaches PostgreSQL to a reopened instance. PostgreSQL being unreachable at that moment says nothing about the file:
   * the instance is kept, and the next use of a connection attaches it (a use before then fails as any use of
   * PostgreSQL would while it is down).
   */
  private async attachPostgresOrLater(instance: DuckDBInstance): Promise<void> {
    if (this.federation !== 'extension') return;
    try {
      await attachPostgresTo(instance, this.options.pgTarget);
    } catch (error) {
      console.warn(`ducktier: PostgreSQL not attached to the reopened cold file yet: ${(error as Error).message}`);
      this.postgresPending = true;
    }
  }

  protected override async prepareConnection(connection: DuckDBConnection): Promise<void> {
    if (!this.postgresPending) return;
    await attachPostgres(connection, this.options.pgTarget);
    this.postgresPending = false;
  }

  private fileUsage(): { files: number; bytes: number } {
    const files = [this.location, `${this.location}.wal`].filter((file) => existsSync(file));
    return { files: files.length, bytes: files.reduce((sum, file) => sum + statSync(file).size, 0) };
  }
}

/** The cold file itself would not open (as opposed to something done on the instance once it has). */
class FileDoesNotOpen extends Error {}

/**
 * Opens the file in a DuckDB instance of its own, with DuckDB's settings (this memory limit) and the time zone pinned,
 * and S3 reachable when an archive is there. Every instance on the file comes from here, the first and those a
 * compaction reopens.
 */
async function openFile(options: DuckDbFileOptions, memoryLimit: string): Promise<DuckDBInstance> {
  const settings: Record<string, string> = { autoinstall_known_extensions: 'false', memory_limit: memoryLimit };
  const extensionDir = 'dir' in options.extension ? options.extension.dir : options.s3?.extensionDir;
  if (extensionDir) settings.extension_directory = extensionDir;
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(options.filePath, settings);
  } catch (error) {
    throw new FileDoesNotOpen(`cannot open the cold store ${options.filePath}: ${firstLine(error)}`);
  }
  try {
    const connection = await instance.connect();
    try {
      // Timestamps are UTC everywhere in ducktier. Without the ICU extension DuckDB already works in UTC and has no
      // TimeZone setting to change; with it, pin the setting so the host's zone never shifts a report's bounds.
      await connection.run(`SET TimeZone = 'UTC'`).catch(() => {});
      if (options.s3) await enableS3(connection, options.s3.settings);
    } finally {
      connection.closeSync();
    }
  } catch (error) {
    instance.closeSync();
    throw error;
  }
  return instance;
}

/** Attaches PostgreSQL (read through DuckDB's postgres extension) to every connection of the instance. */
async function attachPostgresTo(instance: DuckDBInstance, pgTarget: PgTarget): Promise<void> {
  const connection = await instance.connect();
  try {
    await attachPostgres(connection, pgTarget);
  } finally {
    connection.closeSync();
  }
}
