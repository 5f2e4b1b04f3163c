import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';

import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';

import type { ColdStoreIdentity } from '../../config/cold-config.ts';
import type { Federation } from '../../config/config.ts';
import type { MovePace } from '../../config/move-pace.ts';
import { firstLine } from '../../errors/first-line.ts';
import { inDuckTransaction } from '../duckdb/duck-transaction.ts';
import { type ColumnMapping, timeColumnOf } from '../duckdb/duck-type-mapping.ts';
import { pgInputText, streamRowsToPostgres } from '../duckdb/pg-return-transport.ts';
import {
  copyExportSelect,
  copyToCsvFile,
  csvSelect,
  extensionSelect,
  PG_CATALOG_ALIAS,
  tablesStaleInExtension,
} from '../duckdb/pg-transport.ts';
import { CopyProgress } from '../postgres/pg-copy-progress.ts';
import { forEachPageRange, PAGES_PER_RANGE } from '../postgres/pg-page-ranges.ts';
import { withPooledSession } from '../postgres/pg-pool.ts';
import { quoteIdent, quoteLiteral } from '../sql-quoting.ts';
import { instantFilter, type InstantSelection } from '../verification/instant-filter.ts';
import { fingerprintSelect, type RowFingerprint } from '../verification/row-fingerprint.ts';
import type { MaintenanceSettings, MaintenanceSummary } from './cold-maintenance.ts';
import type { ColdManifest, ManifestEntry } from './cold-manifest.ts';
import {
  type ColdColumn,
  type ColdSchemaPlan,
  isUnchanged,
  originComment,
  parseOriginComment,
  planColdSchema,
  renamesCollide,
} from './cold-schema-changes.ts';
import {
  COLD_MANIFEST_TABLE,
  type ColdCondition,
  type ColdSnapshot,
  type ColdStore,
  type ColdTableRef,
  type ColdWrite,
  type CopyOptions,
  type CopyStage,
  type PartitionRef,
  type PartitionSource,
  type SnapshotLease,
  type SnapshotQuery,
  SOURCE_PARTITION_COLUMN,
} from './cold-store.ts';
import { ConnectionGate } from './connection-gate.ts';
import { type DuckWork, MemoryBudget, type MemoryLimits } from './memory-budget.ts';
import { failedForSharing, ReportSharing } from './report-sharing.ts';
import { syncedAsItGoes, type WriteSync } from './write-flusher.ts';

/** Attempts at a schema change that lost to a concurrent one (another worker creating the same table). */
const SCHEMA_CHANGE_ATTEMPTS = 5;
/** A DuckDB or DuckLake commit that lost to a concurrent transaction; repeating the work is the answer. */
const COMMIT_CONFLICT = /Transaction conflict|write-write conflict|Failed to commit DuckLake transaction/;

/** A cold table's column definitions, with the source-partition column every cold row carries. */
function columnDefinitions(columns: ColumnMapping[]): string {
  return `${columns.map((c) => `${quoteIdent(c.name)} ${c.duckType}`).join(', ')}, ${SOURCE_PARTITION_COLUMN} VARCHAR NOT NULL`;
}

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
    private instance: DuckDBInstance,
    readonly federation: Federation,
    readonly withoutExtension: string | undefined,
    readonly location: string,
    private readonly spoolDir: string,
    private readonly place: TablePlace,
    /** The limits of memoryBudget; `instance` was opened with the moves' limit. */
    memoryLimits: MemoryLimits,
  ) {
    this.memoryBudget = new MemoryBudget(memoryLimits, memoryLimits.move, () => this.instance.connect());
  }

  /** Set once PostgreSQL is attached (see attachPostgres): from then on every connection checks its cached session. */
  protected postgresAttached = false;

  /** The uses of `instance` in flight, which a holder (a DuckDB file's compaction) waits out before replacing it. */
  private readonly gate = new ConnectionGate();
  /** DuckDB's instance-wide memory limit, set for the work in flight (moves, or reports). */
  private readonly memoryBudget: MemoryBudget;
  private readonly reportSharing = new ReportSharing();
  private committedWrites = 0;

  /**
   * Write transactions this store has committed so far. Every write to the cold tier goes through the store's own
   * methods (moves, erasures, retirements, schema changes), each one write transaction counted here: a DuckDB file's
   * compaction compares the count before its copy and at its swap to know whether the file changed in between.
   */
  protected get writesCommitted(): number {
    return this.committedWrites;
  }

  abstract openSnapshot(connection: DuckDBConnection, inSnapshot: SnapshotQuery): Promise<ColdSnapshot>;
  abstract leaseSnapshot(pgPool: pg.Pool, holder: string): Promise<SnapshotLease>;
  abstract maintain(pgPool: pg.Pool, settings: MaintenanceSettings): Promise<MaintenanceSummary>;
  abstract readonly identity: ColdStoreIdentity;
  /**
   * How a write beginning now syncs the files it writes on this machine's disks (nothing, for a lake on S3): a copy
   * does so as it goes and before it commits (see WriteFlusher).
   */
  protected abstract writeSync(): Promise<WriteSync>;

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

  /**
   * Runs `work` on a connection of its own, with the memory limit its kind needs. A report that runs out of memory beside
   * other reports (or fails because one did) runs once more alone, on a new connection (see ReportSharing).
   */
  async withConnection<T>(work: (connection: DuckDBConnection) => Promise<T>, kind: DuckWork = 'move'): Promise<T> {
    const attempt = () =>
      this.gate.use(() =>
        this.memoryBudget.during(kind, async () => {
          const connection = await this.instance.connect();
          try {
            await this.prepareConnection(connection);
            if (this.postgresAttached) await this.primePostgresSession(connection);
            return await work(connection);
          } finally {
            connection.closeSync();
          }
        }),
      );
    if (kind !== 'report') return attempt();
    return this.reportSharing.run(attempt, failedForSharing, (error) =>
      console.warn(`ducktier: a report failed beside other reports (${firstLine(error)}); running it again alone`),
    );
  }

  setMemoryLimits(limits: MemoryLimits): Promise<void> {
    return this.gate.use(() => this.memoryBudget.setLimits(limits));
  }

  /** The memory limit an instance replacing this one opens with (see withInstanceAlone). */
  protected get openingMemoryLimit(): string {
    return this.memoryBudget.wanted;
  }

  /** What a format does to each connection before its use (a DuckDB file attaches PostgreSQL again after a swap). */
  protected async prepareConnection(_connection: DuckDBConnection): Promise<void> {}

  /**
   * Runs `work` with the DuckDB instance alone: new uses wait, those in flight are waited out for up to `drainMs`
   * (undefined when they did not end in time, and `work` did not run). `work` gets the instance, may close it, and
   * returns the instance every later use gets; a new one is opened with openingMemoryLimit.
   */
  protected async withInstanceAlone<T>(
    drainMs: number,
    work: (instance: DuckDBInstance) => Promise<{ instance: DuckDBInstance; result: T }>,
  ): Promise<{ result: T } | undefined> {
    return this.gate.alone(drainMs, async () => {
      const opening = this.openingMemoryLimit;
      const { instance, result } = await work(this.instance);
      if (instance !== this.instance) this.memoryBudget.replaced(opening);
      this.instance = instance;
      return result;
    });
  }

  /** One write transaction of this store (see writesCommitted). */
  private async inWriteTransaction<T>(connection: DuckDBConnection, work: () => Promise<T>): Promise<T> {
    const result = await inDuckTransaction(connection, work);
    this.committedWrites++;
    return result;
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
   * Creates the cold table from the mapped columns, or makes it follow PostgreSQL's schema changes since (see
   * cold-schema-changes.ts), in one transaction (a lake's rebuild prepares its new table in one before). Another
   * connection or worker may be making the same change: the loser of that race looks again and finds it done. A change
   * the cold table cannot follow is refused and changes nothing.
   */
  async ensureColdTable(of: ColdTableRef, columns: ColumnMapping[]): Promise<void> {
    await this.withConnection(async (connection) => {
      for (let attempt = 1; ; attempt++) {
        const existing = await this.coldColumns(connection, of.coldTable);
        const transactions = existing ? this.evolution(of, existing, columns) : [this.creation(of.coldTable, columns)];
        if (transactions.length === 0) return;
        try {
          for (const statements of transactions) {
            await this.inWriteTransaction(connection, async () => {
              for (const statement of statements) await connection.run(statement);
            });
          }
          return;
        } catch (error) {
          if (attempt >= SCHEMA_CHANGE_ATTEMPTS || !COMMIT_CONFLICT.test((error as Error).message)) throw error;
        }
      }
    });
  }

  /** The cold table's columns (but the source partition's) with what each recorded; undefined when it does not exist. */
  private async coldColumns(connection: DuckDBConnection, table: string): Promise<ColdColumn[] | undefined> {
    const reader = await connection.runAndReadAll(
      `SELECT column_name, data_type, comment FROM duckdb_columns() WHERE ${this.tablesIn} AND table_name = $1
        ORDER BY column_index`,
      [table],
    );
    const rows = reader.getRowObjectsJson();
    if (rows.length === 0) return undefined;
    return rows
      .filter((row) => row.column_name !== SOURCE_PARTITION_COLUMN)
      .map((row) => {
        const recorded = parseOriginComment(row.comment === null ? null : String(row.comment));
        return { name: String(row.column_name), duckType: String(row.data_type), ...(recorded ? { recorded } : {}) };
      });
  }

  private creation(coldTable: string, columns: ColumnMapping[]): string[] {
    return [
      ...this.createTableStatements(coldTable, columnDefinitions(columns)),
      ...this.commentStatements(
        coldTable,
        columns.map((column) => ({ name: column.name, comment: originComment(column) })),
      ),
    ];
  }

  /** The transactions, each a list of statements, that make the cold table follow PostgreSQL's columns. */
  private evolution(of: ColdTableRef, existing: ColdColumn[], columns: ColumnMapping[]): string[][] {
    const plan = planColdSchema(of, existing, columns);
    if (isUnchanged(plan)) return [];
    return this.altersInPlace(plan)
      ? [this.alterStatements(of.coldTable, plan)]
      : this.rebuildTransactions(of.coldTable, plan);
  }

  /**
   * Whether this format applies the plan with ALTER statements (otherwise the table is rebuilt, see
   * rebuildTransactions). A DuckDB file alters every widening in place, and passes colliding renames through spare names.
   */
  protected altersInPlace(_plan: ColdSchemaPlan): boolean {
    return true;
  }

  private alterStatements(coldTable: string, plan: ColdSchemaPlan): string[] {
    const table = this.relation(coldTable);
    const spare = (index: number) => `_ducktier_renaming_${index}`;
    const renames = renamesCollide(plan)
      ? [
          ...plan.renames.map((rename, index) => ({ from: rename.from, to: spare(index) })),
          ...plan.renames.map((rename, index) => ({ from: spare(index), to: rename.to })),
        ]
      : plan.renames;
    return [
      ...plan.drops.map((name) => `ALTER TABLE ${table} DROP COLUMN ${quoteIdent(name)}`),
      ...renames.map((r) => `ALTER TABLE ${table} RENAME COLUMN ${quoteIdent(r.from)} TO ${quoteIdent(r.to)}`),
      ...plan.retypes.map((r) => `ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(r.name)} SET DATA TYPE ${r.to}`),
      // Rows moved before the column was added take what PostgreSQL gave its rows then (the default, evaluated once).
      // The default stays on the cold column, unused (every write names every column): dropping it in the same
      // transaction corrupts a DuckLake's catalog for good (DuckDB 1.4.4: "Column with name ... already exists!").
      ...plan.adds.map(
        (c) =>
          `ALTER TABLE ${table} ADD COLUMN ${quoteIdent(c.name)} ${c.duckType}${c.missingValue === undefined ? '' : ` DEFAULT ${quoteLiteral(c.missingValue)}`}`,
      ),
      ...this.commentStatements(coldTable, plan.comments),
    ];
  }

  /**
   * Rebuilds the table with the plan's columns: a new table filled from the old one (values cast to their widened
   * types, renamed columns under their new names), which then takes the old one's place. It rewrites every cold row.
   * The new, empty table is committed first: rows inserted into a lake table created in the same transaction get row
   * IDs PostgreSQL's bigint cannot hold (DuckDB 1.4.4: "bigint out of range" at commit). Readers see the old table
   * until the second transaction commits; a leftover empty table is replaced by the next attempt.
   */
  private rebuildTransactions(coldTable: string, plan: ColdSchemaPlan): string[][] {
    const rebuilt = `${coldTable}_ducktier_rebuild`;
    const target = [
      ...plan.columns.map(({ mapping, from }) => ({
        name: mapping.name,
        type: mapping.duckType,
        value: `CAST(${from ? quoteIdent(from.name) : mapping.missingValue !== undefined ? quoteLiteral(mapping.missingValue) : 'NULL'} AS ${mapping.duckType})`,
      })),
      ...plan.kept.map((column) => ({ name: column.name, type: column.duckType, value: quoteIdent(column.name) })),
    ];
    const names = [...target.map((c) => quoteIdent(c.name)), SOURCE_PARTITION_COLUMN].join(', ');
    return [
      [
        `DROP TABLE IF EXISTS ${this.relation(rebuilt)}`,
        ...this.createTableStatements(
          rebuilt,
          `${target.map((c) => `${quoteIdent(c.name)} ${c.type}`).join(', ')}, ${SOURCE_PARTITION_COLUMN} VARCHAR NOT NULL`,
        ),
      ],
      [
        `INSERT INTO ${this.relation(rebuilt)} (${names})
          SELECT ${target.map((c) => c.value).join(', ')}, ${SOURCE_PARTITION_COLUMN} FROM ${this.relation(coldTable)}`,
        `DROP TABLE ${this.relation(coldTable)}`,
        `ALTER TABLE ${this.relation(rebuilt)} RENAME TO ${quoteIdent(coldTable)}`,
        ...this.commentStatements(
          coldTable,
          plan.columns.map(({ mapping }) => ({ name: mapping.name, comment: originComment(mapping) })),
        ),
      ],
    ];
  }

  private commentStatements(coldTable: string, comments: ColdSchemaPlan['comments']): string[] {
    return comments.map(
      ({ name, comment }) =>
        `COMMENT ON COLUMN ${this.relation(coldTable)}.${quoteIdent(name)} IS ${quoteLiteral(comment)}`,
    );
  }

  /**
   * Replaces the cold copy of one partition in a single DuckDB transaction: delete what an earlier attempt wrote,
   * stream the partition in, record it in the manifest. Repeating it leaves exactly one copy.
   */
  async writePartition(source: PartitionSource, pgPool: pg.Pool, options: CopyOptions): Promise<ColdWrite> {
    return this.replaceRows(source, pgPool, undefined, options);
  }

  /**
   * Replaces the partition's cold rows at the given instants of its time column with PostgreSQL's current rows there:
   * the difference left by writes during a move. One DuckDB transaction; repeating it changes nothing more.
   */
  async writeChangedRows(source: PartitionSource, pgPool: pg.Pool, instants: readonly string[]): Promise<ColdWrite> {
    return this.replaceRows(source, pgPool, { mode: 'only', instants }, {});
  }

  private async replaceRows(
    source: PartitionSource,
    pgPool: pg.Pool,
    selection: InstantSelection | undefined,
    { onProgress, signal, onStage, pace = 'full' }: CopyOptions,
  ): Promise<ColdWrite> {
    await this.ensureColdTable(source, source.columns);
    const timeColumn = timeColumnOf(source.columns, source);
    const pgWhere = selection ? instantFilter('postgres', timeColumn, selection) : '';
    const duckWhere = selection ? ` AND ${instantFilter('duckdb', timeColumn, selection)}` : '';
    // Through spool files, PostgreSQL and DuckDB take turns (a range of pages each) instead of working at once; at the
    // gentle pace DuckDB reads each range on one thread, so the copy keeps about one core busy.
    const spooled = this.federation === 'copy' || pace === 'gentle';
    const stopWatching = onProgress
      ? new CopyProgress(pgPool, source.schema, source.partition).watch(onProgress)
      : () => {};
    try {
      const partitionLiteral = `, $partition AS ${SOURCE_PARTITION_COLUMN}`;
      const extensionRead = spooled
        ? undefined
        : extensionSelect(source.schema, source.partition, source.columns, {
            extraColumns: partitionLiteral,
            where: pgWhere,
            staleInCatalog: pgWhere === '' && (await this.staleInCatalog(source)),
          });
      const names = [...source.columns.map((c) => quoteIdent(c.name)), SOURCE_PARTITION_COLUMN].join(', ');
      const coldTable = this.relation(source.coldTable);
      return await this.withConnection((connection) =>
        this.inWriteTransaction(connection, async () => {
          // Every file this transaction writes is synced as it goes and once more before the commit (see WriteFlusher).
          const written = await syncedAsItGoes(await this.writeSync(), async () => {
            await connection.run(`DELETE FROM ${coldTable} WHERE ${SOURCE_PARTITION_COLUMN} = $partition${duckWhere}`, {
              partition: source.partition,
            });
            const insert = (select: string, started?: () => void) =>
              interruptible(connection, signal, async () => {
                const running = connection.run(`INSERT INTO ${coldTable} (${names}) ${select}`, {
                  partition: source.partition,
                });
                started?.();
                return (await running).rowsChanged;
              });
            const inserted = spooled
              ? await this.insertSpooled(
                  pgPool,
                  source,
                  { selection, pgWhere, signal, onStage, pagesPerRange: spoolPagesPerRange(pace) },
                  (spool) => insert(csvSelect(spool, source.columns, partitionLiteral, { parallel: pace === 'full' })),
                )
              : await insert(extensionRead!, () => onStage?.('extracting'));
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
            return { rows, writeId };
          });
          onStage?.('written');
          return written;
        }),
      );
    } finally {
      stopWatching();
    }
  }

  /** Whether DuckDB's postgres extension knows the partition with columns older than PostgreSQL's (see pg-transport). */
  private async staleInCatalog(source: PartitionSource): Promise<boolean> {
    const stale = await this.withConnection((connection) =>
      tablesStaleInExtension(connection, source.schema, [source.partition], source.columns),
    );
    return stale.size > 0;
  }

  /** The content fingerprint of one partition's cold rows (see row-fingerprint.ts), optionally of some instants only. */
  async fingerprintPartition(source: PartitionSource, selection?: InstantSelection): Promise<RowFingerprint> {
    return this.withConnection(async (connection) => {
      if (!(await this.tableExists(connection, source.coldTable))) return { rows: 0, sum: '0' };
      const instants = selection ? instantFilter('duckdb', timeColumnOf(source.columns, source), selection) : undefined;
      return this.fingerprintOf(connection, this.relation(source.coldTable), source, instants);
    });
  }

  async archivePartition(source: PartitionSource, target: string): Promise<RowFingerprint> {
    if (!target.startsWith('s3://')) mkdirSync(path.dirname(target), { recursive: true });
    const names = source.columns.map((c) => quoteIdent(c.name)).join(', ');
    return this.withConnection(async (connection) => {
      await connection.run(
        `COPY (SELECT ${names} FROM ${this.relation(source.coldTable)} WHERE ${SOURCE_PARTITION_COLUMN} = $partition)
           TO ${quoteLiteral(target)} (FORMAT parquet, COMPRESSION zstd)`,
        { partition: source.partition },
      );
      const reader = await connection.runAndReadAll(
        fingerprintSelect('duckdb', source.columns, `read_parquet(${quoteLiteral(target)})`),
      );
      const row = reader.getRowObjectsJson()[0];
      return { rows: Number(row?.rows ?? 0), sum: String(row?.sum ?? '0') };
    });
  }

  /**
   * The content fingerprint of one partition's rows in any relation this store's DuckDB reads: its own cold tables,
   * or those of another store attached to it (a conversion compares the two).
   */
  async fingerprintRelation(
    relation: string,
    source: Pick<PartitionSource, 'partition' | 'columns'>,
  ): Promise<RowFingerprint> {
    return this.withConnection((connection) => this.fingerprintOf(connection, relation, source));
  }

  private async fingerprintOf(
    connection: DuckDBConnection,
    relation: string,
    source: Pick<PartitionSource, 'partition' | 'columns'>,
    instants?: string,
  ): Promise<RowFingerprint> {
    const where = [`${SOURCE_PARTITION_COLUMN} = $partition`, ...(instants ? [instants] : [])].join(' AND ');
    const reader = await connection.runAndReadAll(fingerprintSelect('duckdb', source.columns, relation, where), {
      partition: source.partition,
    });
    const row = reader.getRowObjectsJson()[0];
    return { rows: Number(row?.rows ?? 0), sum: String(row?.sum ?? '0') };
  }

  /**
   * Copies one partition's rows from another store attached to this store's DuckDB (`from`: its cold table there) in
   * one transaction that first deletes what an earlier attempt wrote, and records the same write ID in the manifest:
   * the move records naming that write stay true of this store. Streamed inside DuckDB, never held in memory whole.
   * Returns the rows copied.
   */
  async copyPartitionFrom(from: string, entry: ManifestEntry, columns: ColumnMapping[]): Promise<number> {
    await this.ensureColdTable(entry, columns);
    const names = [...columns.map((c) => quoteIdent(c.name)), SOURCE_PARTITION_COLUMN].join(', ');
    const coldTable = this.relation(entry.coldTable);
    return this.withConnection((connection) =>
      this.inWriteTransaction(connection, async () => {
        const partition = { partition: entry.partition };
        await connection.run(`DELETE FROM ${coldTable} WHERE ${SOURCE_PARTITION_COLUMN} = $partition`, partition);
        const inserted = await connection.run(
          `INSERT INTO ${coldTable} (${names}) SELECT ${names} FROM ${from} WHERE ${SOURCE_PARTITION_COLUMN} = $partition`,
          partition,
        );
        await this.place.manifest.recordWrite(connection, this.relation(COLD_MANIFEST_TABLE), {
          ...entry,
          rows: inserted.rowsChanged,
        });
        return inserted.rowsChanged;
      }),
    );
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
    // The cold table follows PostgreSQL's renames and drops first: its columns are read by their current names.
    await this.ensureColdTable(source, source.columns);
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
      this.inWriteTransaction(connection, async () => {
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
      this.inWriteTransaction(connection, async () => {
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

  /**
   * Reads the rows through spool files, PostgreSQL and DuckDB taking turns instead of working at once: PostgreSQL COPYs
   * a range of pages as CSV into a new file, `load` inserts it, and the file is removed (see forEachPageRange). Some
   * instants' rows are few, found by the time column: one read. Returns the rows inserted.
   */
  private async insertSpooled(
    pgPool: pg.Pool,
    source: PartitionSource,
    { selection, pgWhere, signal, onStage, pagesPerRange }: SpooledRead,
    load: (spool: string) => Promise<number>,
  ): Promise<number> {
    let inserted = 0;
    let first = true;
    const spoolAndLoad = async (client: pg.ClientBase, pages: string) => {
      signal?.throwIfAborted();
      // A new file for each range, removed once loaded: rewriting one file in place made ext4 write the previous
      // range's pages out at once (its replace-by-truncate safeguard), stalling PostgreSQL's commits.
      const spool = this.spoolFile();
      try {
        const where = [pgWhere, pages].filter((condition) => condition !== '').join(' AND ');
        const copying = copyToCsvFile(
          client,
          copyExportSelect(source.schema, source.partition, source.columns, where),
          spool,
        );
        if (first) onStage?.('extracting');
        first = false;
        await copying;
        inserted += await load(spool);
      } finally {
        rmSync(spool, { force: true });
      }
    };
    if (selection) await withPooledSession(pgPool, (client) => spoolAndLoad(client, ''));
    else await forEachPageRange(pgPool, source.schema, source.partition, spoolAndLoad, pagesPerRange);
    return inserted;
  }

  /** A spool file for COPY streams, removed by the caller. */
  spoolFile(): string {
    return path.join(this.spoolDir, `${randomUUID()}.csv`);
  }

  close(): void {
    this.instance.closeSync();
  }
}

/** What a spooled read reads, and whom it tells (see insertSpooled). */
interface SpooledRead {
  /** Some instants' rows (one read), or undefined for the whole partition (by page ranges). */
  selection: InstantSelection | undefined;
  /** PostgreSQL's condition for those instants; '' for the whole partition. */
  pgWhere: string;
  signal: AbortSignal | undefined;
  onStage: ((stage: CopyStage) => void) | undefined;
  /** Heap pages per spool file (see spoolPagesPerRange). */
  pagesPerRange: number;
}

/**
 * Heap pages per spool file at each pace. DuckDB's one-thread CSV reader (the gentle pace) holds more of a file the
 * larger it is, where its parallel reader does not: loading one spool into a lake on S3 (whose uploads hold about 30MB
 * more) ran out of a 128MB move limit at 99MB of CSV and fitted at 78MB, so the gentle pace spools a quarter of a
 * range at a time (32MB of pages); it also keeps each turn of PostgreSQL's and DuckDB's shorter.
 */
function spoolPagesPerRange(pace: MovePace): number {
  return pace === 'gentle' ? PAGES_PER_RANGE / 4 : PAGES_PER_RANGE;
}

/**
 * Runs one DuckDB statement that `signal` interrupts: a cancelled move's statement stops, and its transaction then
 * rolls back, leaving nothing behind.
 */
async function interruptible<T>(
  connection: DuckDBConnection,
  signal: AbortSignal | undefined,
  run: () => Promise<T>,
): Promise<T> {
  const interrupt = () => connection.interrupt();
  signal?.throwIfAborted();
  signal?.addEventListener('abort', interrupt);
  try {
    return await run();
  } finally {
    signal?.removeEventListener('abort', interrupt);
  }
}
