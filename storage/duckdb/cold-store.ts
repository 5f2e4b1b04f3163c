import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';

import type { Federation } from '../../config/config.ts';
import { CopyProgress } from '../postgres/pg-copy-progress.ts';
import type { PgTarget } from '../postgres/pg-target.ts';
import { quoteIdent, quoteLiteral } from '../sql-quoting.ts';
import { instantFilter, type InstantSelection } from '../verification/instant-filter.ts';
import { fingerprintSelect, type RowFingerprint } from '../verification/row-fingerprint.ts';
import { inDuckTransaction } from './duck-transaction.ts';
import { type ColumnMapping, timeColumnOf } from './duck-type-mapping.ts';
import {
  attachPostgres,
  copyExportSelect,
  copyToCsvFile,
  csvSelect,
  extensionSelect,
  PG_CATALOG_ALIAS,
} from './pg-transport.ts';

/** The column recording which PostgreSQL partition a cold row came from: moves replace and reports filter by it. */
export const SOURCE_PARTITION_COLUMN = '_ducktier_partition';

/** DuckDB's own manifest of what each move wrote, committed in the same transaction as the rows. */
export const COLD_MANIFEST_TABLE = 'ducktier_cold_partitions';

/**
 * Where a copy stands, reported to an optional hook (fault-injection tests crash the worker there): `extracting` once
 * the INSERT ... SELECT reading the partition is under way, `written` once the rows and manifest entry are in DuckDB
 * but not yet committed.
 */
export type CopyStage = 'extracting' | 'written';

export interface PartitionSource {
  schema: string;
  table: string;
  partition: string;
  coldTable: string;
  columns: ColumnMapping[];
  /** The policy's time column (one of `columns`): late changes are narrowed to its instants. */
  timeColumn: string;
}

/** One committed write of a partition's cold rows: how many the partition now has, and the write's identity. */
export interface ColdWrite {
  rows: number;
  writeId: string;
}

/**
 * The cold tier: one DuckDB file, opened read-write by exactly one process (the one polling the cold task queue).
 * Connections opened here share the file through DuckDB's MVCC.
 */
export class ColdStore {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly filePath: string,
    readonly federation: Federation,
    /** Why DuckDB's postgres extension is not loaded here (federation `copy`), for a run that asks for it. */
    readonly withoutExtension: string | undefined,
    private readonly spoolDir: string,
  ) {}

  private postgresAttached = false;

  /**
   * Opens the file. With the postgres extension (`extension.dir`) moves and reports read PostgreSQL through it unless a
   * report asks for COPY; without it (`extension.missing` says why) everything goes through COPY.
   */
  static async open(options: {
    filePath: string;
    extension: { dir: string } | { missing: string };
    memoryLimit: string;
    pgTarget: PgTarget;
  }): Promise<ColdStore> {
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
    const store = new ColdStore(
      instance,
      options.filePath,
      extensionDir ? 'extension' : 'copy',
      'missing' in options.extension ? options.extension.missing : undefined,
      spoolDir,
    );
    await store.withConnection(async (connection) => {
      // Timestamps are UTC everywhere in ducktier. Without the ICU extension DuckDB already works in UTC and has no
      // TimeZone setting to change; with it, pin the setting so the host's zone never shifts a report's bounds.
      await connection.run(`SET TimeZone = 'UTC'`).catch(() => {});
      if (store.federation === 'extension') {
        await attachPostgres(connection, options.pgTarget);
        store.postgresAttached = true;
      }
      await connection.run(`
        CREATE TABLE IF NOT EXISTS ${COLD_MANIFEST_TABLE} (
          table_schema VARCHAR NOT NULL, table_name VARCHAR NOT NULL, partition_name VARCHAR NOT NULL,
          cold_table VARCHAR NOT NULL, rows BIGINT NOT NULL, written_at TIMESTAMPTZ NOT NULL, write_id VARCHAR,
          PRIMARY KEY (table_schema, table_name, partition_name))`);
      await connection.run(`ALTER TABLE ${COLD_MANIFEST_TABLE} ADD COLUMN IF NOT EXISTS write_id VARCHAR`);
    });
    return store;
  }

  /** A connection of its own for `work`; with PostgreSQL attached, its cached session is checked first (see below). */
  async withConnection<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.instance.connect();
    try {
      if (this.postgresAttached) await this.primePostgresSession(connection);
      return await work(connection);
    } finally {
      connection.closeSync();
    }
  }

  /** Creates the cold table from the mapped columns, or adds columns PostgreSQL gained since. */
  async ensureColdTable(coldTable: string, columns: ColumnMapping[]): Promise<void> {
    await this.withConnection(async (connection) => {
      const existing = new Map(
        (
          await connection.runAndReadAll(
            `SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $1`,
            [coldTable],
          )
        )
          .getRowObjectsJson()
          .map((row) => [String(row.column_name), String(row.data_type)]),
      );
      if (existing.size === 0) {
        const list = columns.map((c) => `${quoteIdent(c.name)} ${c.duckType}`).join(', ');
        await connection.run(
          `CREATE TABLE IF NOT EXISTS ${quoteIdent(coldTable)} (${list}, ${SOURCE_PARTITION_COLUMN} VARCHAR NOT NULL)`,
        );
        return;
      }
      for (const column of columns.filter((c) => !existing.has(c.name))) {
        await connection.run(
          `ALTER TABLE ${quoteIdent(coldTable)} ADD COLUMN ${quoteIdent(column.name)} ${column.duckType}`,
        );
      }
    });
  }

  /**
   * Replaces the cold copy of one partition in a single DuckDB transaction: delete what an earlier attempt wrote,
   * stream the partition in, record it in the manifest. Repeating it leaves exactly one copy.
   */
  async writePartition(
    source: PartitionSource,
    pgPool: pg.Pool,
    onProgress: (rowsProcessed: number) => void,
    signal?: AbortSignal,
    onStage?: (stage: CopyStage) => void,
  ): Promise<ColdWrite> {
    return this.replaceRows(source, pgPool, undefined, onProgress, signal, onStage);
  }

  /**
   * Replaces the partition's cold rows at the given instants of its time column with PostgreSQL's current rows there:
   * the difference left by writes during a move. One DuckDB transaction; repeating it changes nothing more.
   */
  async writeChangedRows(source: PartitionSource, pgPool: pg.Pool, instants: readonly string[]): Promise<ColdWrite> {
    return this.replaceRows(source, pgPool, { mode: 'only', instants });
  }

  private async replaceRows(
    source: PartitionSource,
    pgPool: pg.Pool,
    selection: InstantSelection | undefined,
    onProgress?: (rowsProcessed: number) => void,
    signal?: AbortSignal,
    onStage?: (stage: CopyStage) => void,
  ): Promise<ColdWrite> {
    await this.ensureColdTable(source.coldTable, source.columns);
    const timeColumn = timeColumnOf(source.columns, source);
    const pgWhere = selection ? instantFilter('postgres', timeColumn, selection) : '';
    const duckWhere = selection ? ` AND ${instantFilter('duckdb', timeColumn, selection)}` : '';
    const spool = this.federation === 'copy' ? this.spoolFile() : undefined;
    const stopWatching = onProgress
      ? new CopyProgress(pgPool, source.schema, source.partition).watch(onProgress)
      : () => {};
    try {
      if (spool) {
        const client = await pgPool.connect();
        try {
          await copyToCsvFile(
            client,
            copyExportSelect(source.schema, source.partition, source.columns, pgWhere),
            spool,
          );
        } finally {
          client.release();
        }
      }
      const partitionLiteral = `, $partition AS ${SOURCE_PARTITION_COLUMN}`;
      const select = spool
        ? csvSelect(spool, source.columns, partitionLiteral)
        : extensionSelect(source.schema, source.partition, source.columns, partitionLiteral, pgWhere);
      const names = [...source.columns.map((c) => quoteIdent(c.name)), SOURCE_PARTITION_COLUMN].join(', ');
      const coldTable = quoteIdent(source.coldTable);
      return await this.withConnection((connection) =>
        inDuckTransaction(connection, async () => {
          await connection.run(`DELETE FROM ${coldTable} WHERE ${SOURCE_PARTITION_COLUMN} = $partition${duckWhere}`, {
            partition: source.partition,
          });
          // A cancelled move interrupts the statement; the transaction then rolls back and leaves nothing behind.
          const interrupt = () => connection.interrupt();
          let inserted = 0;
          signal?.addEventListener('abort', interrupt);
          try {
            signal?.throwIfAborted();
            const insert = connection.run(`INSERT INTO ${coldTable} (${names}) ${select}`, {
              partition: source.partition,
            });
            onStage?.('extracting');
            inserted = (await insert).rowsChanged;
          } finally {
            signal?.removeEventListener('abort', interrupt);
          }
          // A whole partition was just replaced, so it holds what was inserted; some instants replaced leave the rest.
          const rows = selection ? await this.countRows(connection, source.coldTable, source.partition) : inserted;
          const writeId = randomUUID();
          await connection.run(
            `INSERT OR REPLACE INTO ${COLD_MANIFEST_TABLE} (table_schema, table_name, partition_name, cold_table, rows, written_at, write_id)
             VALUES ($schema, $table, $partition, $cold, $rows, now(), $writeId)`,
            {
              schema: source.schema,
              table: source.table,
              partition: source.partition,
              cold: source.coldTable,
              rows,
              writeId,
            },
          );
          onStage?.('written');
          return { rows, writeId };
        }),
      );
    } finally {
      stopWatching();
      if (spool) rmSync(spool, { force: true });
    }
  }

  /**
   * DuckDB's postgres extension keeps a session for its next use, and does not notice when PostgreSQL ends it (a
   * restart, a failover, `pg_terminate_backend`): that next use would fail, once, whatever it is (even a look at DuckDB's
   * own catalog may open a PostgreSQL transaction). A cheap statement first, outside any transaction, meets a dead
   * session here instead, and the extension drops it; the real work then gets a live one.
   */
  private async primePostgresSession(connection: DuckDBConnection): Promise<void> {
    await connection.run(`CALL postgres_execute(${quoteLiteral(PG_CATALOG_ALIAS)}, 'SELECT 1')`).catch(() => {});
  }

  /** The content fingerprint of one partition's cold rows (see row-fingerprint.ts), optionally of some instants only. */
  async fingerprintPartition(source: PartitionSource, selection?: InstantSelection): Promise<RowFingerprint> {
    return this.withConnection(async (connection) => {
      if (!(await this.tableExists(connection, source.coldTable))) return { rows: 0, sum: '0' };
      const where = [
        `${SOURCE_PARTITION_COLUMN} = $partition`,
        ...(selection ? [instantFilter('duckdb', timeColumnOf(source.columns, source), selection)] : []),
      ].join(' AND ');
      const reader = await connection.runAndReadAll(
        fingerprintSelect('duckdb', source.columns, `main.${quoteIdent(source.coldTable)}`, where),
        {
          partition: source.partition,
        },
      );
      const row = reader.getRowObjectsJson()[0];
      return { rows: Number(row?.rows ?? 0), sum: String(row?.sum ?? '0') };
    });
  }

  /** The partition's manifest entry: the rows and identity of the write that last committed them. */
  async manifestEntry(source: Pick<PartitionSource, 'schema' | 'table' | 'partition'>): Promise<ColdWrite | undefined> {
    return this.withConnection(async (connection) => {
      const reader = await connection.runAndReadAll(
        `SELECT rows, write_id FROM ${COLD_MANIFEST_TABLE} WHERE table_schema = $schema AND table_name = $table AND partition_name = $partition`,
        { schema: source.schema, table: source.table, partition: source.partition },
      );
      const row = reader.getRowObjectsJson()[0];
      return row ? { rows: Number(row.rows), writeId: String(row.write_id) } : undefined;
    });
  }

  /** Rows of one partition in the cold table (0 when the table does not exist yet). Read-only. */
  async countPartition(coldTable: string, partition: string): Promise<number> {
    return this.withConnection(async (connection) =>
      (await this.tableExists(connection, coldTable)) ? this.countRows(connection, coldTable, partition) : 0,
    );
  }

  private async countRows(connection: DuckDBConnection, coldTable: string, partition: string): Promise<number> {
    const reader = await connection.runAndReadAll(
      `SELECT count(*)::BIGINT AS n FROM ${quoteIdent(coldTable)} WHERE ${SOURCE_PARTITION_COLUMN} = $partition`,
      { partition },
    );
    return Number(reader.getRowObjectsJson()[0]?.n ?? 0);
  }

  /** Removes one partition's cold rows and manifest entry (compensation); safe to repeat. */
  async deletePartition(
    source: Pick<PartitionSource, 'schema' | 'table' | 'partition' | 'coldTable'>,
  ): Promise<number> {
    return this.withConnection((connection) =>
      inDuckTransaction(connection, async () => {
        let deleted = 0;
        if (await this.tableExists(connection, source.coldTable)) {
          const result = await connection.run(
            `DELETE FROM ${quoteIdent(source.coldTable)} WHERE ${SOURCE_PARTITION_COLUMN} = $partition`,
            { partition: source.partition },
          );
          deleted = result.rowsChanged;
        }
        await connection.run(
          `DELETE FROM ${COLD_MANIFEST_TABLE} WHERE table_schema = $schema AND table_name = $table AND partition_name = $partition`,
          {
            schema: source.schema,
            table: source.table,
            partition: source.partition,
          },
        );
        return deleted;
      }),
    );
  }

  async tableExists(connection: DuckDBConnection, table: string): Promise<boolean> {
    const reader = await connection.runAndReadAll(
      `SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $1`,
      [table],
    );
    return reader.currentRowCount > 0;
  }

  /** A spool file for COPY streams, removed by the caller. */
  spoolFile(): string {
    return path.join(this.spoolDir, `${randomUUID()}.csv`);
  }

  close(): void {
    this.instance.closeSync();
  }
}
