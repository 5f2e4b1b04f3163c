import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

import { duckSchemaPlace } from '../duckdb/duck-schema.ts';
import { attachPostgres } from '../duckdb/pg-transport.ts';
import type { PgTarget } from '../postgres/pg-target.ts';
import { migrateSchema, readSchemaMigrations } from '../schema-migrations.ts';
import { REPLACING_MANIFEST } from './cold-manifest.ts';
import { COLD_MANIFEST_TABLE, type ColdSnapshot } from './cold-store.ts';
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
}
