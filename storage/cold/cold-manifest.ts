import type { DuckDBConnection } from '@duckdb/node-api';

import type { PartitionRef } from './cold-store.ts';

/** The columns every manifest has, one row per partition write: what `ColdManifest.current` returns. */
export const MANIFEST_COLUMNS = 'table_schema, table_name, partition_name, cold_table, rows, write_id';

/** One write of a partition's cold rows, as the manifest records it. */
export interface ManifestEntry extends PartitionRef {
  coldTable: string;
  rows: number;
  writeId: string;
}

/**
 * How a format keeps its manifest (the cold tier's own record of what each move wrote, committed in the same
 * transaction as the rows): each write and each removal is recorded inside its transaction, and `current` reads the
 * entries that serve now.
 */
export interface ColdManifest {
  recordWrite(connection: DuckDBConnection, table: string, entry: ManifestEntry): Promise<void>;
  recordRemoval(connection: DuckDBConnection, table: string, ref: PartitionRef & { coldTable: string }): Promise<void>;
  /**
   * A relation with MANIFEST_COLUMNS of the entries that serve: one per partition whose rows the cold tier holds. `table`
   * is the manifest table as a relation (possibly pinned to a version).
   */
  current(table: string): string;
}

const refParams = (ref: PartitionRef) => ({ schema: ref.schema, table: ref.table, partition: ref.partition });

/** A DuckDB file's manifest: one row per partition (its primary key), replaced by each write, deleted by a removal. */
export const REPLACING_MANIFEST: ColdManifest = {
  async recordWrite(connection, table, entry) {
    await connection.run(
      `INSERT OR REPLACE INTO ${table} (${MANIFEST_COLUMNS}, written_at)
       VALUES ($schema, $table, $partition, $cold, $rows, $writeId, now())`,
      { ...refParams(entry), cold: entry.coldTable, rows: entry.rows, writeId: entry.writeId },
    );
  },
  async recordRemoval(connection, table, ref) {
    await connection.run(
      `DELETE FROM ${table} WHERE table_schema = $schema AND table_name = $table AND partition_name = $partition`,
      refParams(ref),
    );
  },
  current: (table) => table,
};

/**
 * A lake's manifest: insert-only, the latest row per partition wins (`op` says whether it wrote or removed the rows).
 * Deleting or updating a row would rewrite the manifest's shared data file, so two moves of different partitions would
 * conflict; appends never do. Rows are ordered by the lake snapshot that committed them (DuckLake's `snapshot_id`
 * column, commit order, kept by compaction), never by a clock. Maintenance may delete superseded rows.
 */
export const APPENDING_MANIFEST: ColdManifest = {
  async recordWrite(connection, table, entry) {
    await connection.run(
      `INSERT INTO ${table} (${MANIFEST_COLUMNS}, op, written_at)
       VALUES ($schema, $table, $partition, $cold, $rows, $writeId, 'write', now())`,
      { ...refParams(entry), cold: entry.coldTable, rows: entry.rows, writeId: entry.writeId },
    );
  },
  async recordRemoval(connection, table, ref) {
    // Only a partition with a serving write needs a removal row. Appending one for nothing would write a file, and a
    // store that refuses writes (a full disk, a bucket refusing them) could then not even compensate a failed copy.
    const serving = await connection.runAndReadAll(
      `SELECT 1 FROM ${currentLakeEntries(table)}
        WHERE table_schema = $schema AND table_name = $table AND partition_name = $partition`,
      refParams(ref),
    );
    if (serving.currentRowCount === 0) return;
    await connection.run(
      `INSERT INTO ${table} (${MANIFEST_COLUMNS}, op, written_at)
       VALUES ($schema, $table, $partition, $cold, 0, NULL, 'delete', now())`,
      { ...refParams(ref), cold: ref.coldTable },
    );
  },
  current: (table) => currentLakeEntries(table),
};

function currentLakeEntries(table: string): string {
  return `(SELECT ${MANIFEST_COLUMNS} FROM ${table}
       QUALIFY row_number() OVER (PARTITION BY table_schema, table_name, partition_name ORDER BY snapshot_id DESC, rowid DESC) = 1
         AND op = 'write')`;
}
