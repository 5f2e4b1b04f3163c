import { describe, expect, test } from 'vitest';

import { FAILURE_TYPES } from '../../errors/failure-types.ts';
import { Refusal } from '../../errors/refusal.ts';
import {
  classifyTypeChange,
  type ColdColumn,
  isUnchanged,
  originComment,
  parseOriginComment,
  planColdSchema,
  renamesCollide,
} from '../../storage/cold/cold-schema-changes.ts';
import { type ColumnMapping, mapColumn } from '../../storage/duckdb/duck-type-mapping.ts';

const RELID = 16_384;
const TABLE = { schema: 'public', table: 'metrics', coldTable: 'metrics_historical' };

/** A PostgreSQL column of the table, as the catalog would describe it. */
function pgColumn(name: string, attnum: number, declaredType: string, typeName: string): ColumnMapping {
  const numeric = /^numeric\((\d+),(\d+)\)$/.exec(declaredType);
  return mapColumn({
    name,
    origin: { relid: RELID, attnum },
    declaredType,
    typeName,
    category: 'N',
    notNull: false,
    generated: false,
    ...(numeric ? { numeric: { precision: Number(numeric[1]), scale: Number(numeric[2]) } } : {}),
  });
}

/** The cold column a PostgreSQL column became, with its recorded origin. */
const coldOf = (column: ColumnMapping, name = column.name): ColdColumn => ({
  name,
  duckType: column.duckType,
  recorded: parseOriginComment(originComment(column))!,
});

const id = pgColumn('id', 1, 'integer', 'int4');
const at = pgColumn('at', 2, 'timestamp with time zone', 'timestamptz');
const value = pgColumn('value', 3, 'integer', 'int4');

describe('type changes: what the cold table can follow', () => {
  test.each([
    ['smallint', 'integer', 'widening'],
    ['smallint', 'bigint', 'widening'],
    ['integer', 'bigint', 'widening'],
    ['bigint', 'integer', 'narrowing'],
    ['integer', 'smallint', 'narrowing'],
    ['real', 'double precision', 'widening'],
    ['double precision', 'real', 'narrowing'],
    ['character varying(10)', 'character varying(40)', 'widening'],
    ['character varying(10)', 'character varying(10)', 'same'],
    ['character varying(10)', 'text', 'widening'],
    ['character varying(10)', 'character varying', 'widening'],
    ['text', 'character varying(10)', 'narrowing'],
    ['character varying(40)', 'character varying(10)', 'narrowing'],
    ['numeric(10,2)', 'numeric(16,4)', 'widening'],
    ['numeric(10,2)', 'numeric(12,2)', 'widening'],
    ['numeric(10,2)', 'numeric', 'widening'],
    ['numeric(10,2)', 'numeric(10,4)', 'narrowing'],
    ['numeric(10,2)', 'numeric(9,2)', 'narrowing'],
    ['numeric', 'numeric(38,10)', 'narrowing'],
    ['timestamp without time zone', 'timestamp with time zone', 'widening'],
    ['timestamp with time zone', 'timestamp without time zone', 'narrowing'],
    ['integer', 'text', 'incompatible'],
    ['text', 'integer', 'incompatible'],
    ['integer', 'numeric(12,0)', 'incompatible'],
    ['integer[]', 'bigint[]', 'incompatible'],
    ['date', 'timestamp without time zone', 'incompatible'],
  ])('%s to %s is %s', (from, to, expected) => {
    expect(classifyTypeChange(from, to)).toBe(expected);
  });
});

describe('origin comments', () => {
  test('read back what they record; any other comment records nothing', () => {
    expect(parseOriginComment(originComment(value))).toEqual({ relid: RELID, attnum: 3, pgType: 'integer' });
    expect(parseOriginComment(null)).toBeUndefined();
    expect(parseOriginComment('the user’s own note')).toBeUndefined();
    expect(parseOriginComment('ducktier: PostgreSQL column {broken')).toBeUndefined();
    expect(parseOriginComment('ducktier: PostgreSQL column {"relid":1}')).toBeUndefined();
  });
});

describe('planning the cold table after PostgreSQL changed', () => {
  const cold = [coldOf(id), coldOf(at), coldOf(value)];

  test('nothing changed: nothing to do', () => {
    expect(isUnchanged(planColdSchema(TABLE, cold, [id, at, value]))).toBe(true);
  });

  test('a rename is found by attnum and keeps the column (and its values)', () => {
    const renamed = { ...value, name: 'reading' };
    const plan = planColdSchema(TABLE, cold, [id, at, renamed]);
    expect(plan).toMatchObject({ drops: [], renames: [{ from: 'value', to: 'reading' }], adds: [], retypes: [] });
    expect(plan.comments).toEqual([]);
  });

  test('a dropped column is dropped; one added again under its name starts empty', () => {
    const readded = pgColumn('value', 4, 'text', 'text');
    const plan = planColdSchema(TABLE, cold, [id, at, readded]);
    expect(plan.drops).toEqual(['value']);
    expect(plan.adds.map((c) => c.name)).toEqual(['value']);
    expect(plan.renames).toEqual([]);
    expect(planColdSchema(TABLE, cold, [id, at]).drops).toEqual(['value']);
  });

  test('swapped names are renames that collide, so they pass through spare names', () => {
    const other = pgColumn('other', 4, 'integer', 'int4');
    const before = [...cold, coldOf(other)];
    const plan = planColdSchema(TABLE, before, [id, at, { ...value, name: 'other' }, { ...other, name: 'value' }]);
    expect(plan.renames).toEqual([
      { from: 'value', to: 'other' },
      { from: 'other', to: 'value' },
    ]);
    expect(renamesCollide(plan)).toBe(true);
    expect(renamesCollide(planColdSchema(TABLE, cold, [id, at, { ...value, name: 'reading' }]))).toBe(false);
  });

  test('a widening changes the DuckDB type and records the new PostgreSQL type', () => {
    const widened = pgColumn('value', 3, 'bigint', 'int8');
    const plan = planColdSchema(TABLE, cold, [id, at, widened]);
    expect(plan.retypes).toEqual([{ name: 'value', from: 'INTEGER', to: 'BIGINT' }]);
    expect(plan.comments).toEqual([{ name: 'value', comment: originComment(widened) }]);
  });

  test('varchar to a longer varchar keeps the DuckDB type and only records the new PostgreSQL type', () => {
    const short = pgColumn('label', 4, 'character varying(10)', 'varchar');
    const long = pgColumn('label', 4, 'character varying(40)', 'varchar');
    const plan = planColdSchema(TABLE, [...cold, coldOf(short)], [id, at, value, long]);
    expect(plan.retypes).toEqual([]);
    expect(plan.comments).toEqual([{ name: 'label', comment: originComment(long) }]);
  });

  test('a narrowing or other change is refused, naming every such column and the fix', () => {
    const label = pgColumn('label', 4, 'character varying(40)', 'varchar');
    const before = [...cold, coldOf(label)];
    const change = () =>
      planColdSchema(TABLE, before, [
        id,
        at,
        pgColumn('value', 3, 'smallint', 'int2'),
        pgColumn('label', 4, 'integer', 'int4'),
      ]);
    expect(change).toThrow(Refusal);
    expect(change).toThrow(
      'the cold table metrics_historical cannot follow column value of public.metrics changing from integer to smallint, a narrowing, which cold rows already moved may not fit: change it back in PostgreSQL (ALTER TABLE public.metrics ALTER COLUMN value TYPE integer) and add a new column for the new type instead; column label of public.metrics changing from character varying(40) to integer, a change that is not a widening',
    );
    try {
      change();
    } catch (error) {
      expect((error as Refusal).type).toBe(FAILURE_TYPES.SchemaChangeNotCarried);
    }
  });

  test('columns made before origins were recorded are matched by name and adopted; others are kept', () => {
    const legacy: ColdColumn[] = [
      { name: 'id', duckType: 'INTEGER' },
      { name: 'at', duckType: 'TIMESTAMP WITH TIME ZONE' },
      { name: 'value', duckType: 'INTEGER' },
      { name: 'gone', duckType: 'VARCHAR' },
    ];
    const plan = planColdSchema(TABLE, legacy, [id, at, pgColumn('value', 3, 'bigint', 'int8')]);
    expect(plan.drops).toEqual([]);
    expect(plan.kept.map((c) => c.name)).toEqual(['gone']);
    expect(plan.retypes).toEqual([{ name: 'value', from: 'INTEGER', to: 'BIGINT' }]);
    expect(plan.comments.map((c) => c.name)).toEqual(['id', 'at', 'value']);
  });

  test('a table created again in PostgreSQL (a new OID) is matched by name, never by stale attnums', () => {
    const recreated = [pgColumn('value', 1, 'integer', 'int4'), pgColumn('id', 2, 'integer', 'int4')].map((c) => ({
      ...c,
      origin: { relid: RELID + 1, attnum: c.origin.attnum },
    }));
    const plan = planColdSchema(TABLE, cold, [...recreated, { ...at, origin: { relid: RELID + 1, attnum: 3 } }]);
    expect(plan.renames).toEqual([]);
    expect(plan.drops).toEqual([]);
    expect(plan.retypes).toEqual([]);
  });
});
