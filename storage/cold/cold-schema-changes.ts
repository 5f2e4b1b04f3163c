import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { Refusal } from '../../errors/refusal.ts';
import { type ColumnMapping, normalizeDuckType } from '../duckdb/duck-type-mapping.ts';
import type { ColumnOrigin } from '../postgres/pg-catalog.ts';

/**
 * How PostgreSQL's schema changes reach a cold table. Each cold column records, in its DuckDB comment, the PostgreSQL
 * column it holds (table OID, attnum, declared type): the attnum survives a rename and a type change, so a renamed
 * column is renamed in the cold table with its old values, a dropped one (its attnum gone) is dropped, and a column
 * dropped and added again under the same name starts empty. Comments change in the same transaction as the columns.
 */

/** What a cold column records about the PostgreSQL column it holds. */
export interface RecordedOrigin extends ColumnOrigin {
  pgType: string;
}

/** A column of a cold table as DuckDB's catalog shows it (not the source-partition column). */
export interface ColdColumn {
  name: string;
  duckType: string;
  /** From its comment; absent for a column made before ducktier recorded origins (matched by name instead). */
  recorded?: RecordedOrigin;
}

const COMMENT_PREFIX = 'ducktier: PostgreSQL column ';

/** The comment recording which PostgreSQL column a cold column holds. */
export function originComment(column: ColumnMapping): string {
  const { relid, attnum } = column.origin;
  return `${COMMENT_PREFIX}${JSON.stringify({ relid, attnum, pgType: column.pgType })}`;
}

/** Reads an originComment back; undefined for any other comment (or none). */
export function parseOriginComment(comment: string | null | undefined): RecordedOrigin | undefined {
  if (!comment?.startsWith(COMMENT_PREFIX)) return undefined;
  try {
    const value = JSON.parse(comment.slice(COMMENT_PREFIX.length)) as Partial<RecordedOrigin>;
    if (typeof value.relid === 'number' && typeof value.attnum === 'number' && typeof value.pgType === 'string')
      return { relid: value.relid, attnum: value.attnum, pgType: value.pgType };
  } catch {
    // Not ours after all: treated like a column without a record.
  }
  return undefined;
}

/** A PostgreSQL type for a cold column made before origins were recorded, whose type differs from the mapping's. */
function pgTypeOfDuckType(duckType: string): string {
  const known: Record<string, string> = {
    SMALLINT: 'smallint',
    INTEGER: 'integer',
    BIGINT: 'bigint',
    FLOAT: 'real',
    DOUBLE: 'double precision',
    VARCHAR: 'text',
    TIMESTAMP: 'timestamp without time zone',
    TIMESTAMPTZ: 'timestamp with time zone',
  };
  const type = normalizeDuckType(duckType);
  const decimal = /^DECIMAL\((\d+),(\d+)\)$/.exec(type);
  return decimal ? `numeric(${decimal[1]},${decimal[2]})` : (known[type] ?? type);
}

/** Whether a change of a column's PostgreSQL type can be carried to cold rows already moved. */
export type TypeChange = 'same' | 'widening' | 'narrowing' | 'incompatible';

const INTEGER_RANK: Record<string, number> = { smallint: 1, integer: 2, bigint: 3 };
const FLOAT_RANK: Record<string, number> = { real: 1, 'double precision': 2 };
const TIMESTAMP_RANK: Record<string, number> = { 'timestamp without time zone': 1, 'timestamp with time zone': 2 };

/** Characters a text type holds: unlimited for text and varchar, n for varchar(n); undefined for other types. */
function textLength(type: string): number | undefined {
  if (type === 'text' || type === 'character varying') return Infinity;
  const match = /^character varying\((\d+)\)$/.exec(type);
  return match ? Number(match[1]) : undefined;
}

/** Digits before and after the point of numeric(p,s); unlimited for plain numeric; undefined for other types. */
function numericDigits(type: string): { integer: number; scale: number } | undefined {
  if (type === 'numeric') return { integer: Infinity, scale: Infinity };
  const match = /^numeric\((\d+),(\d+)\)$/.exec(type);
  return match ? { integer: Number(match[1]) - Number(match[2]), scale: Number(match[2]) } : undefined;
}

/**
 * Classifies a change of declared type (format_type() spelling). Widening keeps every old value exactly: smallint to
 * integer to bigint, real to double precision, varchar(n) to a longer varchar or text, numeric(p,s) to as many or more
 * digits on both sides of the point (or plain numeric), timestamp to timestamptz (old cold values are taken as UTC).
 */
export function classifyTypeChange(from: string, to: string): TypeChange {
  if (from === to) return 'same';
  for (const rank of [INTEGER_RANK, FLOAT_RANK, TIMESTAMP_RANK]) {
    if (rank[from] !== undefined && rank[to] !== undefined) return rank[to] > rank[from] ? 'widening' : 'narrowing';
  }
  const fromLength = textLength(from);
  const toLength = textLength(to);
  if (fromLength !== undefined && toLength !== undefined) return toLength >= fromLength ? 'widening' : 'narrowing';
  const fromDigits = numericDigits(from);
  const toDigits = numericDigits(to);
  if (fromDigits && toDigits)
    return toDigits.integer >= fromDigits.integer && toDigits.scale >= fromDigits.scale ? 'widening' : 'narrowing';
  return 'incompatible';
}

/** What one ensure of a cold table changes, in the order it is applied. */
export interface ColdSchemaPlan {
  /** Cold columns whose PostgreSQL column was dropped. */
  drops: string[];
  renames: Array<{ from: string; to: string }>;
  /** Widened columns, by their new name, with their old and new DuckDB types. */
  retypes: Array<{ name: string; from: string; to: string }>;
  adds: ColumnMapping[];
  /** Origin comments to write, by the column's new name. */
  comments: Array<{ name: string; comment: string }>;
  /** The table after the change: each PostgreSQL column with the cold column it comes from (none when added). */
  columns: Array<{ mapping: ColumnMapping; from?: ColdColumn }>;
  /** Cold columns made before origins were recorded that match no PostgreSQL column: left as they are. */
  kept: ColdColumn[];
}

export function isUnchanged(plan: ColdSchemaPlan): boolean {
  return plan.drops.length + plan.renames.length + plan.retypes.length + plan.adds.length + plan.comments.length === 0;
}

/** Whether a rename's new name is held by a column that stays, so renames must pass through spare names. */
export function renamesCollide(plan: ColdSchemaPlan): boolean {
  const staying = new Set([
    ...plan.columns.flatMap((c) => (c.from ? [c.from.name] : [])),
    ...plan.kept.map((c) => c.name),
  ]);
  return plan.renames.some((rename) => staying.has(rename.to));
}

/**
 * Plans how the cold table follows PostgreSQL's current columns. A cold column is matched to a PostgreSQL column by the
 * origin it recorded (same table OID and attnum), or, without a record of this table, by name. Refuses, naming every
 * such column and what to do, a type change that old cold rows might not survive (narrowing) or that is not a
 * widening at all: nothing is changed then.
 */
export function planColdSchema(
  of: { schema: string; table: string; coldTable: string },
  cold: readonly ColdColumn[],
  pg: readonly ColumnMapping[],
): ColdSchemaPlan {
  const relid = pg[0]?.origin.relid;
  const recorded = (column: ColdColumn) => column.recorded !== undefined && column.recorded.relid === relid;
  const byAttnum = new Map(cold.filter(recorded).map((column) => [column.recorded!.attnum, column]));
  const unrecorded = cold.filter((column) => !recorded(column));
  const plan: ColdSchemaPlan = { drops: [], renames: [], retypes: [], adds: [], comments: [], columns: [], kept: [] };
  const matched = new Set<ColdColumn>();
  const refusals: string[] = [];
  for (const mapping of pg) {
    const from = byAttnum.get(mapping.origin.attnum) ?? unrecorded.find((column) => column.name === mapping.name);
    plan.columns.push({ mapping, ...(from ? { from } : {}) });
    const comment = originComment(mapping);
    if (!from) {
      plan.adds.push(mapping);
      plan.comments.push({ name: mapping.name, comment });
      continue;
    }
    matched.add(from);
    const sameDuckType = normalizeDuckType(from.duckType) === normalizeDuckType(mapping.duckType);
    const fromPgType =
      from.recorded && recorded(from)
        ? from.recorded.pgType
        : sameDuckType
          ? mapping.pgType
          : pgTypeOfDuckType(from.duckType);
    const change = classifyTypeChange(fromPgType, mapping.pgType);
    if (change === 'narrowing' || change === 'incompatible') {
      refusals.push(describeRefusal(of, mapping.name, fromPgType, mapping.pgType, change));
      continue;
    }
    if (from.name !== mapping.name) plan.renames.push({ from: from.name, to: mapping.name });
    if (!sameDuckType) plan.retypes.push({ name: mapping.name, from: from.duckType, to: mapping.duckType });
    if (!recorded(from) || from.recorded?.attnum !== mapping.origin.attnum || from.recorded.pgType !== mapping.pgType)
      plan.comments.push({ name: mapping.name, comment });
  }
  if (refusals.length > 0) {
    throw new Refusal(
      `the cold table ${of.coldTable} cannot follow ${refusals.join('; ')}; nothing was moved`,
      FAILURE_TYPES.SchemaChangeNotCarried,
    );
  }
  for (const column of cold) {
    if (matched.has(column)) continue;
    if (recorded(column)) plan.drops.push(column.name);
    else plan.kept.push(column);
  }
  return plan;
}

function describeRefusal(
  of: { schema: string; table: string },
  column: string,
  from: string,
  to: string,
  change: 'narrowing' | 'incompatible',
): string {
  const why =
    change === 'narrowing'
      ? 'a narrowing, which cold rows already moved may not fit'
      : 'a change that is not a widening (ducktier carries smallint to integer to bigint, real to double precision, varchar to a longer varchar or text, numeric to more digits, timestamp to timestamptz)';
  return `column ${column} of ${of.schema}.${of.table} changing from ${from} to ${to}, ${why}: change it back in PostgreSQL (ALTER TABLE ${of.schema}.${of.table} ALTER COLUMN ${column} TYPE ${from}) and add a new column for the new type instead`;
}
