import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

import { REFUSE_WRITES_PATH, type S3ServerChildMessage, type S3ServerChildStart } from './s3-server-protocol.ts';

/**
 * The S3-compatible server's process (started by s3-server.ts): s3rver's request handler behind a thin front that can
 * make a bucket refuse writes, which is how tests get "a store that cannot be written". Exits when its parent does: the
 * IPC channel closes even when the parent is killed outright.
 */
process.once('message', (start: S3ServerChildStart) => {
  try {
    serve(start);
  } catch (error) {
    send({ type: 'failed', error: (error as Error).message });
    process.exit(1);
  }
});
process.once('disconnect', () => process.exit(0));

interface S3rverApp {
  callback(): http.RequestListener;
}

function serve({ packageDir, dataDir, port }: S3ServerChildStart): void {
  const require = createRequire(path.join(packageDir, 'package.json'));
  const S3rver = require('s3rver') as new (options: Record<string, unknown>) => S3rverApp;
  const handle = new S3rver({ directory: dataDir, silent: true }).callback();
  const refused = new Set<string>();
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith(`${REFUSE_WRITES_PATH}/`)) {
      const bucket = decodeURIComponent(url.pathname.slice(REFUSE_WRITES_PATH.length + 1));
      if (request.method === 'PUT') refused.add(bucket);
      else if (request.method === 'DELETE') refused.delete(bucket);
      response.writeHead(request.method === 'PUT' || request.method === 'DELETE' ? 204 : 405).end();
      return;
    }
    const bucket = decodeURIComponent(url.pathname.split('/')[1] ?? '');
    const writes = request.method !== 'GET' && request.method !== 'HEAD';
    if (writes && refused.has(bucket)) {
      request.resume();
      response.writeHead(403, { 'content-type': 'application/xml' });
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied: bucket ${bucket} refuses writes</Message></Error>`,
      );
      return;
    }
    handle(request, response);
  });
  server.once('error', (error) => {
    send({ type: 'failed', error: error.message });
    process.exit(1);
  });
  server.listen(port, '127.0.0.1', () => send({ type: 'ready' }));
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}

function send(message: S3ServerChildMessage): void {
  process.send?.(message);
}
