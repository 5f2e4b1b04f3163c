import { provisionPostgresExtension } from '../../stack/duckdb-postgres-extension.ts';
import { locateTemporalCli } from '../../stack/temporal-cli.ts';
import type { CommandContext } from '../cli.ts';
import { parseCommandArgs } from '../cli-args.ts';

/**
 * `ducktier provision`: makes the machine ready for the embedded stack (the Temporal CLI and DuckDB's postgres
 * extension, cached outside the repository by version). Fast when the cache is warm.
 */
export async function provisionCommand(context: CommandContext): Promise<number> {
  const { values } = parseCommandArgs('provision', context.args, {});
  const config = context.config(values);
  const started = Date.now();
  const temporal = config.temporal.address
    ? { path: null, source: `existing cluster ${config.temporal.address}` }
    : await locateTemporalCli(context.log);
  const extension = await provisionPostgresExtension(config.duckdb.extensionDir, context.log);
  const seconds = (Date.now() - started) / 1000;
  if (values.json) {
    context.print(JSON.stringify({ temporalCli: temporal, duckdbPostgresExtension: extension, seconds }, null, 2));
  } else {
    context.print(`✓ Temporal CLI: ${temporal.path ?? ''} (${temporal.source})`);
    context.print(
      extension.available
        ? `✓ DuckDB postgres extension: ${extension.extensionDir} (${extension.source})`
        : `! DuckDB postgres extension unavailable (reports and moves will use COPY streams): ${extension.reason}`,
    );
    context.print(`Provisioned in ${seconds.toFixed(1)}s`);
  }
  if (!extension.available && config.duckdb.federation === 'extension') return 1;
  return 0;
}
