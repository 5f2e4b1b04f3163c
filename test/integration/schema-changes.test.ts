import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { startErase } from '../../client/erases.ts';
import { runReportInvocation, startMigration } from '../../client/migrations.ts';
import { startRestore } from '../../client/restores.ts';
import { findPolicy } from '../../config/config.ts';
import { listPartitions } from '../../storage/postgres/pg-catalog.ts';
import { ensurePartitions } from '../../storage/postgres/pg-partitions.ts';
import type { MoveOutcome } from '../../workflows/move-outcome.ts';
import { createTestDeploymentWithWorkers, type TestDeploymentWithWorkers } from '../helpers/deployment.ts';
import { DAY, utcMidnightToday } from '../helpers/truth.ts';

/**
 * Each case: a table with rows in an old day, that day moved to the cold tier, then a schema change in PostgreSQL and
 * rows in the next day, which then moves too. Truth is PostgreSQL's own: a plain table that got the same rows and the
 * same ALTER (so a rename keeps values, a drop loses them, a type change converts them as PostgreSQL does).
 */
interface SchemaChangeCase {
  table: string;
  /** Columns besides `id integer` and `at timestamptz` (the partition key). */
  columns: string;
  /** Column names and values of the rows inserted before the change (`id`, `at` added). */
  before: { names: string; rows: string[] };
  /** The change, `%t` standing for the table. */
  change: string[];
  after: { names: string; rows: string[] };
  /** The columns compared after the change (as text), besides `id`. */
  compared: string[];
  /** What the cold table's columns are afterwards (name and DuckDB type, without the source partition). */
  coldColumns: Array<[string, string]>;
}

const day1 = new Date(utcMidnightToday() - 6 * DAY);
const day2 = new Date(utcMidnightToday() - 5 * DAY);
const stamp = (day: Date, hour: number) => `'${new Date(day.getTime() + hour * 3_600_000).toISOString()}'`;
const partitionOf = (table: string, day: Date) => `${table}_p${day.toISOString().slice(0, 10).replaceAll('-', '')}`;

const BASE_COLUMNS = 'n integer, s smallint, v varchar(10), d numeric(10,2), ts timestamp, note text';
const BEFORE = {
  names: 'n, s, v, d, ts, note',
  rows: [
    `2147483647, 32767, 'abcdefghij', 12345678.91, '2026-01-02 03:04:05.123456', 'first'`,
    `-5, -2, 'b', -0.01, '1999-12-31 23:59:59', NULL`,
    `NULL, NULL, NULL, NULL, NULL, 'third'`,
  ],
};

/** The cold table's columns for BASE_COLUMNS, with some types changed and columns added at the end. */
function coldAfter(types: Record<string, string> = {}, added: Array<[string, string]> = []): Array<[string, string]> {
  const base: Array<[string, string]> = [
    ['id', 'INTEGER'],
    ['at', 'TIMESTAMPTZ'],
    ['n', 'INTEGER'],
    ['s', 'SMALLINT'],
    ['v', 'VARCHAR'],
    ['d', 'DECIMAL(10,2)'],
    ['ts', 'TIMESTAMP'],
    ['note', 'VARCHAR'],
  ];
  return [...base.map(([name, type]): [string, string] => [name, types[name] ?? type]), ...added];
}

const CASES: SchemaChangeCase[] = [
  {
    table: 'sc_add',
    columns: BASE_COLUMNS,
    before: BEFORE,
    // Rows that existed when a column was added with a default hold it, in PostgreSQL and in the cold tier.
    change: [
      'ALTER TABLE %t ADD COLUMN extra bigint',
      "ALTER TABLE %t ADD COLUMN label text DEFAULT 'x'",
      'ALTER TABLE %t ADD COLUMN amount numeric(12,2) DEFAULT 1.5',
    ],
    after: { names: 'n, extra, label', rows: [`7, 9000000000, 'y'`, `8, NULL, NULL`] },
    compared: ['n', 'extra', 'label', 'note', 'amount'],
    coldColumns: coldAfter({}, [
      ['extra', 'BIGINT'],
      ['label', 'VARCHAR'],
      ['amount', 'DECIMAL(12,2)'],
    ]),
  },
  {
    table: 'sc_drop',
    columns: BASE_COLUMNS,
    before: BEFORE,
    change: ['ALTER TABLE %t DROP COLUMN note', 'ALTER TABLE %t DROP COLUMN s'],
    after: { names: 'n, v', rows: [`7, 'new'`] },
    compared: ['n', 'v', 'd'],
    coldColumns: coldAfter().filter(([name]) => name !== 's' && name !== 'note'),
  },
  {
    // A rename, a swap of two names, and a new column under a renamed column's old name: only the attnum tells them apart.
    table: 'sc_rename',
    columns: BASE_COLUMNS,
    before: BEFORE,
    change: [
      'ALTER TABLE %t RENAME COLUMN note TO remark',
      'ALTER TABLE %t ADD COLUMN note text',
      'ALTER TABLE %t RENAME COLUMN n TO tmp',
      'ALTER TABLE %t RENAME COLUMN s TO n',
      'ALTER TABLE %t RENAME COLUMN tmp TO s',
    ],
    after: { names: 'n, s, remark, note', rows: [`3, 40000, 'old name', 'new column'`] },
    compared: ['n', 's', 'remark', 'note', 'v'],
    coldColumns: [
      ['id', 'INTEGER'],
      ['at', 'TIMESTAMPTZ'],
      ['s', 'INTEGER'],
      ['n', 'SMALLINT'],
      ['v', 'VARCHAR'],
      ['d', 'DECIMAL(10,2)'],
      ['ts', 'TIMESTAMP'],
      ['remark', 'VARCHAR'],
      ['note', 'VARCHAR'],
    ],
  },
  {
    table: 'sc_integers',
    columns: BASE_COLUMNS,
    before: BEFORE,
    change: ['ALTER TABLE %t ALTER COLUMN n TYPE bigint', 'ALTER TABLE %t ALTER COLUMN s TYPE integer'],
    after: { names: 'n, s', rows: [`9000000000, 2000000000`] },
    compared: ['n', 's'],
    coldColumns: coldAfter({ n: 'BIGINT', s: 'INTEGER' }),
  },
  {
    table: 'sc_text',
    columns: BASE_COLUMNS,
    before: BEFORE,
    change: ['ALTER TABLE %t ALTER COLUMN v TYPE varchar(40)'],
    after: { names: 'v, note', rows: [`'abcdefghijklmnopqrstuvwxyz', 'later'`] },
    compared: ['v', 'note'],
    coldColumns: coldAfter(),
  },
  {
    table: 'sc_unbounded_text',
    columns: BASE_COLUMNS,
    before: BEFORE,
    change: ['ALTER TABLE %t ALTER COLUMN v TYPE text'],
    after: { names: 'v', rows: [`'${'long '.repeat(30)}'`] },
    compared: ['v'],
    coldColumns: coldAfter(),
  },
  {
    table: 'sc_numeric',
    columns: BASE_COLUMNS,
    before: BEFORE,
    change: ['ALTER TABLE %t ALTER COLUMN d TYPE numeric(16,4)'],
    after: { names: 'd', rows: [`123456789012.3456`, `0.0001`] },
    compared: ['d', 'n'],
    coldColumns: coldAfter({ d: 'DECIMAL(16,4)' }),
  },
  {
    // The zone rule: old cold values are taken as UTC, which is what PostgreSQL's ALTER does in a UTC session.
    table: 'sc_timestamptz',
    columns: BASE_COLUMNS,
    before: BEFORE,
    change: [`ALTER TABLE %t ALTER COLUMN ts TYPE timestamptz USING ts AT TIME ZONE 'UTC'`],
    after: { names: 'ts', rows: [`'2026-05-06 07:08:09.5+02'`] },
    compared: ['ts'],
    coldColumns: coldAfter({ ts: 'TIMESTAMPTZ' }),
  },
];

describe('schema changes in PostgreSQL follow the table into the cold tier', () => {
  let env: TestDeploymentWithWorkers;
  const tables = [...CASES.map((c) => c.table), 'sc_narrow', 'sc_incompatible', 'sc_rename_restore'];

  beforeAll(async () => {
    env = await createTestDeploymentWithWorkers('schema_changes', {
      tables: tables.map((table) => ({ table, timeColumn: 'at', hotWindow: '2 days' })),
      extraConfig: { reports: [] },
    });
  });
  afterAll(async () => env?.close());

  const run = (sql: string) => env.pgPool.query(sql);
  const both = async (table: string, sql: string) => {
    await run(sql.replaceAll('%t', table));
    await run(sql.replaceAll('%t', `${table}_truth`));
  };

  async function createTable(table: string, columns: string): Promise<void> {
    await run(
      `CREATE TABLE ${table} (id integer NOT NULL, at timestamptz NOT NULL, ${columns}) PARTITION BY RANGE (at)`,
    );
    await run(`CREATE TABLE ${table}_truth (id integer NOT NULL, at timestamptz NOT NULL, ${columns})`);
    await ensurePartitions(env.pgPool, findPolicy(env.config, table), day1, new Date(), new Set());
  }

  async function insert(table: string, day: Date, firstId: number, rows: { names: string; rows: string[] }) {
    const values = rows.rows.map((row, index) => `(${firstId + index}, ${stamp(day, index + 1)}, ${row})`);
    await both(table, `INSERT INTO %t (id, at, ${rows.names}) VALUES ${values.join(', ')}`);
  }

  async function move(table: string, day: Date): Promise<MoveOutcome> {
    const outcomes = await (
      await startMigration(env.temporal, env.config, { table, partition: partitionOf(table, day) })
    ).result();
    expect(outcomes).toHaveLength(1);
    return outcomes[0]!;
  }

  /** PostgreSQL's answer over the truth table, every value as text. */
  async function truthRows(table: string, columns: string[]): Promise<Array<Record<string, unknown>>> {
    const list = columns.map((c) => `"${c}"::text AS "${c}"`).join(', ');
    const { rows } = await run(`SELECT id, ${list} FROM ${table}_truth ORDER BY id`);
    return rows;
  }

  const duckText = (columns: string[]) => columns.map((c) => `CAST("${c}" AS VARCHAR) AS "${c}"`).join(', ');

  async function allRows(table: string, columns: string[]) {
    const result = await runReportInvocation(env.temporal, env.config, {
      sql: `SELECT id, ${duckText(columns)} FROM ${table}_all ORDER BY id`,
    });
    return result.rows;
  }

  /** One aggregate report over `<table>_all` and the same SQL in PostgreSQL over the truth table. */
  async function aggregates(table: string, column: string) {
    const select = (from: string, text: (e: string) => string) =>
      `SELECT ${text('count(*)')} AS rows, ${text(`count(${column})`)} AS filled, ${text(`min(${column})`)} AS low, ${text(`max(${column})`)} AS high FROM ${from}`;
    const report = await runReportInvocation(env.temporal, env.config, {
      sql: select(`${table}_all`, (e) => `CAST(${e} AS VARCHAR)`),
    });
    const { rows } = await run(select(`${table}_truth`, (e) => `(${e})::text`));
    return { report: report.rows, truth: rows };
  }

  async function coldRows(table: string, columns: string[]) {
    const cold = env.workers.coldStore;
    return cold.withConnection(async (connection) =>
      (
        await connection.runAndReadAll(
          `SELECT id, ${duckText(columns)}, _ducktier_partition AS partition FROM ${cold.relation(`${table}_historical`)} ORDER BY id`,
        )
      ).getRowObjectsJson(),
    );
  }

  async function coldColumns(table: string): Promise<Array<[string, string]>> {
    const cold = env.workers.coldStore;
    return cold.withConnection(async (connection) =>
      (
        await connection.runAndReadAll(
          `SELECT column_name, data_type FROM (DESCRIBE SELECT * FROM ${cold.relation(`${table}_historical`)}) t(column_name, data_type)`,
        )
      )
        .getRowsJson()
        .map(
          (row) =>
            [String(row[0]), String(row[1]).replace('TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ')] as [string, string],
        )
        .filter(([name]) => name !== '_ducktier_partition'),
    );
  }

  test.each(CASES)('$table: old cold rows stay readable, the next move follows the change', async (c) => {
    await createTable(c.table, c.columns);
    await insert(c.table, day1, 1, c.before);
    expect(await move(c.table, day1)).toMatchObject({ status: 'moved', rows: c.before.rows.length });
    // A report before the change: DuckDB's postgres extension has now seen the hot partitions' old columns.
    expect(await allRows(c.table, ['at'])).toHaveLength(c.before.rows.length);

    for (const change of c.change) await both(c.table, change);
    await insert(c.table, day2, 100, c.after);
    const truth = await truthRows(c.table, c.compared);
    // Before the next move: one tier cold under the old schema, one hot under the new.
    expect(await allRows(c.table, c.compared)).toEqual(truth);

    expect(await move(c.table, day2)).toMatchObject({ status: 'moved', rows: c.after.rows.length });
    expect(await coldColumns(c.table)).toEqual(c.coldColumns);
    expect(await coldRows(c.table, c.compared)).toEqual(
      truth.map((row) => ({ ...row, partition: partitionOf(c.table, Number(row.id) < 100 ? day1 : day2) })),
    );
    expect(await allRows(c.table, c.compared)).toEqual(truth);
    const { report, truth: expected } = await aggregates(c.table, c.compared[0]!);
    expect(report).toEqual(expected);
  });

  test.each([
    {
      table: 'sc_narrow',
      change: 'ALTER TABLE %t ALTER COLUMN n TYPE smallint',
      error:
        'column n of public.sc_narrow changing from integer to smallint, a narrowing, which cold rows already moved may not fit: change it back in PostgreSQL (ALTER TABLE public.sc_narrow ALTER COLUMN n TYPE integer)',
      undo: 'ALTER TABLE %t ALTER COLUMN n TYPE integer',
    },
    {
      table: 'sc_incompatible',
      change: 'ALTER TABLE %t ALTER COLUMN n TYPE text',
      error:
        'column n of public.sc_incompatible changing from integer to text, a change that is not a widening (ducktier carries smallint to integer to bigint, real to double precision, varchar to a longer varchar or text, numeric to more digits, timestamp to timestamptz): change it back in PostgreSQL (ALTER TABLE public.sc_incompatible ALTER COLUMN n TYPE integer)',
      undo: 'ALTER TABLE %t ALTER COLUMN n TYPE integer USING n::integer',
    },
  ])('$table: a change the cold table cannot follow fails the next move, which moves nothing', async (c) => {
    await createTable(c.table, 'n integer, note text');
    await insert(c.table, day1, 1, { names: 'n, note', rows: [`1, 'one'`, `2, NULL`] });
    expect(await move(c.table, day1)).toMatchObject({ status: 'moved', rows: 2 });
    const coldBefore = await coldRows(c.table, ['n', 'note']);

    await both(c.table, c.change);
    await insert(c.table, day2, 100, { names: 'n', rows: ['5', '6', '7'] });
    const failed = await move(c.table, day2);
    expect(failed.status).toBe('failed');
    expect(failed.error).toContain(c.error);
    expect(failed.error).toContain('nothing was moved');
    // PostgreSQL keeps the partition whole, and the cold tier is as it was.
    expect((await listPartitions(env.pgPool, 'public', c.table)).map((p) => p.name)).toContain(
      partitionOf(c.table, day2),
    );
    expect((await run(`SELECT count(*)::int AS n FROM ${partitionOf(c.table, day2)}`)).rows[0].n).toBe(3);
    expect(await coldRows(c.table, ['n', 'note'])).toEqual(coldBefore);

    // Doing what the error says lets the next move through.
    await both(c.table, c.undo);
    expect(await move(c.table, day2)).toMatchObject({ status: 'moved', rows: 3 });
    expect(await allRows(c.table, ['n', 'note'])).toEqual(await truthRows(c.table, ['n', 'note']));
  });

  test('after a rename, erase finds old cold rows by the new name, and a restore brings them back under it', async () => {
    const table = 'sc_rename_restore';
    const partition = partitionOf(table, day1);
    await createTable(table, 'n integer, note text');
    await insert(table, day1, 1, { names: 'n, note', rows: [`1, 'one'`, `2, 'two'`, `3, NULL`, `4, 'four'`] });
    expect(await move(table, day1)).toMatchObject({ status: 'moved', rows: 4 });
    await both(table, 'ALTER TABLE %t RENAME COLUMN note TO label');

    const policy = findPolicy(env.config, table);
    const erased = await (
      await startErase(env.temporal, env.config, {
        policy,
        where: 'label = $label',
        params: { label: 'two' },
        dryRun: false,
      })
    ).result();
    expect(erased).toMatchObject({ hot: 0, cold: 1, coldPartitions: [{ partition, rows: 1 }] });
    await run(`DELETE FROM ${table}_truth WHERE label = 'two'`);

    expect(await (await startRestore(env.temporal, env.config, { policy, partition })).result()).toMatchObject({
      status: 'restored',
    });
    const { rows } = await run(`SELECT id, n::text AS n, label FROM ${partition} ORDER BY id`);
    const truth = await run(`SELECT id, n::text AS n, label FROM ${table}_truth ORDER BY id`);
    expect(rows).toEqual(truth.rows);
    expect(rows.map((row) => row.label)).toEqual(['one', null, 'four']);
    expect(await coldRows(table, ['n', 'label'])).toEqual([]);
  });
});
