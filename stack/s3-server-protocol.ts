/** What s3-server.ts and its child process (s3-server-child.ts) say to each other over the IPC channel. */
export interface S3ServerChildStart {
  /** Where s3rver is installed (the tool cache). */
  packageDir: string;
  dataDir: string;
  port: number;
}

export type S3ServerChildMessage = { type: 'ready' } | { type: 'failed'; error: string };

/**
 * The control path that makes a bucket refuse writes (PUT) or take them again (DELETE). A bucket name cannot start
 * with `_`, so no S3 request is ever mistaken for it.
 */
export const REFUSE_WRITES_PATH = '/_ducktier/refuse-writes';
