import type { DuckDBConnection } from '@duckdb/node-api';

import type { TablePolicy } from '../../config/policy.ts';
import { tierViewNames } from '../../config/tier-view-names.ts';
import { type ColumnMapping, timeColumnOf } from '../duckdb/duck-type-mapping.ts';
import type { SqlDialect } from '../sql-dialect.ts';
import { qualify, quoteIdent } from '../sql-quoting.ts';
import type { PgSnapshot } from './pg-snapshot.ts';
import type { TimeRange } from './report-range.ts';
import { parseExpression, renderSql, type SqlNode, type SqlReads } from './report-sql.ts';
import { type TablePlan, wholeHotPartitions } from './tier-plan.ts';
import { emptyRelation, type ViewDefinition } from './tier-views.ts';

/** The view of partial aggregates a pushed-down query reads instead of the tier views. */
export const PARTIALS_VIEW = '__ducktier_partials';

/** Types whose equality PostgreSQL and DuckDB agree on, so rows group identically on both sides. */
const GROUPABLE = new Set([
  'bool',
  'int2',
  'int4',
  'int8',
  'text',
  'varchar',
  'date',
  'timestamp',
  'timestamptz',
  'uuid',
]);
/** Types whose order both agree on, for MIN and MAX. */
const ORDERABLE = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'date', 'timestamp', 'timestamptz']);
/** SUM of these fits a bigint in PostgreSQL, exactly. */
const SUMMABLE = new Set(['int2', 'int4']);

/** One partial aggregate computed per partition: its column, its SQL (valid in both dialects) and how it travels. */
interface PartialAggregate {
  column: ColumnMapping;
  sql: string;
}

/**
 * A report whose shape lets each PostgreSQL partition be aggregated where it lives: one table's `_all` or `_hot` view,
 * GROUP BY plain columns, and only COUNT(*), COUNT(col), COUNT(DISTINCT col), SUM of small integers, MIN and MAX.
 * Every partition read whole is reduced in PostgreSQL to one row per group (and per distinct key); DuckDB reduces the
 * rest (range edges, the cold tier) the same way and combines the partial rows: counts are summed, MIN of MINs,
 * COUNT(DISTINCT) over the distinct keys.
 */
export interface AggregatePushdown {
  policy: TablePolicy;
  /** Grouping columns of the partial rows: the group keys, then the distinct key. */
  keys: ColumnMapping[];
  partials: PartialAggregate[];
  /** The statement over PARTIALS_VIEW, its output columns named as the original's. */
  rewrite(connection: DuckDBConnection, outputNames: string[]): Promise<string>;
}

class NotPushable extends Error {}

/** Decides from the parse tree (nothing runs) whether the aggregates can be pushed down, and why not if not. */
export async function planPushdown(
  connection: DuckDBConnection,
  reads: SqlReads,
  columnsOf: (policy: TablePolicy) => ColumnMapping[],
): Promise<AggregatePushdown | { reason: string }> {
  try {
    return await analyze(connection, reads, columnsOf);
  } catch (error) {
    if (error instanceof NotPushable) return { reason: error.message };
    throw error;
  }
}

async function analyze(
  connection: DuckDBConnection,
  reads: SqlReads,
  columnsOf: (policy: TablePolicy) => ColumnMapping[],
): Promise<AggregatePushdown> {
  const node = reads.statement;
  const read = reads.tables.length === 1 ? reads.tables[0]! : undefined;
  if (!read || node.type !== 'SELECT_NODE') throw new NotPushable('it is not one SELECT over one table');
  const from = node.from_table as SqlNode;
  const names = tierViewNames(read.policy.table);
  if (from.type !== 'BASE_TABLE' || ![names.all, names.hot].includes(String(from.table_name)))
    throw new NotPushable(`it does not read ${names.all} or ${names.hot} alone`);
  const cteMap = (node.cte_map as { map?: unknown[] }).map ?? [];
  if (cteMap.length > 0 || node.where_clause || node.qualify || node.sample)
    throw new NotPushable('it has a WHERE, QUALIFY, SAMPLE or WITH clause (the range is given by --from/--to)');
  if (node.aggregate_handling !== 'STANDARD_HANDLING' || (node.group_sets as unknown[]).length > 1)
    throw new NotPushable('it uses GROUP BY ALL or grouping sets');

  const columns = new Map(columnsOf(read.policy).map((c) => [c.name, c]));
  const qualifiers = new Set([String(from.alias || from.table_name)]);
  const columnOf = (ref: SqlNode): ColumnMapping | undefined => {
    const parts = ref.column_names as string[];
    if (parts.length === 2 && qualifiers.has(parts[0]!)) return columns.get(parts[1]!);
    return parts.length === 1 ? columns.get(parts[0]!) : undefined;
  };

  const keys = (node.group_expressions as SqlNode[]).map((expression) => {
    const column = expression.class === 'COLUMN_REF' ? columnOf(expression) : undefined;
    if (!column) throw new NotPushable('it groups by an expression, not a plain column');
    if (!isGroupable(column))
      throw new NotPushable(`it groups by ${column.name}, whose type may compare differently in PostgreSQL`);
    return column;
  });
  const keyNames = new Set(keys.map((k) => k.name));
  const aliases = new Set((node.select_list as SqlNode[]).map((item) => String(item.alias)).filter(Boolean));
  const functions = await functionKinds(connection);

  const partials: PartialAggregate[] = [];
  let distinctKey: ColumnMapping | undefined;
  const combines = new Map<SqlNode, string>();
  const partialFor = (sql: string, column: ColumnMapping): string => {
    let partial = partials.find((p) => p.sql === sql);
    if (!partial) {
      partial = { sql, column: { ...column, name: `__ducktier_p${partials.length}` } };
      partials.push(partial);
    }
    return quoteIdent(partial.column.name);
  };

  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (!value || typeof value !== 'object') return;
    const expression = value as SqlNode;
    switch (expression.class) {
      case 'FUNCTION': {
        const name = String(expression.function_name);
        const combine = functions.aggregates.has(name) ? combineFor(expression) : undefined;
        if (combine) return void combines.set(expression, combine);
        if (functions.aggregates.has(name))
          throw new NotPushable(`${name}() over these arguments cannot be combined from per-partition results`);
        if (!functions.scalars.has(name)) throw new NotPushable(`${name}() is not a plain scalar function`);
        return visit(expression.children);
      }
      case 'WINDOW':
      case 'SUBQUERY':
      case 'STAR':
        throw new NotPushable(`it uses ${String(expression.class).toLowerCase()} expressions`);
      case 'COLUMN_REF': {
        const column = columnOf(expression);
        if (column ? keyNames.has(column.name) : aliases.has((expression.column_names as string[]).join('.'))) return;
        throw new NotPushable(
          `it reads ${(expression.column_names as string[]).join('.')} outside an aggregate without grouping by it`,
        );
      }
      default:
        return Object.values(expression).forEach(visit);
    }
  };
  const combineFor = (call: SqlNode): string | undefined => {
    const args = call.children as SqlNode[];
    const plain =
      !call.filter && ((call.order_bys as { orders: unknown[] }).orders ?? []).length === 0 && !call.export_state;
    const column = args.length === 1 && args[0]!.class === 'COLUMN_REF' ? columnOf(args[0]!) : undefined;
    const name = String(call.function_name);
    if (!plain) return undefined;
    if (name === 'count_star' && args.length === 0)
      return `CAST(coalesce(sum(${partialFor('count(*)', COUNT)}), 0) AS BIGINT)`;
    if (!column) return undefined;
    const col = quoteIdent(column.name);
    if (name === 'count' && call.distinct) {
      if (!isGroupable(column) || (distinctKey && distinctKey.name !== column.name)) return undefined;
      distinctKey = column;
      return `count(DISTINCT ${col})`;
    }
    if (name === 'count') return `CAST(coalesce(sum(${partialFor(`count(${col})`, COUNT)}), 0) AS BIGINT)`;
    if (name === 'sum' && !call.distinct && SUMMABLE.has(column.baseType) && !column.isList)
      return `sum(${partialFor(`sum(${col})`, COUNT)})`;
    if ((name === 'min' || name === 'max') && ORDERABLE.has(column.baseType) && !column.viaText && !column.isList)
      return `${name}(${partialFor(`${name}(${col})`, column)})`;
    return undefined;
  };

  visit(node.select_list);
  visit(node.having);
  visit(node.modifiers);
  if (combines.size === 0) throw new NotPushable('it computes no aggregate');

  const replacements = new Map<SqlNode, SqlNode>();
  for (const [call, combine] of combines)
    replacements.set(call, { ...(await parseExpression(connection, combine)), alias: call.alias });
  const rewritten: SqlNode = {
    ...(replaceNodes(node, replacements) as SqlNode),
    from_table: { ...from, table_name: PARTIALS_VIEW, schema_name: '', catalog_name: '', alias: [...qualifiers][0] },
  };
  const partialKeys = distinctKey && !keyNames.has(distinctKey.name) ? [...keys, distinctKey] : keys;
  return {
    policy: read.policy,
    keys: partialKeys,
    partials,
    async rewrite(renderer, outputNames) {
      const selectList = (rewritten.select_list as SqlNode[]).map((item, index) => ({
        ...item,
        alias: outputNames[index] ?? item.alias,
      }));
      return renderSql(renderer, { ...rewritten, select_list: selectList }, reads.namedParams);
    },
  };
}

/** How a COUNT or SUM partial travels: a bigint in PostgreSQL, BIGINT in DuckDB. */
const COUNT: ColumnMapping = {
  name: 'count',
  origin: { relid: 0, attnum: 0 }, // computed: no table's column
  pgType: 'bigint',
  baseType: 'int8',
  isList: false,
  duckType: 'BIGINT',
  viaText: false,
  copyExport: '%s',
  copyImport: 'CAST(%s AS BIGINT)',
};

function isGroupable(column: ColumnMapping): boolean {
  return GROUPABLE.has(column.baseType) && !column.isList && !column.viaText;
}

function replaceNodes(value: unknown, replacements: Map<SqlNode, SqlNode>): unknown {
  if (Array.isArray(value)) return value.map((item) => replaceNodes(item, replacements));
  if (!value || typeof value !== 'object') return value;
  const replaced = replacements.get(value as SqlNode);
  if (replaced) return replaced;
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, replaceNodes(child, replacements)]));
}

async function functionKinds(connection: DuckDBConnection): Promise<{ aggregates: Set<string>; scalars: Set<string> }> {
  const rows = (
    await connection.runAndReadAll(
      `SELECT DISTINCT function_name, function_type FROM duckdb_functions() WHERE function_type IN ('aggregate', 'scalar')`,
    )
  ).getRowObjectsJson();
  const names = (type: string) =>
    new Set(rows.filter((row) => row.function_type === type).map((row) => String(row.function_name)));
  return { aggregates: names('aggregate'), scalars: names('scalar') };
}

/** The SELECT reducing `source` (a relation in PostgreSQL or DuckDB) to partial rows; DuckDB's are cast to match. */
export function partialSelect(pushdown: AggregatePushdown, source: string, dialect: SqlDialect): string {
  const keys = pushdown.keys.map((k) => quoteIdent(k.name));
  const partials = pushdown.partials.map(
    (p) => `${dialect === 'duckdb' ? `CAST(${p.sql} AS ${p.column.duckType})` : p.sql} AS ${quoteIdent(p.column.name)}`,
  );
  return `SELECT ${[...keys, ...partials].join(', ')} FROM ${source}${keys.length > 0 ? ` GROUP BY ${keys.join(', ')}` : ''}`;
}

/** The partial rows' columns, in order. */
export function partialColumns(pushdown: AggregatePushdown): ColumnMapping[] {
  return [...pushdown.keys, ...pushdown.partials.map((p) => p.column)];
}

/**
 * The partials view for a run: each hot partition read whole is aggregated by PostgreSQL in the snapshot; the range's
 * edge partitions are read as rows and aggregated by DuckDB, as is the cold tier when the report reads `_all`.
 */
export function partialsView(
  snapshot: PgSnapshot,
  pushdown: AggregatePushdown,
  columns: ColumnMapping[],
  plan: TablePlan,
  range: TimeRange,
  readsCold: boolean,
): ViewDefinition {
  const { schema } = pushdown.policy;
  const timeColumn = timeColumnOf(columns, pushdown.policy);
  const edges = plan.hot.filter((read) => read.read === 'range');
  const parts = wholeHotPartitions(plan).map((partition) =>
    snapshot.queryResult(partialSelect(pushdown, qualify(schema, partition), 'postgres'), partialColumns(pushdown)),
  );
  if (edges.length > 0)
    parts.push(partialSelect(pushdown, `(${snapshot.rows(schema, edges, columns, timeColumn, range)})`, 'duckdb'));
  if (readsCold && plan.cold.length > 0)
    parts.push(partialSelect(pushdown, quoteIdent(tierViewNames(pushdown.policy.table).cold), 'duckdb'));
  return {
    name: PARTIALS_VIEW,
    sql: parts.length > 0 ? parts.join('\nUNION ALL\n') : emptyRelation(partialColumns(pushdown)),
  };
}
