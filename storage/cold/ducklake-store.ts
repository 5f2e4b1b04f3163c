import { fileURLToPath } from 'node:url';

import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type pg from 'pg';

import type { ColdConfig, ColdStoreIdentity } from '../../config/cold-config.ts';
import { LONGEST_REPORT_MS } from '../../config/maintenance-config.ts';
import { firstLine } from '../../errors/first-line.ts';
import { duckSchemaPlace, LAKE_VERSION_TABLE } from '../duckdb/duck-schema.ts';
import { normalizeDuckType } from '../duckdb/duck-type-mapping.ts';
import { attachPostgres } from '../duckdb/pg-transport.ts';
import { enableS3 } from '../duckdb/s3-access.ts';
import { connectPgClient, processSessionName } from '../postgres/pg-pool.ts';
import { releaseReadLease, takeReadLease } from '../postgres/pg-read-leases.ts';
import { type PgTarget, withApplicationName } from '../postgres/pg-target.ts';
import { migrateSchema, readSchemaMigrations } from '../schema-migrations.ts';
import { quoteIdent, quoteLiteral } from '../sql-quoting.ts';
import type { MaintenanceSettings, MaintenanceSummary } from './cold-maintenance.ts';
import { APPENDING_MANIFEST } from './cold-manifest.ts';
import { type ColdSchemaPlan, renamesCollide } from './cold-schema-changes.ts';
import {
  COLD_MANIFEST_TABLE,
  type ColdSnapshot,
  type PostgresExtensionUse,
  type SnapshotLease,
  type SnapshotQuery,
  SOURCE_PARTITION_COLUMN,
} from './cold-store.ts';
import { DuckColdStore } from './duck-cold-store.ts';
import { maintainLake } from './lake-maintenance.ts';
import type { MemoryLimits } from './memory-budget.ts';
import { ProcessScratch } from './process-scratch.ts';
import { AddedFiles, type WriteSync } from './write-flusher.ts';

export type LakeConfig = Extract<ColdConfig, { format: 'ducklake' }>;

/** ducktier's own tables in a lake (the manifest), as numbered migrations (storage/schema-migrations.ts). */
export const LAKE_MIGRATIONS = readSchemaMigrations(fileURLToPath(new URL('./lake-migrations/', import.meta.url)));

/** The name the lake is attached under in every DuckDB instance ducktier opens on it. */
export const LAKE_ALIAS = 'lake';

/** The application_name of the lake's catalog sessions (DuckLake's own, through the postgres extension). */
export const LAKE_CATALOG_SESSION_NAME = processSessionName('lake catalog');

/** Type changes DuckLake makes without rewriting data files (see altersInPlace). */
const IN_PLACE_PROMOTIONS = new Set([
  'SMALLINT>INTEGER',
  'SMALLINT>BIGINT',
  'INTEGER>BIGINT',
  'FLOAT>DOUBLE',
  'TIMESTAMP>TIMESTAMPTZ',
]);

/**
 * Rows per Parquet row group in the lake's files, a quarter of DuckDB's default (122,880). Reading a file holds a row
 * group's column chunk per thread, so a verify or report over wide rows (a JSON payload) asked DuckDB for 23-32 MiB at
 * once and ran out of a 128MB budget with the default; at this size a 1 M-row move fits in it.
 */
const LAKE_ROW_GROUP_ROWS = 30_720;

/**
 * Rows a thread buffers before it writes to a partitioned table (a lake table is partitioned by source partition).
 * DuckDB's default, 524,288 rows per thread, is about 100 MB of wide rows each: more than a move's whole budget.
 */
const PARTITIONED_WRITE_FLUSH_ROWS = 122_880;

/** Serialises the first attach (which creates the catalog's tables) and ducktier's own tables across processes. */
const LAKE_SETUP_LOCK = `hashtext('ducktier lake'), hashtext($1)`;

export interface DuckLakeOptions {
  lake: LakeConfig;
  /** Holds DuckDB's postgres and ducklake extensions (and httpfs when the lake or an archive is on S3). */
  extensionDir: string;
  /**
   * How this process reads PostgreSQL's hot rows: through the postgres extension, or by COPY when it is not to be used
   * (`missing` says why); the lake's catalog is reached through the postgres extension either way.
   */
  postgresExtension: PostgresExtensionUse;
  /** DuckDB's memory limits for moves and for reports (see memory-budget.ts). */
  memoryLimits: MemoryLimits;
  /** The hot database, which also holds the lake's catalog. */
  pgTarget: PgTarget;
  /** This process's scratch space (COPY spools, DuckDB's spill files) is made under it. */
  scratchRoot: string;
}

/**
 * The cold tier as a DuckLake: the catalog in the hot PostgreSQL database (its own schema), the rows as zstd Parquet
 * files on a directory or S3, one table per cold table partitioned by the source partition (replacing or deleting
 * one partition's rows touches only its files, so moves of different partitions never conflict). Every worker process
 * opens it, once, in one DuckDB instance that serves all its moves and reports; there is no owner.
 *
 * A report pins the lake's snapshot: it reads the latest snapshot ID from the catalog inside its PostgreSQL snapshot
 * and reads the cold tables `AT (VERSION => n)`. A copy's lake commit precedes its detach, in the same database, so a
 * PostgreSQL snapshot that records a partition as detached always sees the lake snapshot holding its rows.
 */
export class DuckLakeStore extends DuckColdStore {
  private constructor(
    instance: DuckDBInstance,
    postgresExtension: PostgresExtensionUse,
    private readonly lake: LakeConfig,
    private readonly scratch: ProcessScratch,
    memoryLimits: MemoryLimits,
  ) {
    const missing = postgresExtension === 'use' ? undefined : postgresExtension.missing;
    super(
      instance,
      missing === undefined ? 'extension' : 'copy',
      missing,
      lake.dataPath,
      scratch.dir,
      {
        qualifier: LAKE_ALIAS,
        tablesIn: `database_name = '${LAKE_ALIAS}' AND schema_name = 'main'`,
        manifest: APPENDING_MANIFEST,
      },
      memoryLimits,
    );
  }

  get identity(): ColdStoreIdentity {
    return { format: 'ducklake', location: this.lake.dataPath, catalogSchema: this.lake.catalogSchema };
  }

  /** The Parquet files added under a local data path (see AddedFiles); an object store keeps what it acknowledged. */
  protected async writeSync(): Promise<WriteSync> {
    if (this.lake.dataPath.startsWith('s3://')) return async () => {};
    return (await AddedFiles.under(this.lake.dataPath)).sync;
  }

  static async open(options: DuckLakeOptions): Promise<DuckLakeStore> {
    const scratch = ProcessScratch.create(options.scratchRoot);
    let instance: DuckDBInstance | undefined;
    try {
      instance = await DuckDBInstance.create(':memory:', {
        autoinstall_known_extensions: 'false',
        extension_directory: options.extensionDir,
        memory_limit: options.memoryLimits.move,
        temp_directory: scratch.dir,
        partitioned_write_flush_threshold: String(PARTITIONED_WRITE_FLUSH_ROWS),
      });
      const store = new DuckLakeStore(instance, options.postgresExtension, options.lake, scratch, options.memoryLimits);
      await store.withConnection(async (connection) => {
        await connection.run(`SET TimeZone = 'UTC'`).catch(() => {});
        // The lake first: attaching it makes the postgres extension read the catalog of every PostgreSQL database
        // attached by then, and it keeps what it read (a schema created later would stay unknown to reports).
        await attachLake(connection, options.lake, options.pgTarget, 'read-write');
        if (store.federation === 'extension') {
          await attachPostgres(connection, options.pgTarget);
          store.postgresAttached = true;
        }
      });
      return store;
    } catch (error) {
      instance?.closeSync();
      scratch.remove();
      throw error;
    }
  }

  protected override createTableStatements(table: string, columnList: string): string[] {
    return [
      ...super.createTableStatements(table, columnList),
      `ALTER TABLE ${this.relation(table)} SET PARTITIONED BY (${SOURCE_PARTITION_COLUMN})`,
    ];
  }

  /**
   * DuckLake changes a column's type in place only for promotions its Parquet readers make (measured on DuckDB 1.4.4:
   * wider integers, FLOAT to DOUBLE, TIMESTAMP to TIMESTAMPTZ; not DECIMAL), and renaming one column twice in a
   * transaction corrupts its values there: anything else rebuilds the table.
   */
  protected override altersInPlace(plan: ColdSchemaPlan): boolean {
    return (
      !renamesCollide(plan) &&
      plan.retypes.every((r) => IN_PLACE_PROMOTIONS.has(`${normalizeDuckType(r.from)}>${normalizeDuckType(r.to)}`))
    );
  }

  /**
   * Pins the run's view of the lake to the latest lake snapshot its PostgreSQL snapshot sees (see the class comment);
   * the pinned manifest then always holds the writes the move records name, so holdsWrites should never fail.
   *
   * DuckLake fixes a DuckDB transaction's view of the lake at the transaction's first read of it; a version committed
   * after that is "not found". The run must therefore not read the lake before this pin: its first read (the pinned
   * manifest) then comes after the pinned snapshot committed, and sees it.
   */
  async openSnapshot(connection: DuckDBConnection, inSnapshot: SnapshotQuery): Promise<ColdSnapshot> {
    const [row] = await inSnapshot(
      `SELECT max(snapshot_id) AS version FROM ${quoteIdent(this.lake.catalogSchema)}.ducklake_snapshot`,
    );
    const version = Number(row?.version);
    if (!Number.isSafeInteger(version))
      throw new Error(`the lake's catalog has no snapshot (read ${String(row?.version)})`);
    const pinned = (table: string) => `${this.relation(table)} AT (VERSION => ${version})`;
    return {
      version,
      relation: pinned,
      holdsWrites: (table, writes) => this.manifestHolds(connection, pinned(COLD_MANIFEST_TABLE), table, writes),
    };
  }

  /**
   * Leases the lake's current snapshot for a report (see pg-read-leases.ts) until it is released, or for as long as a
   * report may run.
   */
  async leaseSnapshot(pgPool: pg.Pool, holder: string): Promise<SnapshotLease> {
    const lease = await takeReadLease(pgPool, this.lake.catalogSchema, holder, LONGEST_REPORT_MS);
    return { version: lease.version, release: () => releaseReadLease(pgPool, lease.id) };
  }

  /** Merges small files, expires snapshots and removes files no report may still read (lake-maintenance.ts). */
  async maintain(pgPool: pg.Pool, settings: MaintenanceSettings): Promise<MaintenanceSummary> {
    const client = await pgPool.connect();
    try {
      return await this.withConnection((connection) =>
        maintainLake(
          connection,
          client,
          { alias: LAKE_ALIAS, catalogSchema: this.lake.catalogSchema, dataPath: this.lake.dataPath },
          settings,
        ),
      );
    } finally {
      client.release();
    }
  }

  override close(): void {
    super.close();
    this.scratch.remove();
  }
}

/**
 * Loads what the lake needs and attaches it as `lake` to the connection's DuckDB instance: read-write creates the
 * catalog on first use (zstd Parquet in small row groups, no data inlining: every write is a whole partition or its
 * changed instants, and inlined rows would live in the hot database's catalog) and brings ducktier's own tables up to
 * date. First attaches from several processes at once would race to create the catalog, so they take turns under a
 * PostgreSQL advisory lock, which also serialises the migrations.
 */
export async function attachLake(
  connection: DuckDBConnection,
  lake: LakeConfig,
  pgTarget: PgTarget,
  mode: 'read-write' | 'read-only',
): Promise<void> {
  await connection.run('LOAD postgres');
  await connection.run('LOAD ducklake');
  // Its data path or a table's archive on S3.
  if (lake.s3) await enableS3(connection, lake.s3);
  const options =
    mode === 'read-only'
      ? `METADATA_SCHEMA ${quoteLiteral(lake.catalogSchema)}, READ_ONLY`
      : `DATA_PATH ${quoteLiteral(lake.dataPath)}, METADATA_SCHEMA ${quoteLiteral(lake.catalogSchema)}, DATA_INLINING_ROW_LIMIT 0`;
  const catalog = withApplicationName(pgTarget.libpq, LAKE_CATALOG_SESSION_NAME);
  const attach = `ATTACH IF NOT EXISTS ${quoteLiteral(`ducklake:postgres:${catalog}`)} AS ${LAKE_ALIAS} (${options})`;
  const describe = (error: unknown) =>
    new Error(
      `cannot open the lake (catalog ${lake.catalogSchema} in ${pgTarget.description}, data path ${lake.dataPath}): ${firstLine(error)}`,
    );
  if (mode === 'read-only') {
    await connection.run(attach).catch((error: unknown) => {
      throw describe(error);
    });
    return;
  }
  const lock = await connectPgClient(pgTarget, 'ducktier lake setup');
  try {
    await lock.query(`SELECT pg_advisory_lock(${LAKE_SETUP_LOCK})`, [lake.catalogSchema]);
    await connection.run(attach).catch((error: unknown) => {
      throw describe(error);
    });
    await connection.run(`CALL ${LAKE_ALIAS}.set_option('parquet_compression', 'zstd')`);
    await connection.run(`CALL ${LAKE_ALIAS}.set_option('parquet_row_group_size', ${LAKE_ROW_GROUP_ROWS})`);
    // ducktier's own tables in the lake (the manifest), by numbered migrations, under the lock taken above.
    const previous = await connection.runAndReadAll('SELECT current_database() AS name');
    const home = String(previous.getRowObjectsJson()[0]?.name ?? 'memory');
    await connection.run(`USE ${LAKE_ALIAS}`);
    try {
      const place = duckSchemaPlace(
        connection,
        `lake ${lake.dataPath} (catalog schema ${lake.catalogSchema})`,
        LAKE_VERSION_TABLE,
      );
      await migrateSchema(place, LAKE_MIGRATIONS);
    } finally {
      await connection.run(`USE ${quoteIdent(home)}`);
    }
  } finally {
    await lock.end().catch(() => {});
  }
}
