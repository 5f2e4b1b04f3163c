import { Connection } from '@temporalio/client';

import {
  ALL_DUCKDB_EXTENSIONS,
  type DuckdbExtension,
  type ExtensionAvailability,
  provisionDuckdbExtensions,
} from '../../stack/duckdb-extensions.ts';
import { provisionS3Server, S3RVER_VERSION } from '../../stack/s3-server.ts';
import { locateTemporalCli } from '../../stack/temporal-cli.ts';
import { ensureSearchAttributes } from '../../worker/search-attributes.ts';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.ts';
import type { CommandContext } from '../cli.ts';
import { parseCommandArgs } from '../cli-args.ts';

/** What each extension is for, said when it cannot be had. */
const WITHOUT: Record<DuckdbExtension, string> = {
  postgres: 'reports and moves will use COPY streams',
  ducklake: 'a DuckLake cold tier cannot be used',
  httpfs: 'a DuckLake cannot be kept on S3, nor cold partitions archived to s3://',
};

/**
 * `ducktier provision`: makes the machine ready for the embedded stack (the Temporal CLI, DuckDB's postgres, ducklake
 * and httpfs extensions, and the S3-compatible test server, cached outside the repository by version). Fast when the
 * cache is warm.
 */
export async function provisionCommand(context: CommandContext): Promise<number> {
  const { values } = parseCommandArgs('provision', context.args, {});
  const config = context.config(values);
  const started = Date.now();
  const temporal = config.temporal.address
    ? { path: null, source: `existing cluster ${config.temporal.address}` }
    : await locateTemporalCli(context.log);
  const extensions = await provisionDuckdbExtensions(ALL_DUCKDB_EXTENSIONS, config.duckdb.extensionDir, context.log);
  const s3Server = await provisionS3Server(context.log).catch((error: unknown) => ({
    problem: (error as Error).message,
  }));
  const searchAttributes = config.temporal.address
    ? await registerSearchAttributes(config.temporal.address, config.temporal.namespace)
    : null;
  const seconds = (Date.now() - started) / 1000;
  if (values.json) {
    context.print(
      JSON.stringify(
        { temporalCli: temporal, duckdbExtensions: extensions, s3TestServer: s3Server, searchAttributes, seconds },
        null,
        2,
      ),
    );
  } else {
    context.print(`✓ Temporal CLI: ${temporal.path ?? ''} (${temporal.source})`);
    for (const [name, extension] of Object.entries(extensions) as Array<[DuckdbExtension, ExtensionAvailability]>) {
      context.print(
        extension.available
          ? `✓ DuckDB ${name} extension: ${extension.extensionDir} (${extension.source})`
          : `! DuckDB ${name} extension unavailable (${WITHOUT[name]}): ${extension.reason}`,
      );
    }
    context.print(
      'packageDir' in s3Server
        ? `✓ S3 test server: s3rver ${S3RVER_VERSION} in ${s3Server.packageDir} (${s3Server.source})`
        : `! S3 test server unavailable (tests and benchmarks of a lake on S3 cannot run): ${s3Server.problem}`,
    );
    context.print(
      searchAttributes
        ? `✓ Search attributes ${searchAttributes.names.join(', ')} in namespace ${config.temporal.namespace} (${searchAttributes.added.length ? `registered ${searchAttributes.added.join(', ')}` : 'already registered'})`
        : '✓ Search attributes: each worker registers them on the dev server it starts with',
    );
    context.print(`Provisioned in ${seconds.toFixed(1)}s`);
  }
  if (!extensions.postgres.available && config.duckdb.federation === 'extension') return 1;
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
