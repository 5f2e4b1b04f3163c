import type { DuckDBConnection } from '@duckdb/node-api';

import type { TablePolicy } from '../../config/policy.ts';
import { tierViewNames } from '../../config/tier-view-names.ts';
import { firstLine } from '../../errors/first-line.ts';
import { UsageError } from '../../errors/usage-error.ts';

/** A node of DuckDB's parse tree as json_serialize_sql renders it. */
export type SqlNode = { [key: string]: unknown };

export type TierView = 'hot' | 'cold' | 'all';

/** What a report's SQL reads: for each policy table, which of its tier views. */
export interface SqlReads {
  tables: Array<{ policy: TablePolicy; views: TierView[] }>;
  /** The statement's parse tree (its top query node). */
  statement: SqlNode;
  /** The statement's named parameters, as the parser numbered them (needed to render a rewritten tree). */
  namedParams: unknown;
}

/** Table functions that only generate values; every other one could read files or reach PostgreSQL directly. */
const VALUE_FUNCTIONS = new Set(['range', 'generate_series', 'unnest']);

/**
 * Parses a report's SQL with DuckDB's own parser (nothing runs) and checks it is one read-only query over the tier
 * views: exactly one SELECT (or WITH ... SELECT) statement whose tables are tier views or its own CTEs, with no
 * table function beyond value generators. The query then runs in a read-only transaction as well, so this check is
 * not the only guard. Throws a UsageError naming what is wrong.
 */
export async function analyzeReportSql(
  connection: DuckDBConnection,
  sql: string,
  policies: TablePolicy[],
  what: string,
): Promise<SqlReads> {
  const tree = await parseSql(connection, sql);
  if (tree.error) throw new UsageError(`${what}: ${readOnlyMessage(tree.error_message ?? 'cannot be parsed')}`);
  const statements = tree.statements ?? [];
  if (statements.length !== 1)
    throw new UsageError(`${what}: must be exactly one SELECT statement, found ${statements.length}`);
  const { node: statement, named_param_map: namedParams = [] } = statements[0]!;

  const viewsByName = new Map<string, { policy: TablePolicy; view: TierView }>();
  for (const policy of policies) {
    const names = tierViewNames(policy.table);
    for (const view of ['hot', 'cold', 'all'] as const) viewsByName.set(names[view], { policy, view });
  }
  const cteNames = new Set<string>();
  const references: Array<{ name: string; qualified: boolean; display: string }> = [];
  walk(statement, (node) => {
    if (node.type === 'BASE_TABLE') {
      const parts = [node.catalog_name, node.schema_name, node.table_name].filter(Boolean).map(String);
      references.push({ name: String(node.table_name), qualified: parts.length > 1, display: parts.join('.') });
    } else if (node.type === 'TABLE_FUNCTION') {
      const name = String((node.function as SqlNode | undefined)?.function_name ?? '?');
      if (!VALUE_FUNCTIONS.has(name))
        throw new UsageError(`${what}: may not call the table function ${name}(); read the tier views instead`);
    }
    const map = (node.cte_map as { map?: Array<{ key: string }> } | undefined)?.map;
    for (const cte of map ?? []) cteNames.add(cte.key);
  });

  const reads = new Map<TablePolicy, Set<TierView>>();
  for (const reference of references) {
    const view = reference.qualified ? undefined : viewsByName.get(reference.name);
    if (view) {
      reads.set(view.policy, (reads.get(view.policy) ?? new Set()).add(view.view));
    } else if (reference.qualified || !cteNames.has(reference.name)) {
      const known = [...viewsByName.keys()].join(', ');
      throw new UsageError(
        `${what}: reads '${reference.display}', which is not a tier view (${known}, unqualified) or one of its CTEs`,
      );
    }
  }
  return { tables: [...reads].map(([policy, views]) => ({ policy, views: [...views] })), statement, namedParams };
}

export interface SqlTree {
  error: boolean;
  error_message?: string;
  statements?: Array<{ node: SqlNode; named_param_map?: unknown }>;
}

/** DuckDB's parse tree of `sql` (json_serialize_sql: parses, never binds or runs). */
export async function parseSql(connection: DuckDBConnection, sql: string): Promise<SqlTree> {
  const reader = await connection.runAndReadAll('SELECT json_serialize_sql(CAST($sql AS VARCHAR)) AS tree', { sql });
  // "No location" is the largest 64-bit integer, which a JavaScript number cannot hold; 0 reads back as a location.
  return JSON.parse(
    String(reader.getRowObjectsJson()[0]?.tree).replaceAll(`"query_location":${NO_LOCATION}`, '"query_location":0'),
  ) as SqlTree;
}

const NO_LOCATION = '18446744073709551615';

/** SQL text for a (rewritten) statement tree: json_deserialize_sql, the inverse of parseSql. */
export async function renderSql(
  connection: DuckDBConnection,
  statement: SqlNode,
  namedParams: unknown,
): Promise<string> {
  const tree = { error: false, statements: [{ node: statement, named_param_map: namedParams }] };
  const reader = await connection.runAndReadAll('SELECT json_deserialize_sql(CAST($tree AS JSON)) AS sql', {
    tree: JSON.stringify(tree),
  });
  return String(reader.getRowObjectsJson()[0]?.sql);
}

/** The parse tree of one expression, e.g. to splice into a statement's tree. */
export async function parseExpression(connection: DuckDBConnection, expression: string): Promise<SqlNode> {
  const tree = await parseSql(connection, `SELECT ${expression}`);
  const list = tree.statements?.[0]?.node.select_list;
  if (tree.error || !Array.isArray(list) || list.length !== 1) throw new Error(`not one expression: ${expression}`);
  return list[0] as SqlNode;
}

function readOnlyMessage(parserMessage: string): string {
  if (/only SELECT statements/i.test(parserMessage))
    return 'only a single SELECT (or WITH ... SELECT) is allowed: reports are read-only';
  return firstLine(parserMessage);
}

/** Visits every object in the parse tree, depth first. */
export function walk(node: unknown, visit: (node: SqlNode) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, visit);
  } else if (node && typeof node === 'object') {
    visit(node as SqlNode);
    for (const value of Object.values(node)) walk(value, visit);
  }
}
