import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';

import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';

import type { Federation } from '../../config/config.ts';
import { inDuckTransaction } from '../duckdb/duck-transaction.ts';
import { type ColumnMapping, timeColumnOf } from '../duckdb/duck-type-mapping.ts';
import { pgInputText, streamRowsToPostgres } from '../duckdb/pg-return-transport.ts';
import { copyExportSelect, copyToCsvFile, csvSelect, extensionSelect } from '../duckdb/pg-transport.ts';
import { CopyProgress } from '../postgres/pg-copy-progress.ts';
import type { RowCondition } from '../federation/row-condition.ts';
import { quoteIdent, quoteLiteral } from '../sql-quoting.ts';
import { instantFilter, type InstantSelection } from '../verification/instant-filter.ts';
import { fingerprintSelect, type RowFingerprint } from '../verification/row-fingerprint.ts';
import {
  COLD_MANIFEST_TABLE,
  type ColdSnapshot,
  type ColdStore,
  type ColdWrite,
  type CopyStage,
  type PartitionRef,
  type PartitionSource,
  type SnapshotQuery,
  SOURCE_PARTITION_COLUMN,
} from './cold-store.ts';

/** Where a format keeps its tables inside DuckDB: how to name them in SQL, and how to find them in duckdb_tables(). */
export interface TablePlace {
  /** The prefix before a table's quoted name: `main` for the opened file, `lake` for an attached lake. */
  qualifier: string;
  /** A duckdb_tables()/duckdb_columns() condition selecting that database and schema. */
  tablesIn: string;
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
    readonly location: string,
    private readonly spoolDir: string,
    private readonly place: TablePlace,
  ) {}

  abstract openSnapshot(connection: DuckDBConnection, inSnapshot: SnapshotQuery): Promise<ColdSnapshot>;

  /** `qualifier."name"`: a table of this store in SQL. */
  protected qualified(table: string): string {
    return `${this.place.qualifier}.${quoteIdent(table)}`;
  }

  private get tablesIn(): string {
    return this.place.tablesIn;
  }

  async withConnection<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.instance.connect();
    try {
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
            `SELECT column_name, data_type FROM duckdb_columns() WHERE ${this.tablesIn} AND table_name = $1`,
            [coldTable],
          )
        )
          .getRowObjectsJson()
          .map((row) => [String(row.column_name), String(row.data_type)]),
      );
      if (existing.size === 0) {
        const list = columns.map((c) => `${quoteIdent(c.name)} ${c.duckType}`).join(', ');
        await connection.run(
          `CREATE TABLE IF NOT EXISTS ${this.qualified(coldTable)} (${list}, ${SOURCE_PARTITION_COLUMN} VARCHAR NOT NULL)`,
        );
        return;
      }
      for (const column of columns.filter((c) => !existing.has(c.name))) {
        await connection.run(
          `ALTER TABLE ${this.qualified(coldTable)} ADD COLUMN ${quoteIdent(column.name)} ${column.duckType}`,
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
      const coldTable = this.qualified(source.coldTable);
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
          await this.recordManifestEntry(connection, { ...source, rows, writeId });
          onStage?.('written');
          return { rows, writeId };
        }),
      );
    } finally {
      stopWatching();
      if (spool) rmSync(spool, { force: true });
    }
  }

  /** Records (replaces) a partition's manifest entry, inside the caller's transaction. */
  private async recordManifestEntry(
    connection: DuckDBConnection,
    entry: PartitionRef & { coldTable: string } & ColdWrite,
  ): Promise<void> {
    await connection.run(
      `INSERT OR REPLACE INTO ${this.qualified(COLD_MANIFEST_TABLE)} (table_schema, table_name, partition_name, cold_table, rows, written_at, write_id)
       VALUES ($schema, $table, $partition, $cold, $rows, now(), $writeId)`,
      {
        schema: entry.schema,
        table: entry.table,
        partition: entry.partition,
        cold: entry.coldTable,
        rows: entry.rows,
        writeId: entry.writeId,
      },
    );
  }

  /** Rows matching `condition` per partition of the cold table (none when it does not exist yet). Read-only. */
  async countMatching(coldTable: string, condition: RowCondition['duckdb']): Promise<Map<string, number>> {
    return this.withConnection(async (connection) => {
      if (!(await this.tableExists(connection, coldTable))) return new Map();
      const reader = await connection.runAndReadAll(
        `SELECT ${SOURCE_PARTITION_COLUMN} AS partition, count(*)::BIGINT AS n FROM ${this.qualified(coldTable)}
          WHERE ${condition.sql} GROUP BY ALL`,
        condition.params,
      );
      return new Map(reader.getRowObjectsJson().map((row) => [String(row.partition), Number(row.n)]));
    });
  }

  /**
   * Deletes one partition's rows matching `condition` and records the rows left on its manifest entry, keeping the
   * entry's write ID (the move record names it; the copy it identifies has only lost rows). One cold transaction;
   * safe to repeat. Returns the rows deleted.
   */
  async eraseRows(ref: PartitionRef & { coldTable: string }, condition: RowCondition['duckdb']): Promise<number> {
    return this.withConnection((connection) =>
      inDuckTransaction(connection, async () => {
        if (!(await this.tableExists(connection, ref.coldTable))) return 0;
        const inPartition = `${SOURCE_PARTITION_COLUMN} = ${quoteLiteral(ref.partition)}`;
        const deleted = (
          await connection.run(
            `DELETE FROM ${this.qualified(ref.coldTable)} WHERE ${inPartition} AND (${condition.sql})`,
            condition.params,
          )
        ).rowsChanged;
        const entry = await this.manifestEntryOn(connection, ref);
        if (deleted > 0 && entry)
          await this.recordManifestEntry(connection, {
            ...ref,
            writeId: entry.writeId,
            rows: await this.countRows(connection, ref.coldTable, ref.partition),
          });
        return deleted;
      }),
    );
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
        fingerprintSelect('duckdb', source.columns, this.qualified(source.coldTable), where),
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
    return this.withConnection((connection) => this.manifestEntryOn(connection, source));
  }

  private async manifestEntryOn(connection: DuckDBConnection, source: PartitionRef): Promise<ColdWrite | undefined> {
    const reader = await connection.runAndReadAll(
      `SELECT rows, write_id FROM ${this.qualified(COLD_MANIFEST_TABLE)} WHERE table_schema = $schema AND table_name = $table AND partition_name = $partition`,
      { schema: source.schema, table: source.table, partition: source.partition },
    );
    const row = reader.getRowObjectsJson()[0];
    return row ? { rows: Number(row.rows), writeId: String(row.write_id) } : undefined;
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
      const reader = await connection.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${this.qualified(coldTable)}`);
      return Number(reader.getRowObjectsJson()[0]?.n ?? 0);
    });
  }

  private async countRows(connection: DuckDBConnection, coldTable: string, partition: string): Promise<number> {
    const reader = await connection.runAndReadAll(
      `SELECT count(*)::BIGINT AS n FROM ${this.qualified(coldTable)} WHERE ${SOURCE_PARTITION_COLUMN} = $partition`,
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
          sql: `SELECT ${list.join(', ')} FROM ${this.qualified(source.coldTable)} WHERE ${SOURCE_PARTITION_COLUMN} = $partition`,
          params: { partition: source.partition },
        },
        client,
        target,
        onProgress,
      ),
    );
  }

  /** Removes one partition's cold rows and manifest entry (compensation); safe to repeat. */
  async deletePartition(source: PartitionRef & { coldTable: string }): Promise<number> {
    return this.withConnection((connection) =>
      inDuckTransaction(connection, async () => {
        let deleted = 0;
        if (await this.tableExists(connection, source.coldTable)) {
          const result = await connection.run(
            `DELETE FROM ${this.qualified(source.coldTable)} WHERE ${SOURCE_PARTITION_COLUMN} = $partition`,
            { partition: source.partition },
          );
          deleted = result.rowsChanged;
        }
        await connection.run(
          `DELETE FROM ${this.qualified(COLD_MANIFEST_TABLE)} WHERE table_schema = $schema AND table_name = $table AND partition_name = $partition`,
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
