import type { DuckDBConnection } from '@duckdb/node-api';

import type { S3Settings } from '../../config/cold-config.ts';
import { firstLine } from '../../errors/first-line.ts';
import { quoteLiteral } from '../sql-quoting.ts';

/**
 * Lets the connection's DuckDB instance read and write `s3://` paths: loads the httpfs extension and creates ducktier's
 * S3 secret. Both belong to the instance, not the connection (a secret not made PERSISTENT lives in the instance's
 * memory), so every connection of the instance gets them; an instance opened anew needs this again.
 */
export async function enableS3(connection: DuckDBConnection, s3: S3Settings): Promise<void> {
  await connection.run('LOAD httpfs').catch((error: unknown) => {
    throw new Error(
      `cannot load DuckDB's httpfs extension, which s3:// paths need (run 'ducktier provision'): ${firstLine(error)}`,
    );
  });
  const settings = [
    `TYPE S3`,
    `KEY_ID ${quoteLiteral(s3.accessKeyId)}`,
    `SECRET ${quoteLiteral(s3.secretAccessKey)}`,
    `REGION ${quoteLiteral(s3.region)}`,
    `USE_SSL ${s3.useSsl}`,
    ...(s3.sessionToken ? [`SESSION_TOKEN ${quoteLiteral(s3.sessionToken)}`] : []),
    // An S3-compatible server on its own address takes the bucket in the path, not the host name.
    ...(s3.endpoint ? [`ENDPOINT ${quoteLiteral(s3.endpoint)}`, `URL_STYLE 'path'`] : []),
  ];
  await connection.run(`CREATE OR REPLACE SECRET ducktier_s3 (${settings.join(', ')})`);
  // httpfs buffers each part of an upload in DuckDB's memory, sized so its largest file (800GB by default) fits S3's
  // 10,000 parts: 80MB a part, most of a move's memory limit, so a move at 128MB ran out writing one Parquet file.
  // Capping a file at 100GB makes the parts 10MB; with at most 2 in flight, an open file holds about 30MB of them.
  await connection.run(`SET GLOBAL s3_uploader_max_filesize = '${S3_LARGEST_FILE}'`);
  await connection.run(`SET GLOBAL s3_uploader_thread_limit = ${S3_UPLOADS_IN_FLIGHT}`);
}

const S3_LARGEST_FILE = '100GB';
/** Per file being written (a lake's moves side by side each have their own). */
const S3_UPLOADS_IN_FLIGHT = 2;
