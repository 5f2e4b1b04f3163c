import type { DuckDBConnection } from '@duckdb/node-api';
import type pg from 'pg';

import type { ColdStoreIdentity } from '../../config/cold-config.ts';
import type { Federation } from '../../config/config.ts';
import type { MovePace } from '../../config/move-pace.ts';
import type { ColumnMapping } from '../duckdb/duck-type-mapping.ts';
import type { InstantSelection } from '../verification/instant-filter.ts';
import type { RowFingerprint } from '../verification/row-fingerprint.ts';
import type { MaintenanceSettings, MaintenanceSummary } from './cold-maintenance.ts';
import type { DuckWork, MemoryLimits } from './memory-budget.ts';

/** The column recording which PostgreSQL partition a cold row came from: moves replace and reports filter by it. */
export const SOURCE_PARTITION_COLUMN = '_ducktier_partition';

/** The cold tier's own manifest of what each move wrote, committed in the same transaction as the rows. */
export const COLD_MANIFEST_TABLE = 'ducktier_cold_partitions';

/**
 * Where a copy stands, reported to an optional hook (fault-injection tests crash the worker there): `extracting` once
 * the INSERT ... SELECT reading the partition is under way, `written` once the rows and manifest entry are written but
 * not yet committed.
 */
export type CopyStage = 'extracting' | 'written';

/** How a copy into the cold tier runs. */
export interface CopyOptions {
  /** Hears the rows read so far. */
  onProgress?: (rowsRead: number) => void;
  /** Interrupts the copy, which then leaves nothing behind. */
  signal?: AbortSignal;
  onStage?: (stage: CopyStage) => void;
  /**
   * `gentle`: PostgreSQL and DuckDB take turns, a range of pages at a time, DuckDB reading each on one thread (see
   * config/move-pace.ts). Default `full`.
   */
  pace?: MovePace;
}

/** One PostgreSQL partition as a move reads it. */
export interface PartitionSource {
  schema: string;
  table: string;
  partition: string;
  coldTable: string;
  columns: ColumnMapping[];
  /** The policy's time column (one of `columns`): late changes are narrowed to its instants. */
  timeColumn: string;
}

/** A cold table and the PostgreSQL table whose rows it holds. */
export type ColdTableRef = Pick<PartitionSource, 'schema' | 'table' | 'coldTable'>;

/** Names one partition's cold copy: its table's schema and name, the partition, and the cold table holding it. */
export type PartitionRef = Pick<PartitionSource, 'schema' | 'table' | 'partition'>;

/** One committed write of a partition's cold rows: how many the partition now has, and the write's identity. */
export interface ColdWrite {
  rows: number;
  writeId: string;
}

/**
 * One report run's view of the cold tier, inside the DuckDB transaction it runs in (the counterpart of its PostgreSQL
 * snapshot): the relation to read each cold table from, and whether it holds the writes that PostgreSQL's snapshot
 * says serve the partitions.
 */
export interface ColdSnapshot {
  /** The lake snapshot the run reads (pinned in its PostgreSQL snapshot); null for a DuckDB file. */
  readonly version: number | null;
  /** A DuckDB relation holding the cold table's rows as this run sees them. */
  relation(coldTable: string): string;
  /**
   * False when the run's view of the cold tier lacks one of these writes (it is older than PostgreSQL's snapshot, or
   * a copy was discarded since): the caller starts the run again.
   */
  holdsWrites(
    table: { schema: string; table: string },
    writes: Array<{ partition: string; writeId: string | null }>,
  ): Promise<boolean>;
}

/**
 * A report's hold on the cold tier's current state, taken before its PostgreSQL snapshot opens: maintenance keeps what
 * the held version (and any later one) reads until it is released. A DuckDB file needs none (null version).
 */
export interface SnapshotLease {
  readonly version: number | null;
  release(): Promise<void>;
}

/** A condition over a cold table's columns in DuckDB's SQL, with its `$name` parameters' values. */
export interface ColdCondition {
  sql: string;
  params: Record<string, string>;
}

/** Runs a PostgreSQL query in the report's snapshot (ducktier's own catalog queries, no user values). */
export type SnapshotQuery = (sql: string) => Promise<Array<Record<string, unknown>>>;

/**
 * Whether a cold store's DuckDB reads PostgreSQL's rows through the postgres extension, or by COPY because the
 * extension is not to be used (`missing` says why, for a report that asks for the extension).
 */
export type PostgresExtensionUse = 'use' | { missing: string };

/**
 * The cold tier, whatever its format: what moves write, verify and discard, and what reports read. Every write is
 * one transaction that replaces a partition's rows (or some instants of them) together with its manifest entry, so
 * repeating one leaves exactly one copy.
 */
export interface ColdStore {
  /** How DuckDB reads PostgreSQL in this process (moves, and reports that ask for `auto`). */
  readonly federation: Federation;
  /** Why DuckDB's postgres extension is not loaded here (federation `copy`), for a report that asks for it. */
  readonly withoutExtension: string | undefined;
  /** Where the cold rows live, for people: a file, or a lake's data path. */
  readonly location: string;
  /** The store as the deployment records it (ducktier.cold_store). */
  readonly identity: ColdStoreIdentity;

  /** A cold table (or the manifest) as a DuckDB relation at its latest state, for tools and tests. */
  relation(table: string): string;
  /**
   * A DuckDB connection of this store (PostgreSQL attached as `pg` when reading through the extension, its cached
   * session checked first), under the memory limit its kind of work needs (see memory-budget.ts; moves by default).
   */
  withConnection<T>(work: (connection: DuckDBConnection) => Promise<T>, kind?: DuckWork): Promise<T>;
  /** DuckDB's memory limits for moves and for reports from now on (see memory-budget.ts). */
  setMemoryLimits(limits: MemoryLimits): Promise<void>;
  /**
   * Creates the cold table from the mapped columns, or makes it follow PostgreSQL's schema changes since (columns added,
   * dropped, renamed, widened); refuses (SchemaChangeNotCarried) a change it cannot follow, changing nothing.
   */
  ensureColdTable(of: ColdTableRef, columns: ColumnMapping[]): Promise<void>;
  /**
   * Replaces the cold copy of one partition: delete what an earlier attempt wrote, stream the partition in, record it
   * in the manifest (see CopyOptions).
   */
  writePartition(source: PartitionSource, pgPool: pg.Pool, options: CopyOptions): Promise<ColdWrite>;
  /** Replaces the partition's cold rows at these instants of its time column with PostgreSQL's current rows there. */
  writeChangedRows(source: PartitionSource, pgPool: pg.Pool, instants: readonly string[]): Promise<ColdWrite>;
  /** The content fingerprint of one partition's cold rows, optionally of some instants only. */
  fingerprintPartition(source: PartitionSource, selection?: InstantSelection): Promise<RowFingerprint>;
  /** The partition's manifest entry: the rows and identity of the write that last committed them. */
  manifestEntry(ref: PartitionRef): Promise<ColdWrite | undefined>;
  /** Rows of one partition in the cold table (0 when the table does not exist yet). */
  countPartition(coldTable: string, partition: string): Promise<number>;
  /** Rows of every partition in the cold table (0 when the table does not exist yet). */
  countTable(coldTable: string): Promise<number>;
  /**
   * Streams one partition's cold rows into PostgreSQL (a restore): `COPY <target.table> (<target.columns>)` on
   * `client`, in its transaction, each value rendered as PostgreSQL's input text. Returns the rows copied.
   */
  copyPartitionToPostgres(
    source: PartitionSource,
    client: pg.ClientBase,
    target: { table: string; columns: string[] },
    onProgress?: (rows: number) => void,
  ): Promise<number>;
  /** Rows matching a condition (DuckDB's rendering of it) per partition of the cold table; none when it does not exist. */
  countMatching(coldTable: string, condition: ColdCondition): Promise<Map<string, number>>;
  /**
   * Deletes one partition's rows matching a condition (an erasure) and records the rows left in its manifest entry,
   * keeping its write ID (the move record names it; the copy it identifies has only lost rows). One cold transaction;
   * safe to repeat. Returns the rows deleted.
   */
  eraseRows(ref: PartitionRef & { coldTable: string }, condition: ColdCondition): Promise<number>;
  /** Removes one partition's cold rows and its manifest entry; safe to repeat. Returns the rows removed. */
  deletePartition(ref: PartitionRef & { coldTable: string }): Promise<number>;
  /** A report run's view of the cold tier, inside `connection`'s open transaction (see ColdSnapshot). */
  openSnapshot(connection: DuckDBConnection, inSnapshot: SnapshotQuery): Promise<ColdSnapshot>;
  /**
   * Exports one partition's cold rows to `target` (a local path or s3:// URL) as zstd Parquet, replacing what an earlier
   * attempt wrote there, and returns the fingerprint of what the file holds, read back from it.
   */
  archivePartition(source: PartitionSource, target: string): Promise<RowFingerprint>;
  /** A lease on the current state for a report run named `holder` (see SnapshotLease). */
  leaseSnapshot(pgPool: pg.Pool, holder: string): Promise<SnapshotLease>;
  /** One maintenance run: what applies to the format, never removing what a leased report may read. */
  maintain(pgPool: pg.Pool, settings: MaintenanceSettings): Promise<MaintenanceSummary>;
  /** A fresh file path for COPY spools, removed by the caller. */
  spoolFile(): string;
  close(): void;
}
