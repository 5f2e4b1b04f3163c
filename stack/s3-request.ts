import { createHash, createHmac } from 'node:crypto';

/** Where and as whom to reach an S3-compatible server; the region only enters the signature. */
export interface S3Endpoint {
  /** `http://127.0.0.1:PORT`: path-style addressing, no TLS (a server on loopback). */
  url: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export interface S3Response {
  status: number;
  body: string;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/**
 * One S3 request signed with AWS Signature Version 4, path-style (`/bucket/key`): enough to create buckets, list and
 * read objects on the test server without an SDK. `path` must already be URI-encoded; `query` is sorted here.
 */
export async function s3Request(
  endpoint: S3Endpoint,
  method: 'GET' | 'PUT' | 'DELETE' | 'HEAD' | 'POST',
  path: string,
  options: { query?: Record<string, string>; body?: string } = {},
): Promise<S3Response> {
  const url = new URL(path, endpoint.url);
  const body = options.body ?? '';
  const query = Object.entries(options.query ?? {})
    .map(([name, value]) => [encodeRfc3986(name), encodeRfc3986(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const amzDate = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256(body);
  const headers: Record<string, string> = {
    host: url.host,
    'x-amz-content-sha256': payloadHash,
    'x-amz-date': amzDate,
  };
  const signedHeaders = Object.keys(headers).sort().join(';');
  const canonicalRequest = [
    method,
    url.pathname,
    query,
    ...Object.keys(headers)
      .sort()
      .map((name) => `${name}:${headers[name]}`),
    '',
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${day}/${endpoint.region}/s3/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  let key: Buffer = hmac(`AWS4${endpoint.secretAccessKey}`, day);
  for (const part of [endpoint.region, 's3', 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  const response = await fetch(`${url.origin}${url.pathname}${query ? `?${query}` : ''}`, {
    method,
    headers: {
      ...headers,
      authorization: `AWS4-HMAC-SHA256 Credential=${endpoint.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    },
    ...(method === 'PUT' || method === 'POST' ? { body } : {}),
  });
  return { status: response.status, body: await response.text() };
}

/** Object keys under `prefix` in `bucket` (ListObjectsV2, following continuation tokens). */
export async function listObjectKeys(endpoint: S3Endpoint, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const query: Record<string, string> = {
      'list-type': '2',
      prefix,
      ...(token ? { 'continuation-token': token } : {}),
    };
    const response = await s3Request(endpoint, 'GET', `/${encodeRfc3986(bucket)}`, { query });
    if (response.status !== 200) throw new Error(`listing s3://${bucket}/${prefix} failed: HTTP ${response.status}`);
    keys.push(...[...response.body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => decodeXml(m[1]!)));
    token = /<IsTruncated>true<\/IsTruncated>/.test(response.body)
      ? decodeXml(/<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(response.body)?.[1] ?? '')
      : undefined;
  } while (token);
  return keys;
}

/** Creates `bucket`; one that already exists and is ours is fine. */
export async function createBucket(endpoint: S3Endpoint, bucket: string): Promise<void> {
  const response = await s3Request(endpoint, 'PUT', `/${encodeRfc3986(bucket)}`);
  if (response.status === 200 || /BucketAlreadyOwnedByYou/.test(response.body)) return;
  throw new Error(`cannot create bucket ${bucket}: HTTP ${response.status} ${firstXmlMessage(response.body)}`);
}

function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decodeXml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function firstXmlMessage(body: string): string {
  return /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? body.slice(0, 200);
}
