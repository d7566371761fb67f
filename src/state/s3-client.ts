// A minimal S3 client: the five calls keyrot's shared state needs (GET, HEAD-less conditional PUT, DELETE, list),
// signed with AWS Signature Version 4 over undici. Written here rather than taken from the AWS SDK (megabytes, and
// seconds of start-up on a 2-core runner) or aws4fetch (global fetch only; keyrot's HTTP goes through an undici
// dispatcher): signing is about sixty lines and the calls are few.
// Signature V4: https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
import type { Dispatcher } from 'undici';
import { request } from '../providers/undici-core.js';
import { nodeCrypto } from '../random.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3Response {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface S3Target {
  /** Base URL of the bucket, ending with "/": path-style (endpoint/bucket/) or virtual-hosted (bucket.s3.region…/). */
  bucketUrl: URL;
  region: string;
  credentials: S3Credentials;
  dispatcher?: Dispatcher;
}

const sha256 = (data: string | Buffer) => nodeCrypto().createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => nodeCrypto().createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding of one path segment or query part, as SigV4 wants it. */
function encode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Sends one signed request for `key` (an object key, or '' for the bucket itself) with `query` and extra headers.
 * Network failures reject with the underlying error; every HTTP answer resolves.
 */
export async function s3Request(
  target: S3Target,
  method: 'GET' | 'PUT' | 'DELETE' | 'HEAD',
  key: string,
  options: { query?: Record<string, string>; headers?: Record<string, string>; body?: string; signal?: AbortSignal; now?: Date } = {},
): Promise<S3Response> {
  const body = Buffer.from(options.body ?? '', 'utf8');
  const path = target.bucketUrl.pathname + key.split('/').map(encode).join('/');
  const query = Object.entries(options.query ?? {})
    .map(([k, v]) => [encode(k), encode(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const amzDate = (options.now ?? new Date())
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256(body);
  const headers: Record<string, string> = {
    host: target.bucketUrl.host,
    'x-amz-date': amzDate,
    'x-amz-content-sha256': payloadHash,
  };
  if (target.credentials.sessionToken) headers['x-amz-security-token'] = target.credentials.sessionToken;
  for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
  if (method === 'PUT') headers['content-length'] = String(body.length);
  const names = Object.keys(headers).sort();
  const canonical = [method, path, query, names.map((n) => `${n}:${headers[n]!.trim()}\n`).join(''), names.join(';'), payloadHash].join('\n');
  const scope = `${day}/${target.region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${target.credentials.secretAccessKey}`, day), target.region), 's3'), 'aws4_request');
  const signature = nodeCrypto().createHmac('sha256', signingKey).update(toSign).digest('hex');
  headers['authorization'] = `AWS4-HMAC-SHA256 Credential=${target.credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  delete headers['host'];
  const url = `${target.bucketUrl.origin}${path}${query ? `?${query}` : ''}`;
  const answer = await request(url, {
    method,
    headers,
    body: method === 'PUT' ? body : undefined,
    dispatcher: target.dispatcher,
    signal: options.signal,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const text = method === 'HEAD' ? '' : await answer.body.text();
  if (method === 'HEAD') await answer.body.dump();
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  return { status: answer.statusCode, headers: flat, body: text };
}
