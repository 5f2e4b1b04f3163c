import { rmSync } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import type pg from 'pg';
import type { TablePolicy } from '../../config/policy.ts';
import { COLD_SERVING_STATES } from '../postgres/pg-move-state.ts';
import { quoteIdent, quoteLiteral } from '../sql-quoting.ts';
import { COLD_MANIFEST_TABLE, SOURCE_PARTITION_COLUMN, type ColdStore } from '../duckdb/cold-store.ts';
import type { ColumnMapping } from '../duckdb/duck-type-mapping.ts';
import { tierViewNames } from './tier-view-names.ts';
import { copyExportSelect, copyToCsvFile, csvSelect, extensionSelect, PG_CATALOG_ALIAS } from '../duckdb/pg-transport.ts';

const servingStates = COLD_SERVING_STATES.map(quoteLiteral).join(', ');

/**
 * Defines the tier views on `connection` inside its open transaction (the cold table must exist already).
 *
 * The consistency rule: a cold row counts only if ducktier's move record in PostgreSQL says its partition is detached
 * (or dropped), and that record is read in the same PostgreSQL snapshot as the hot rows. A partition is therefore
 * counted from exactly one tier at any instant, including between the DuckDB write and the detach.
 */
export async function defineTierViews(
  connection: DuckDBConnection,
  store: ColdStore,
  pgPool: pg.Pool,
  policy: TablePolicy,
  columns: ColumnMapping[],
): Promise<ServedPartitions> {
  const names = tierViewNames(policy.table);
  const columnList = columns.map((c) => quoteIdent(c.name)).join(', ');
  let served: ServedPartitions;
  if (store.readMode === 'extension') {
    await connection.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(names.hot)} AS ${extensionSelect(policy.schema, policy.table, columns)}`);
    served = {
      relation: `SELECT partition_name, cold_write_id FROM ${PG_CATALOG_ALIAS}.ducktier.partition_moves
                  WHERE table_schema = ${quoteLiteral(policy.schema)} AND table_name = ${quoteLiteral(policy.table)}
                    AND state IN (${servingStates})`,
    };
  } else {
    const servedMoves = await copyHotRows(connection, store, pgPool, policy, columns, names.hot);
    const list = (values: Array<string | null>) => `[${values.map((v) => (v === null ? 'NULL' : quoteLiteral(v))).join(', ')}]::VARCHAR[]`;
    served = {
      relation: `SELECT unnest(${list(servedMoves.map((m) => m.partition_name))}) AS partition_name, unnest(${list(servedMoves.map((m) => m.cold_write_id))}) AS cold_write_id`,
    };
  }
  await connection.run(
    `CREATE OR REPLACE TEMP VIEW ${quoteIdent(names.cold)} AS
       SELECT ${columnList} FROM main.${quoteIdent(policy.coldTable)} WHERE ${SOURCE_PARTITION_COLUMN} IN (SELECT partition_name FROM (${served.relation}))`,
  );
  await connection.run(
    `CREATE OR REPLACE TEMP VIEW ${quoteIdent(names.all)} AS
       SELECT ${columnList} FROM ${quoteIdent(names.hot)} UNION ALL SELECT ${columnList} FROM ${quoteIdent(names.cold)}`,
  );
  return served;
}

/** The partitions whose rows the cold view serves: a SQL relation of `partition_name` and the `cold_write_id` serving it. */
export interface ServedPartitions {
  relation: string;
}

/**
 * DuckDB fixes its snapshot at the transaction's first statement and PostgreSQL at the first read of it, so the DuckDB
 * snapshot may predate a move that PostgreSQL already records as detached. Every partition the PostgreSQL snapshot
 * serves from the cold tier was committed to the DuckDB manifest, with the write ID the detach recorded, before it was
 * detached; if this transaction's DuckDB snapshot lacks one, or holds an older write of it, the snapshot is too old and
 * the caller must start again.
 */
export async function coldSnapshotIsCurrent(connection: DuckDBConnection, policy: TablePolicy, served: ServedPartitions): Promise<boolean> {
  const reader = await connection.runAndReadAll(
    `SELECT count(*)::INTEGER AS missing
       FROM (${served.relation}) s
      WHERE NOT EXISTS (SELECT 1 FROM main.${COLD_MANIFEST_TABLE} m
                         WHERE m.table_schema = $schema AND m.table_name = $table
                           AND m.partition_name = s.partition_name AND m.write_id IS NOT DISTINCT FROM s.cold_write_id)`,
    { schema: policy.schema, table: policy.table },
  );
  return Number(reader.getRowObjectsJson()[0]?.missing ?? 0) === 0;
}
/**
 * COPY path: streams the hot rows into a temporary DuckDB table and reads the served-partition list in one
 * REPEATABLE READ transaction, so both come from the same PostgreSQL snapshot.
 */
async function copyHotRows(
  connection: DuckDBConnection,
  store: ColdStore,
  pgPool: pg.Pool,
  policy: TablePolicy,
  columns: ColumnMapping[],
  hotName: string,
): Promise<Array<{ partition_name: string; cold_write_id: string | null }>> {
  const spool = store.spoolFile();
  const client = await pgPool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await client.query<{ partition_name: string; cold_write_id: string | null }>(
      `SELECT partition_name, cold_write_id FROM ducktier.partition_moves WHERE table_schema = $1 AND table_name = $2 AND state = ANY($3)`,
      [policy.schema, policy.table, COLD_SERVING_STATES],
    );
    await copyToCsvFile(client, copyExportSelect(policy.schema, policy.table, columns), spool);
    await client.query('COMMIT');
    await connection.run(`CREATE OR REPLACE TEMP TABLE ${quoteIdent(hotName)} AS ${csvSelect(spool, columns)}`);
    return rows;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
    rmSync(spool, { force: true });
  }
}
