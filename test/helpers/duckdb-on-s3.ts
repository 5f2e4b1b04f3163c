import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { inject } from 'vitest';

import type { S3Endpoint } from '../../stack/s3-request.ts';

/**
 * A DuckDB of the test's own that reads and writes an S3 test server: httpfs from the run's extension directory and an
 * S3 secret named `s3` made here, not by ducktier, so what it reads back does not depend on ducktier's S3 code.
 */
export async function duckdbOnS3(endpoint: S3Endpoint): Promise<{ connection: DuckDBConnection; close(): void }> {
  const instance = await DuckDBInstance.create(':memory:', {
    extension_directory: inject('extensionDir')!,
    autoinstall_known_extensions: 'false',
  });
  const connection = await instance.connect();
  const close = () => {
    connection.closeSync();
    instance.closeSync();
  };
  try {
    await connection.run('LOAD httpfs');
    await connection.run(
      `CREATE SECRET s3 (TYPE S3, KEY_ID '${endpoint.accessKeyId}', SECRET '${endpoint.secretAccessKey}',
         REGION '${endpoint.region}', ENDPOINT '${new URL(endpoint.url).host}', URL_STYLE 'path', USE_SSL false)`,
    );
  } catch (error) {
    close();
    throw error;
  }
  return { connection, close };
}
