import type { DuckDBConnection } from '@duckdb/node-api';

import { firstLine } from '../../errors/first-line.ts';
import { UsageError } from '../../errors/usage-error.ts';
import { quoteIdent, quoteLiteral } from '../sql-quoting.ts';
import { parseSql, type SqlNode } from './report-sql.ts';

/**
 * A condition over one table's rows that both engines evaluate alike, for statements that act on matching rows in
 * each tier (an erasure). It is parsed with DuckDB's own parser, as report SQL is, and accepted only as one boolean
 * expression built from a small grammar both PostgreSQL and DuckDB read the same way: the table's columns, constants,
 * `$name` parameters (bound, never spliced into the SQL), comparisons, AND/OR/NOT, IN, BETWEEN, LIKE/ILIKE, IS [NOT]
 * NULL, IS [NOT] DISTINCT FROM, lower()/upper() and casts to plain types. Anything else (other functions, subqueries,
 * arithmetic whose rules differ between the engines) is refused, naming it. Each engine then gets the condition
 * rendered from that tree in its own dialect.
 */
export interface RowCondition {
  /** The condition as given, for people and records. */
  text: string;
  /** PostgreSQL: the SQL with `$1`, `$2`... and their values, in order. */
  postgres: { sql: string; values: string[] };
  /** DuckDB: the SQL with `$name` parameters and their values. */
  duckdb: { sql: string; params: Record<string, string> };
}

const COMPARISONS: Record<string, string> = {
  COMPARE_EQUAL: '=',
  COMPARE_NOTEQUAL: '<>',
  COMPARE_LESSTHAN: '<',
  COMPARE_GREATERTHAN: '>',
  COMPARE_LESSTHANOREQUALTO: '<=',
  COMPARE_GREATERTHANOREQUALTO: '>=',
  COMPARE_DISTINCT_FROM: 'IS DISTINCT FROM',
  COMPARE_NOT_DISTINCT_FROM: 'IS NOT DISTINCT FROM',
};

const LIKE_OPERATORS: Record<string, string> = {
  '~~': 'LIKE',
  '!~~': 'NOT LIKE',
  '~~*': 'ILIKE',
  '!~~*': 'NOT ILIKE',
};

const SAME_FUNCTIONS = new Set(['lower', 'upper']);

/** Cast targets by DuckDB's type id, as each engine names them. */
const CAST_TYPES: Record<string, { postgres: string; duckdb: string }> = {
  BOOLEAN: { postgres: 'boolean', duckdb: 'BOOLEAN' },
  SMALLINT: { postgres: 'smallint', duckdb: 'SMALLINT' },
  INTEGER: { postgres: 'integer', duckdb: 'INTEGER' },
  BIGINT: { postgres: 'bigint', duckdb: 'BIGINT' },
  DOUBLE: { postgres: 'double precision', duckdb: 'DOUBLE' },
  VARCHAR: { postgres: 'text', duckdb: 'VARCHAR' },
  DATE: { postgres: 'date', duckdb: 'DATE' },
  TIMESTAMP: { postgres: 'timestamp', duckdb: 'TIMESTAMP' },
  'TIMESTAMP WITH TIME ZONE': { postgres: 'timestamptz', duckdb: 'TIMESTAMPTZ' },
  UUID: { postgres: 'uuid', duckdb: 'UUID' },
};

const INTEGER_CONSTANTS = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER']);

const ALLOWED =
  'columns, constants, $parameters, comparisons, AND/OR/NOT, IN, BETWEEN, LIKE/ILIKE, IS [NOT] NULL, IS [NOT] DISTINCT FROM, lower(), upper() and CAST';

/**
 * Checks `text` is one boolean expression of the grammar above over `columns` (names as the table has them; an unquoted
 * name matches case-insensitively when that is unambiguous), with every parameter it uses in `params` and no
 * parameter given that it does not use. Throws a UsageError naming what is wrong.
 */
export async function parseRowCondition(
  connection: DuckDBConnection,
  text: string,
  columns: readonly string[],
  params: Readonly<Record<string, string>>,
  what: string,
  /** Columns of the table the condition may not use, each with why. */
  incomparable: Readonly<Record<string, string>> = {},
): Promise<RowCondition> {
  const tree = await parseSql(connection, `SELECT ${text}`);
  const statements = tree.statements ?? [];
  const node = statements[0]?.node;
  const list = node?.select_list;
  if (tree.error || statements.length !== 1 || !node || !Array.isArray(list) || list.length !== 1 || !bare(node))
    throw new UsageError(
      `${what}: must be one condition over the table's columns${tree.error ? ` (${firstLine(tree.error_message)})` : ''}`,
    );
  const used: string[] = [];
  const render = (dialect: 'postgres' | 'duckdb') =>
    renderNode(list[0] as SqlNode, {
      dialect,
      column: (name) => resolveColumn(name, columns, incomparable, what),
      parameter: (name) => {
        if (!(name in params))
          throw new UsageError(`${what}: uses $${name}, which no --param gives (${describeParams(params)})`);
        if (!used.includes(name)) used.push(name);
        return dialect === 'postgres' ? `$${used.indexOf(name) + 1}` : `$${name}`;
      },
      what,
    });
  const postgres = render('postgres');
  const duckdb = render('duckdb');
  const unused = Object.keys(params).filter((name) => !used.includes(name));
  if (unused.length > 0) throw new UsageError(`${what}: --param ${unused.join(', ')} is not used by the condition`);
  return {
    text,
    postgres: { sql: postgres, values: used.map((name) => params[name]!) },
    duckdb: { sql: duckdb, params: Object.fromEntries(used.map((name) => [name, params[name]!])) },
  };
}

/** A SELECT that is only its select list: no FROM, WHERE, GROUP BY, modifiers or CTEs a condition could smuggle in. */
function bare(node: SqlNode): boolean {
  const from = node.from_table as SqlNode | undefined;
  const empty = (value: unknown) => value === null || value === undefined || (Array.isArray(value) && !value.length);
  const ctes = (node.cte_map as { map?: unknown[] } | undefined)?.map;
  return (
    node.type === 'SELECT_NODE' &&
    (from === undefined || from.type === 'EMPTY') &&
    empty(node.where_clause) &&
    empty(node.group_expressions) &&
    empty(node.having) &&
    empty(node.qualify) &&
    empty(node.sample) &&
    empty(node.modifiers) &&
    empty(ctes)
  );
}

function describeParams(params: Readonly<Record<string, string>>): string {
  const names = Object.keys(params);
  return names.length > 0 ? `given: ${names.join(', ')}` : 'none given';
}

function resolveColumn(
  name: string,
  columns: readonly string[],
  incomparable: Readonly<Record<string, string>>,
  what: string,
): string {
  if (columns.includes(name)) return name;
  const folded = columns.filter((column) => column.toLowerCase() === name.toLowerCase());
  if (folded.length === 1) return folded[0]!;
  const refused = Object.keys(incomparable).find((column) => column.toLowerCase() === name.toLowerCase());
  if (refused) throw new UsageError(`${what}: may not use the column '${refused}': ${incomparable[refused]}`);
  throw new UsageError(`${what}: '${name}' is not a column of the table (columns: ${columns.join(', ')})`);
}

interface RenderContext {
  dialect: 'postgres' | 'duckdb';
  column(name: string): string;
  parameter(name: string): string;
  what: string;
}

function renderNode(node: SqlNode, context: RenderContext): string {
  const render = (child: unknown) => renderNode(child as SqlNode, context);
  const children = (node.children as SqlNode[] | undefined) ?? [];
  const type = String(node.type);
  if (node.alias) throw refuse(context, `an alias (${String(node.alias)})`);
  switch (node.class) {
    case 'COLUMN_REF': {
      const names = node.column_names as string[];
      if (names.length !== 1) throw refuse(context, `the qualified name ${names.join('.')}`);
      return quoteIdent(context.column(names[0]!));
    }
    case 'CONSTANT':
      return renderConstant(node.value as ConstantValue, context);
    case 'PARAMETER':
      return context.parameter(String(node.identifier));
    case 'COMPARISON': {
      const operator = COMPARISONS[type];
      if (!operator) throw refuse(context, `the comparison ${type}`);
      return `(${render(node.left)} ${operator} ${render(node.right)})`;
    }
    case 'CONJUNCTION': {
      const joiner = type === 'CONJUNCTION_AND' ? ' AND ' : type === 'CONJUNCTION_OR' ? ' OR ' : undefined;
      if (!joiner) throw refuse(context, type);
      return `(${children.map(render).join(joiner)})`;
    }
    case 'BETWEEN':
      return `(${render(node.input)} BETWEEN ${render(node.lower)} AND ${render(node.upper)})`;
    case 'OPERATOR':
      switch (type) {
        case 'OPERATOR_NOT':
          return `(NOT ${render(children[0])})`;
        case 'OPERATOR_IS_NULL':
          return `(${render(children[0])} IS NULL)`;
        case 'OPERATOR_IS_NOT_NULL':
          return `(${render(children[0])} IS NOT NULL)`;
        case 'COMPARE_IN':
        case 'COMPARE_NOT_IN': {
          const [value, ...list] = children.map(render);
          return `(${value} ${type === 'COMPARE_IN' ? 'IN' : 'NOT IN'} (${list.join(', ')}))`;
        }
        default:
          throw refuse(context, `the operator ${type}`);
      }
    case 'FUNCTION': {
      const name = String(node.function_name);
      const like = node.is_operator ? LIKE_OPERATORS[name] : undefined;
      if (like && children.length === 2) return `(${render(children[0])} ${like} ${render(children[1])})`;
      if (!node.is_operator && SAME_FUNCTIONS.has(name.toLowerCase()) && children.length === 1 && !node.distinct)
        return `${name.toLowerCase()}(${render(children[0])})`;
      throw refuse(context, node.is_operator ? `the operator ${name}` : `the function ${name}()`);
    }
    case 'CAST': {
      const target = castType(node.cast_type as { id: string; type_info?: { width?: number; scale?: number } | null });
      if (!target || node.try_cast) throw refuse(context, `a cast to ${JSON.stringify(node.cast_type)}`);
      return `CAST(${render(node.child)} AS ${target[context.dialect]})`;
    }
    default:
      throw refuse(context, `${String(node.class).toLowerCase().replaceAll('_', ' ')} (${type})`);
  }
}

function castType(type: {
  id: string;
  type_info?: { width?: number; scale?: number } | null;
}): { postgres: string; duckdb: string } | undefined {
  if (type.id === 'DECIMAL' && type.type_info?.width !== undefined) {
    const spec = `(${type.type_info.width},${type.type_info.scale ?? 0})`;
    return { postgres: `numeric${spec}`, duckdb: `DECIMAL${spec}` };
  }
  return CAST_TYPES[type.id];
}

interface ConstantValue {
  is_null: boolean;
  value?: unknown;
  type: { id: string; type_info?: { width?: number; scale?: number } | null };
}

/** A literal both engines read as the same value; strings take the type their comparison gives them, in both. */
function renderConstant(constant: ConstantValue, context: RenderContext): string {
  if (constant.is_null) return 'NULL';
  const { id } = constant.type;
  const value = constant.value;
  if (id === 'VARCHAR') return quoteLiteral(String(value));
  if (id === 'BOOLEAN') return value ? 'TRUE' : 'FALSE';
  if (INTEGER_CONSTANTS.has(id) && Number.isSafeInteger(value)) return String(value);
  if (id === 'DECIMAL' && Number.isSafeInteger(value))
    return decimalText(BigInt(value as number), constant.type.type_info?.scale ?? 0);
  if (id === 'DOUBLE' && typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw refuse(
    context,
    `the constant ${JSON.stringify(value)} (${id}); write large numbers as strings, e.g. '12345678901234567890'`,
  );
}

/** A scaled integer as decimal text: 25 with scale 1 is 2.5. */
function decimalText(scaled: bigint, scale: number): string {
  const negative = scaled < 0n;
  const digits = (negative ? -scaled : scaled).toString().padStart(scale + 1, '0');
  const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}

function refuse(context: RenderContext, what: string): UsageError {
  return new UsageError(`${context.what}: may not use ${what}; a condition may use ${ALLOWED}`);
}
