import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { type ColumnMapping, mapColumn } from '../duckdb/duck-type-mapping.ts';
import { assertRangePartitionedOn, describeColumns } from '../postgres/pg-catalog.ts';

/** The cold table's columns, read from PostgreSQL's catalog for the policy's table and mapped to DuckDB types. */
export async function coldColumnsFor(db: pg.Pool, policy: TablePolicy): Promise<ColumnMapping[]> {
  await assertRangePartitionedOn(db, policy.schema, policy.table, policy.timeColumn);
  return (await describeColumns(db, policy.schema, policy.table)).map(mapColumn);
}
