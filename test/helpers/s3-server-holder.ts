import { startS3Server } from '../../stack/s3-server.ts';

/**
 * A process that starts the S3 test server and then only waits, so a test can kill it outright and check that the
 * server goes with it. Prints the server's URL once it serves.
 */
const server = await startS3Server({ dataDir: process.argv[2]!, log: () => {} });
process.stdout.write(`${server.endpoint.url}\n`);
setInterval(() => {}, 60_000);
