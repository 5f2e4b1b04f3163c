import type pg from 'pg';

import type { TablePolicy } from '../../config/policy.ts';
import { firstLine } from '../../errors/first-line.ts';
import { UsageError } from '../../errors/usage-error.ts';
import { coldColumnsFor } from '../cold/cold-columns.ts';
import { type ColdStore, SOURCE_PARTITION_COLUMN } from '../cold/cold-store.ts';
import type { ColumnMapping } from '../duckdb/duck-type-mapping.ts';
import { parseRowCondition, type RowCondition } from '../federation/row-condition.ts';
import { COLD_SERVING_STATES, listMoves } from '../postgres/pg-move-state.ts';
import { inTransaction } from '../postgres/pg-pool.ts';
import { qualify, quoteLiteral } from '../sql-quoting.ts';
import type { EraseCheck } from './erase-types.ts';

/** Types whose values compare differently in the two engines (or not at all): a condition may not use them. */
const INCOMPARABLE_TYPES: Record<string, string> = {
  json: 'JSON compares differently in PostgreSQL and DuckDB',
  jsonb: 'JSON compares differently in PostgreSQL and DuckDB',
  bytea: 'binary values compare differently in PostgreSQL and DuckDB',
  bpchar: "char(n) pads with spaces in PostgreSQL's comparisons and not in DuckDB's",
  interval: 'intervals compare differently in PostgreSQL and DuckDB',
};

/** Why `column` may not appear in a condition both tiers evaluate alike, or undefined when it may. */
function whyIncomparable(column: ColumnMapping): string | undefined {
  if (column.viaText)
    return `its ${column.pgType} values are kept as text in the cold tier, which compares them as text`;
  if (column.isList) return 'arrays compare differently in PostgreSQL and DuckDB';
  return INCOMPARABLE_TYPES[column.baseType];
}

/**
 * Checks an erasure's condition for the table the way report SQL is checked (one boolean expression over the table's
 * columns, parameters bound; see storage/federation/row-condition.ts), then has each engine bind it by counting the
 * rows it matches: a type mismatch either engine finds is bad input too. Changes nothing. `what` names the flag in
 * error messages.
 */
export async function checkEraseCondition(
  pgPool: pg.Pool,
  cold: ColdStore,
  policy: TablePolicy,
  where: string,
  params: Readonly<Record<string, string>>,
  what: string,
): Promise<EraseCheck> {
  const columns = await coldColumnsFor(pgPool, policy);
  // The cold table follows PostgreSQL's renames and drops first, so the condition names the same columns in both tiers.
  await cold.ensureColdTable(policy, columns);
  const incomparable = Object.fromEntries(
    columns.flatMap((column) => {
      const why = whyIncomparable(column);
      return why ? [[column.name, why]] : [];
    }),
  );
  const comparable = columns.map((column) => column.name).filter((name) => !(name in incomparable));
  const condition = await cold.withConnection((connection) =>
    parseRowCondition(connection, where, comparable, params, what, incomparable),
  );
  const hot = await countHotMatching(pgPool, policy, condition).catch((error: unknown) => {
    throw asUsageError(error, what, 'PostgreSQL') ?? error;
  });
  const matching = await cold.countMatching(policy.coldTable, condition.duckdb).catch((error: unknown) => {
    throw asUsageError(error, what, 'DuckDB') ?? error;
  });
  const serving = new Set(
    (await listMoves(pgPool, { schema: policy.schema, table: policy.table }))
      .filter((move) => COLD_SERVING_STATES.includes(move.state))
      .map((move) => move.partitionName),
  );
  return {
    schema: policy.schema,
    table: policy.table,
    condition,
    hot,
    cold: [...matching]
      .filter(([partition]) => serving.has(partition))
      .map(([partition, rows]) => ({ partition, rows }))
      .sort((a, b) => a.partition.localeCompare(b.partition)),
  };
}

/** Rows of the table's attached partitions (DEFAULT included) that match, in one read-only snapshot. */
export async function countHotMatching(pgPool: pg.Pool, policy: TablePolicy, condition: RowCondition): Promise<number> {
  return inTransaction(
    pgPool,
    async (client) => {
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${qualify(policy.schema, policy.table)} WHERE ${condition.postgres.sql}`,
        condition.postgres.values,
      );
      return Number(rows[0]?.n ?? 0);
    },
    'snapshot',
  );
}

/** The condition narrowed to one partition's cold rows. */
export function inColdPartition(condition: RowCondition, partition: string): RowCondition['duckdb'] {
  return {
    sql: `${SOURCE_PARTITION_COLUMN} = ${quoteLiteral(partition)} AND (${condition.duckdb.sql})`,
    params: condition.duckdb.params,
  };
}

/**
 * An engine's refusal to bind or evaluate the condition (PostgreSQL's classes 22 data exception and 42 syntax or
 * access rule; DuckDB's binder, conversion and parser errors) is the user's condition being wrong, not a fault.
 */
function asUsageError(error: unknown, what: string, engine: string): UsageError | undefined {
  const { code, message = '' } = error as { code?: string; message?: string };
  const userFault =
    engine === 'PostgreSQL'
      ? code?.startsWith('22') || code?.startsWith('42')
      : /^(Binder|Conversion|Parser|Invalid Input) Error/.test(message);
  return userFault ? new UsageError(`${what}: ${engine} refuses it: ${firstLine(message)}`) : undefined;
}
