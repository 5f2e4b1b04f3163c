import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';

import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';

import type { Federation } from '../../config/config.ts';
import { inDuckTransaction } from '../duckdb/duck-transaction.ts';
import { type ColumnMapping, timeColumnOf } from '../duckdb/duck-type-mapping.ts';
import { pgInputText, streamRowsToPostgres } from '../duckdb/pg-return-transport.ts';
import {
  copyExportSelect,
  copyToCsvFile,
  csvSelect,
  extensionSelect,
  PG_CATALOG_ALIAS,
} from '../duckdb/pg-transport.ts';
import { CopyProgress } from '../postgres/pg-copy-progress.ts';
import { quoteIdent, quoteLiteral } from '../sql-quoting.ts';
import { instantFilter, type InstantSelection } from '../verification/instant-filter.ts';
import { fingerprintSelect, type RowFingerprint } from '../verification/row-fingerprint.ts';
import type { ColdManifest } from './cold-manifest.ts';
import {
  COLD_MANIFEST_TABLE,
  type ColdCondition,
  type ColdSnapshot,
  type ColdStore,
  type ColdWrite,
  type CopyStage,
  type PartitionRef,
  type PartitionSource,
  type SnapshotQuery,
  SOURCE_PARTITION_COLUMN,
} from './cold-store.ts';

/** Attempts at a schema change that lost to a concurrent one (another worker creating the same table). */
const SCHEMA_CHANGE_ATTEMPTS = 5;
/** A DuckDB or DuckLake commit that lost to a concurrent transaction; repeating the work is the answer. */
const COMMIT_CONFLICT = /Transaction conflict|write-write conflict|Failed to commit DuckLake transaction/;

/**
 * Where a format keeps its tables inside DuckDB (how to name them in SQL, and how to find them in duckdb_tables()), and
 * how it keeps its manifest.
 */
export interface TablePlace {
  /** The prefix before a table's quoted name: `main` for the opened file, `lake` for an attached lake. */
  qualifier: string;
  /** A duckdb_tables()/duckdb_columns() condition selecting that database and schema. */
  tablesIn: string;
  manifest: ColdManifest;
}

/**
 * The cold-store protocol over tables that DuckDB holds, shared by every format: the formats differ in where the
 * tables live (a DuckDB file, an attached lake) and in how a report pins what it reads. Connections opened here share
 * the tables through DuckDB's MVCC.
 */
export abstract class DuckColdStore implements ColdStore {
  protected constructor(
    private readonly instance: DuckDBInstance,
    readonly federation: Federation,
    readonly withoutExtension: string | undefined,
    readonly location: string,
    private readonly spoolDir: string,
    private readonly place: TablePlace,
  ) {}

  /** Set once PostgreSQL is attached (see attachPostgres): from then on every connection checks its cached session. */
  protected postgresAttached = false;

  abstract openSnapshot(connection: DuckDBConnection, inSnapshot: SnapshotQuery): Promise<ColdSnapshot>;

  /** `qualifier."name"`: a table of this store in SQL, at its latest state. */
  relation(table: string): string {
    return `${this.place.qualifier}.${quoteIdent(table)}`;
  }

  /** The statements creating a cold table with these column definitions (a format may add its own, e.g. partitioning). */
  protected createTableStatements(table: string, columnList: string): string[] {
    return [`CREATE TABLE IF NOT EXISTS ${this.relation(table)} (${columnList})`];
  }

  private get tablesIn(): string {
    return this.place.tablesIn;
  }

  async withConnection<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.instance.connect();
    try {
      if (this.postgresAttached) await this.primePostgresSession(connection);
      return await work(connection);
    } finally {
      connection.closeSync();
    }
  }

  /**
   * DuckDB's postgres extension keeps a session for its next use, and does not notice when PostgreSQL ends it (a
   * restart, a failover, `pg_terminate_backend`): that next use would fail, once, whatever it is (even a look at DuckDB's
   * own catalog may open a PostgreSQL transaction). Worse, if that use is the extension's first read of PostgreSQL's
   * catalog (it reads it once, lazily), the extension (1.4.4) keeps an empty catalog for good and every table "does not
   * exist" until the process restarts. A cheap statement first, outside any transaction and without the catalog, meets a
   * dead session here instead, and the extension drops it; the real work then gets a live one.
   */
  private async primePostgresSession(connection: DuckDBConnection): Promise<void> {
    await connection.run(`CALL postgres_execute(${quoteLiteral(PG_CATALOG_ALIAS)}, 'SELECT 1')`).catch(() => {});
  }

  /**
   * Creates the cold table from the mapped columns, or adds columns PostgreSQL gained since, in one transaction. Another
   * connection or worker may be making the same change: the loser of that race looks again and finds it done.
   */
  async ensureColdTable(coldTable: string, columns: ColumnMapping[]): Promise<void> {
    await this.withConnection(async (connection) => {
      for (let attempt = 1; ; attempt++) {
        const existing = await this.columnNames(connection, coldTable);
        const missing = columns.filter((c) => !existing.has(c.name));
        if (existing.size > 0 && missing.length === 0) return;
        const statements =
          existing.size === 0
            ? this.createTableStatements(
                coldTable,
                `${columns.map((c) => `${quoteIdent(c.name)} ${c.duckType}`).join(', ')}, ${SOURCE_PARTITION_COLUMN} VARCHAR NOT NULL`,
              )
            : missing.map(
                (column) =>
                  `ALTER TABLE ${this.relation(coldTable)} ADD COLUMN IF NOT EXISTS ${quoteIdent(column.name)} ${column.duckType}`,
              );
        try {
          await inDuckTransaction(connection, async () => {
            for (const statement of statements) await connection.run(statement);
          });
          return;
        } catch (error) {
          if (attempt >= SCHEMA_CHANGE_ATTEMPTS || !COMMIT_CONFLICT.test((error as Error).message)) throw error;
        }
      }
    });
  }

  private async columnNames(connection: DuckDBConnection, table: string): Promise<Set<string>> {
    const reader = await connection.runAndReadAll(
      `SELECT column_name FROM duckdb_columns() WHERE ${this.tablesIn} AND table_name = $1`,
      [table],
    );
    return new Set(reader.getRowObjectsJson().map((row) => String(row.column_name)));
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
      const coldTable = this.relation(source.coldTable);
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
          await this.place.manifest.recordWrite(connection, this.relation(COLD_MANIFEST_TABLE), {
            schema: source.schema,
            table: source.table,
            partition: source.partition,
            coldTable: source.coldTable,
            rows,
            writeId,
          });
          onStage?.('written');
          return { rows, writeId };
        }),
      );
    } finally {
      stopWatching();
      if (spool) rmSync(spool, { force: true });
    }
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
        fingerprintSelect('duckdb', source.columns, this.relation(source.coldTable), where),
        {
          partition: source.partition,
        },
      );
      const row = reader.getRowObjectsJson()[0];
      return { rows: Number(row?.rows ?? 0), sum: String(row?.sum ?? '0') };
    });
  }

  /** The partition's manifest entry: the rows and identity of the write that last committed them. */
  async manifestEntry(source: PartitionRef): Promise<ColdWrite | undefined> {
    return this.withConnection(async (connection) => {
      const reader = await connection.runAndReadAll(
        `SELECT rows, write_id FROM ${this.place.manifest.current(this.relation(COLD_MANIFEST_TABLE))}
          WHERE table_schema = $schema AND table_name = $table AND partition_name = $partition`,
        { schema: source.schema, table: source.table, partition: source.partition },
      );
      const row = reader.getRowObjectsJson()[0];
      return row ? { rows: Number(row.rows), writeId: String(row.write_id) } : undefined;
    });
  }

  /**
   * Whether `manifest` (the manifest table as a report's snapshot sees it) holds exactly the writes PostgreSQL's
   * snapshot says serve the table's partitions.
   */
  protected async manifestHolds(
    connection: DuckDBConnection,
    manifest: string,
    table: { schema: string; table: string },
    writes: Array<{ partition: string; writeId: string | null }>,
  ): Promise<boolean> {
    if (writes.length === 0) return true;
    const reader = await connection.runAndReadAll(
      `SELECT partition_name, write_id FROM ${this.place.manifest.current(manifest)} WHERE table_schema = $schema AND table_name = $table`,
      { schema: table.schema, table: table.table },
    );
    const held = new Map(
      reader
        .getRowObjectsJson()
        .map((row) => [String(row.partition_name), row.write_id === null ? null : String(row.write_id)]),
    );
    return writes.every((write) => held.has(write.partition) && held.get(write.partition) === write.writeId);
  }

  /** Rows of one partition in the cold table (0 when the table does not exist yet). Read-only. */
  async countPartition(coldTable: string, partition: string): Promise<number> {
    return this.withConnection(async (connection) =>
      (await this.tableExists(connection, coldTable)) ? this.countRows(connection, coldTable, partition) : 0,
    );
  }

  async countTable(coldTable: string): Promise<number> {
    return this.withConnection(async (connection) => {
      if (!(await this.tableExists(connection, coldTable))) return 0;
      const reader = await connection.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${this.relation(coldTable)}`);
      return Number(reader.getRowObjectsJson()[0]?.n ?? 0);
    });
  }

  private async countRows(connection: DuckDBConnection, coldTable: string, partition: string): Promise<number> {
    const reader = await connection.runAndReadAll(
      `SELECT count(*)::BIGINT AS n FROM ${this.relation(coldTable)} WHERE ${SOURCE_PARTITION_COLUMN} = $partition`,
      { partition },
    );
    return Number(reader.getRowObjectsJson()[0]?.n ?? 0);
  }

  /** Streams one partition's cold rows into PostgreSQL's COPY (see storage/duckdb/pg-return-transport.ts). */
  async copyPartitionToPostgres(
    source: PartitionSource,
    client: pg.ClientBase,
    target: { table: string; columns: string[] },
    onProgress?: (rows: number) => void,
  ): Promise<number> {
    const byName = new Map(source.columns.map((column) => [column.name, column]));
    const list = target.columns.map((name) => {
      const column = byName.get(name);
      if (!column) throw new Error(`${name} is not a column of ${source.schema}.${source.table}`);
      return `${pgInputText(column)} AS ${quoteIdent(name)}`;
    });
    return this.withConnection((connection) =>
      streamRowsToPostgres(
        connection,
        {
          sql: `SELECT ${list.join(', ')} FROM ${this.relation(source.coldTable)} WHERE ${SOURCE_PARTITION_COLUMN} = $partition`,
          params: { partition: source.partition },
        },
        client,
        target,
        onProgress,
      ),
    );
  }

  /** Rows matching `condition` per partition of the cold table (none when it does not exist yet). Read-only. */
  async countMatching(coldTable: string, condition: ColdCondition): Promise<Map<string, number>> {
    return this.withConnection(async (connection) => {
      if (!(await this.tableExists(connection, coldTable))) return new Map();
      const reader = await connection.runAndReadAll(
        `SELECT ${SOURCE_PARTITION_COLUMN} AS partition, count(*)::BIGINT AS n FROM ${this.relation(coldTable)}
          WHERE ${condition.sql} GROUP BY ALL`,
        condition.params,
      );
      return new Map(reader.getRowObjectsJson().map((row) => [String(row.partition), Number(row.n)]));
    });
  }

  /**
   * Deletes one partition's rows matching `condition` and records the rows left in its manifest entry, keeping the
   * entry's write ID, all in one cold transaction. On a lake the partition's rows are files of their own, so the delete
   * touches only them. Safe to repeat. Returns the rows deleted.
   */
  async eraseRows(ref: PartitionRef & { coldTable: string }, condition: ColdCondition): Promise<number> {
    return this.withConnection((connection) =>
      inDuckTransaction(connection, async () => {
        if (!(await this.tableExists(connection, ref.coldTable))) return 0;
        const deleted = (
          await connection.run(
            `DELETE FROM ${this.relation(ref.coldTable)}
              WHERE ${SOURCE_PARTITION_COLUMN} = ${quoteLiteral(ref.partition)} AND (${condition.sql})`,
            condition.params,
          )
        ).rowsChanged;
        const manifest = this.relation(COLD_MANIFEST_TABLE);
        const reader = await connection.runAndReadAll(
          `SELECT write_id FROM ${this.place.manifest.current(manifest)}
            WHERE table_schema = $schema AND table_name = $table AND partition_name = $partition`,
          { schema: ref.schema, table: ref.table, partition: ref.partition },
        );
        const writeId = reader.getRowObjectsJson()[0]?.write_id;
        if (deleted > 0 && typeof writeId === 'string')
          await this.place.manifest.recordWrite(connection, manifest, {
            ...ref,
            writeId,
            rows: await this.countRows(connection, ref.coldTable, ref.partition),
          });
        return deleted;
      }),
    );
  }

  /** Removes one partition's cold rows and records it in the manifest (compensation); safe to repeat. */
  async deletePartition(source: PartitionRef & { coldTable: string }): Promise<number> {
    return this.withConnection((connection) =>
      inDuckTransaction(connection, async () => {
        let deleted = 0;
        if (await this.tableExists(connection, source.coldTable)) {
          const result = await connection.run(
            `DELETE FROM ${this.relation(source.coldTable)} WHERE ${SOURCE_PARTITION_COLUMN} = $partition`,
            { partition: source.partition },
          );
          deleted = result.rowsChanged;
        }
        await this.place.manifest.recordRemoval(connection, this.relation(COLD_MANIFEST_TABLE), source);
        return deleted;
      }),
    );
  }

  protected async tableExists(connection: DuckDBConnection, table: string): Promise<boolean> {
    const reader = await connection.runAndReadAll(
      `SELECT 1 FROM duckdb_tables() WHERE ${this.tablesIn} AND table_name = $1`,
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
