import { Connection } from '@temporalio/client';

import { provisionPostgresExtension } from '../../stack/duckdb-postgres-extension.ts';
import { locateTemporalCli } from '../../stack/temporal-cli.ts';
import { ensureSearchAttributes } from '../../worker/search-attributes.ts';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.ts';
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
  const searchAttributes = config.temporal.address
    ? await registerSearchAttributes(config.temporal.address, config.temporal.namespace)
    : null;
  const seconds = (Date.now() - started) / 1000;
  if (values.json) {
    context.print(
      JSON.stringify({ temporalCli: temporal, duckdbPostgresExtension: extension, searchAttributes, seconds }, null, 2),
    );
  } else {
    context.print(`✓ Temporal CLI: ${temporal.path ?? ''} (${temporal.source})`);
    context.print(
      extension.available
        ? `✓ DuckDB postgres extension: ${extension.extensionDir} (${extension.source})`
        : `! DuckDB postgres extension unavailable (reports and moves will use COPY streams): ${extension.reason}`,
    );
    context.print(
      searchAttributes
        ? `✓ Search attributes ${searchAttributes.names.join(', ')} in namespace ${config.temporal.namespace} (${searchAttributes.added.length ? `registered ${searchAttributes.added.join(', ')}` : 'already registered'})`
        : '✓ Search attributes: each worker registers them on the dev server it starts with',
    );
    context.print(`Provisioned in ${seconds.toFixed(1)}s`);
  }
  if (!extension.available && config.duckdb.federation === 'extension') return 1;
  return 0;
}

/** On a configured cluster: ducktier's search attributes, registered where missing (worker/search-attributes.ts). */
async function registerSearchAttributes(address: string, namespace: string) {
  const connection = await Connection.connect({ address });
  try {
    const added = await ensureSearchAttributes(connection.operatorService, namespace);
    return { names: Object.values(SEARCH_ATTRIBUTES).map((key) => key.name), added };
  } finally {
    await connection.close();
  }
}
