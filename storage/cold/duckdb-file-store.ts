import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

import type { ColdStoreIdentity } from '../../config/cold-config.ts';
import { duckSchemaPlace } from '../duckdb/duck-schema.ts';
import { attachPostgres } from '../duckdb/pg-transport.ts';
import type { PgTarget } from '../postgres/pg-target.ts';
import { migrateSchema, readSchemaMigrations } from '../schema-migrations.ts';
import type { MaintenanceSummary } from './cold-maintenance.ts';
import { REPLACING_MANIFEST } from './cold-manifest.ts';
import { COLD_MANIFEST_TABLE, type ColdSnapshot, type SnapshotLease } from './cold-store.ts';
import { DuckColdStore } from './duck-cold-store.ts';

/** The file's own tables (the manifest), as numbered migrations (storage/schema-migrations.ts). */
export const COLD_FILE_MIGRATIONS = readSchemaMigrations(fileURLToPath(new URL('./migrations/', import.meta.url)));

export interface DuckDbFileOptions {
  filePath: string;
  /**
   * A DuckDB extension directory holding the postgres extension; without one (`missing` says why), DuckDB reads
   * PostgreSQL by COPY.
   */
  extension: { dir: string } | { missing: string };
  memoryLimit: string;
  pgTarget: PgTarget;
}

/**
 * The cold tier as one DuckDB file, opened read-write by exactly one process (the only one polling the cold task
 * queue): its tables live in the file's `main` schema.
 */
export class DuckDbFileStore extends DuckColdStore {
  get identity(): ColdStoreIdentity {
    return { format: 'duckdb', location: this.location, catalogSchema: null };
  }

  static async open(options: DuckDbFileOptions): Promise<DuckDbFileStore> {
    mkdirSync(path.dirname(options.filePath), { recursive: true });
    const spoolDir = path.join(path.dirname(options.filePath), 'spool');
    rmSync(spoolDir, { recursive: true, force: true });
    mkdirSync(spoolDir, { recursive: true });
    const settings: Record<string, string> = {
      autoinstall_known_extensions: 'false',
      memory_limit: options.memoryLimit,
    };
    const extensionDir = 'dir' in options.extension ? options.extension.dir : undefined;
    if (extensionDir) settings.extension_directory = extensionDir;
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(options.filePath, settings);
    } catch (error) {
      throw new Error(`cannot open the cold store ${options.filePath}: ${(error as Error).message.split('\n')[0]}`);
    }
    const store = new DuckDbFileStore(
      instance,
      extensionDir ? 'extension' : 'copy',
      'missing' in options.extension ? options.extension.missing : undefined,
      options.filePath,
      spoolDir,
      {
        qualifier: 'main',
        tablesIn: `database_name = current_database() AND schema_name = 'main'`,
        manifest: REPLACING_MANIFEST,
      },
    );
    try {
      await store.withConnection(async (connection) => {
        // Timestamps are UTC everywhere in ducktier. Without the ICU extension DuckDB already works in UTC and has no
        // TimeZone setting to change; with it, pin the setting so the host's zone never shifts a report's bounds.
        await connection.run(`SET TimeZone = 'UTC'`).catch(() => {});
        if (store.federation === 'extension') {
          await attachPostgres(connection, options.pgTarget);
          store.postgresAttached = true;
        }
        await migrateSchema(duckSchemaPlace(connection, `cold store ${options.filePath}`), COLD_FILE_MIGRATIONS);
      });
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
   * making the space freed by deleted rows reusable by later writes; the file itself does not shrink).
   */
  async maintain(): Promise<MaintenanceSummary> {
    const startedAt = new Date().toISOString();
    const before = this.fileUsage();
    await this.withConnection((connection) => connection.run('CHECKPOINT'));
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
      expiredSnapshots: 0,
      removedFiles: 0,
      removedOrphans: 0,
      leases: 0,
      oldestLeasedVersion: null,
      notes: [
        `checkpointed ${this.location} (${before.bytes} bytes with its WAL before, ${after.bytes} after); a DuckDB file has no snapshots to expire or files to merge`,
      ],
    };
  }

  private fileUsage(): { files: number; bytes: number } {
    const files = [this.location, `${this.location}.wal`].filter((file) => existsSync(file));
    return { files: files.length, bytes: files.reduce((sum, file) => sum + statSync(file).size, 0) };
  }
}
