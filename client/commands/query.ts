import { DuckDBInstance } from '@duckdb/node-api';

import { UsageError } from '../../errors/usage-error.ts';
import { analyzeReportSql } from '../../storage/federation/report-sql.ts';
import type { CommandContext } from '../cli.ts';
import { parseCommandArgs } from '../cli-args.ts';
import { executeRun, RUN_OPTIONS } from './report.ts';

/**
 * `ducktier query "SELECT ... FROM events_all"`: ad-hoc read-only SQL over the tier views, run like a report. The SQL
 * is checked here with DuckDB's parser first, so a write or a stray table is refused before anything starts; the
 * worker checks it again and runs it in a read-only transaction.
 */
export async function queryCommand(context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs('query', context.args, RUN_OPTIONS, true);
  const config = context.config(values);
  if (positionals.length !== 1)
    throw new UsageError(
      'query takes one SQL statement (quote it), e.g. ducktier query "SELECT count(*) FROM events_all"',
    );
  const sql = positionals[0]!;
  const parser = await DuckDBInstance.create(':memory:');
  try {
    const connection = await parser.connect();
    await analyzeReportSql(connection, sql, config.tables, 'query');
    connection.closeSync();
  } finally {
    parser.closeSync();
  }
  return executeRun(
    context,
    config,
    { sql, params: { from: values.from, to: values.to }, explain: values.explain },
    values.json,
  );
}
