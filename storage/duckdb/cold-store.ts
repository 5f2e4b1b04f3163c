import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type pg from 'pg';
import type { PgTarget } from '../postgres/pg-target.ts';
import { quoteIdent } from '../sql-quoting.ts';
import type { ColumnMapping } from './duck-type-mapping.ts';
import { inDuckTransaction } from './duck-transaction.ts';
import { attachPostgres, copyExportSelect, copyToCsvFile, csvSelect, extensionSelect } from './pg-transport.ts';

/** How this process reads PostgreSQL from DuckDB (see pg-transport.ts). */
export type PgReadMode = 'extension' | 'copy';

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
}

/**
 * The cold tier: one DuckDB file, opened read-write by exactly one process (the one polling the cold task queue).
 * Connections opened here share the file through DuckDB's MVCC.
 */
export class ColdStore {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly filePath: string,
    readonly readMode: PgReadMode,
    private readonly spoolDir: string,
  ) {}

  static async open(options: { filePath: string; extensionDir?: string; pgTarget: PgTarget }): Promise<ColdStore> {
    mkdirSync(path.dirname(options.filePath), { recursive: true });
    const spoolDir = path.join(path.dirname(options.filePath), 'spool');
    rmSync(spoolDir, { recursive: true, force: true });
    mkdirSync(spoolDir, { recursive: true });
    const settings: Record<string, string> = { autoinstall_known_extensions: 'false' };
    if (options.extensionDir) settings.extension_directory = options.extensionDir;
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(options.filePath, settings);
    } catch (error) {
      throw new Error(`cannot open the cold store ${options.filePath}: ${(error as Error).message.split('\n')[0]}`);
    }
    const store = new ColdStore(instance, options.filePath, options.extensionDir ? 'extension' : 'copy', spoolDir);
    await store.withConnection(async (connection) => {
      // Timestamps are UTC everywhere in ducktier. Without the ICU extension DuckDB already works in UTC and has no
      // TimeZone setting to change; with it, pin the setting so the host's zone never shifts a report's bounds.
      await connection.run(`SET TimeZone = 'UTC'`).catch(() => {});
      if (store.readMode === 'extension') await attachPostgres(connection, options.pgTarget);
      await connection.run(`
        CREATE TABLE IF NOT EXISTS ${COLD_MANIFEST_TABLE} (
          table_schema VARCHAR NOT NULL, table_name VARCHAR NOT NULL, partition_name VARCHAR NOT NULL,
          cold_table VARCHAR NOT NULL, rows BIGINT NOT NULL, written_at TIMESTAMPTZ NOT NULL,
          PRIMARY KEY (table_schema, table_name, partition_name))`);
    });
    return store;
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
        (await connection.runAndReadAll(`SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = $1`, [coldTable]))
          .getRowObjectsJson()
          .map((row) => [String(row.column_name), String(row.data_type)]),
      );
      if (existing.size === 0) {
        const list = columns.map((c) => `${quoteIdent(c.name)} ${c.duckType}`).join(', ');
        await connection.run(`CREATE TABLE IF NOT EXISTS ${quoteIdent(coldTable)} (${list}, ${SOURCE_PARTITION_COLUMN} VARCHAR NOT NULL)`);
        return;
      }
      for (const column of columns.filter((c) => !existing.has(c.name))) {
        await connection.run(`ALTER TABLE ${quoteIdent(coldTable)} ADD COLUMN ${quoteIdent(column.name)} ${column.duckType}`);
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
  ): Promise<number> {
    await this.ensureColdTable(source.coldTable, source.columns);
    const spool = this.readMode === 'copy' ? this.spoolFile() : undefined;
    try {
      if (spool) {
        const client = await pgPool.connect();
        try {
          await copyToCsvFile(client, copyExportSelect(source.schema, source.partition, source.columns), spool);
        } finally {
          client.release();
        }
      }
      const partitionLiteral = `, $partition AS ${SOURCE_PARTITION_COLUMN}`;
      const select = spool
        ? csvSelect(spool, source.columns, partitionLiteral)
        : extensionSelect(source.schema, source.partition, source.columns, partitionLiteral);
      const names = [...source.columns.map((c) => quoteIdent(c.name)), SOURCE_PARTITION_COLUMN].join(', ');
      return await this.withConnection((connection) =>
        inDuckTransaction(connection, async () => {
          await connection.run(`DELETE FROM ${quoteIdent(source.coldTable)} WHERE ${SOURCE_PARTITION_COLUMN} = $partition`, { partition: source.partition });
          const stopPolling = pollProgress(connection, onProgress);
          // A cancelled move interrupts the statement; the transaction then rolls back and leaves nothing behind.
          const interrupt = () => connection.interrupt();
          signal?.addEventListener('abort', interrupt);
          let inserted: number;
          try {
            signal?.throwIfAborted();
            const insert = connection.run(`INSERT INTO ${quoteIdent(source.coldTable)} (${names}) ${select}`, { partition: source.partition });
            onStage?.('extracting');
            inserted = (await insert).rowsChanged;
          } finally {
            stopPolling();
            signal?.removeEventListener('abort', interrupt);
          }
          await connection.run(
            `INSERT OR REPLACE INTO ${COLD_MANIFEST_TABLE} VALUES ($schema, $table, $partition, $cold, $rows, now())`,
            { schema: source.schema, table: source.table, partition: source.partition, cold: source.coldTable, rows: inserted },
          );
          onStage?.('written');
          return inserted;
        }),
      );
    } finally {
      if (spool) rmSync(spool, { force: true });
    }
  }

  /** Rows of one partition in the cold table (0 when the table does not exist yet). Read-only. */
  async countPartition(coldTable: string, partition: string): Promise<number> {
    return this.withConnection(async (connection) => {
      if (!(await this.tableExists(connection, coldTable))) return 0;
      const reader = await connection.runAndReadAll(
        `SELECT count(*)::BIGINT AS n FROM ${quoteIdent(coldTable)} WHERE ${SOURCE_PARTITION_COLUMN} = $partition`,
        { partition },
      );
      return Number(reader.getRowObjectsJson()[0]?.n ?? 0);
    });
  }

  /** Removes one partition's cold rows and manifest entry (compensation); safe to repeat. */
  async deletePartition(source: Pick<PartitionSource, 'schema' | 'table' | 'partition' | 'coldTable'>): Promise<number> {
    return this.withConnection((connection) =>
      inDuckTransaction(connection, async () => {
        let deleted = 0;
        if (await this.tableExists(connection, source.coldTable)) {
          const result = await connection.run(`DELETE FROM ${quoteIdent(source.coldTable)} WHERE ${SOURCE_PARTITION_COLUMN} = $partition`, { partition: source.partition });
          deleted = result.rowsChanged;
        }
        await connection.run(`DELETE FROM ${COLD_MANIFEST_TABLE} WHERE table_schema = $schema AND table_name = $table AND partition_name = $partition`, {
          schema: source.schema,
          table: source.table,
          partition: source.partition,
        });
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

/** Reports DuckDB's own progress counter for the running statement every two seconds. */
function pollProgress(connection: DuckDBConnection, onProgress: (rowsProcessed: number) => void): () => void {
  const timer = setInterval(() => {
    try {
      onProgress(Number(connection.progress.rows_processed));
    } catch {
      // Progress is advisory; a failed read must not disturb the copy.
    }
  }, 2_000);
  return () => clearInterval(timer);
}
