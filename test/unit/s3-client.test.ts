// The S3 client's Signature Version 4, checked against the worked example AWS publishes ("Example: GET Object",
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html), and the S3 store's handling of
// answers that decide a lock: 412, 409 ConditionalRequestConflict (retried), 404 NoSuchKey on If-Match.
import { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { LocalStore } from '../../src/state/local.js';
import { s3Request } from '../../src/state/s3-client.js';
import { S3Store } from '../../src/state/s3-store.js';

describe('SigV4', () => {
  it("signs AWS's GET Object example to the signature AWS gives", async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    let authorization = '';
    agent
      .get('https://examplebucket.s3.amazonaws.com')
      .intercept({ path: '/test.txt', method: 'GET' })
      .reply((opts) => {
        authorization = String((opts.headers as Record<string, string>)['authorization']);
        return { statusCode: 200, data: 'ok' };
      });
    await s3Request(
      {
        bucketUrl: new URL('https://examplebucket.s3.amazonaws.com/'),
        region: 'us-east-1',
        credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
        dispatcher: agent,
      },
      'GET',
      'test.txt',
      { headers: { range: 'bytes=0-9' }, now: new Date('2013-05-24T00:00:00Z') },
    );
    expect(authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });
});

describe('S3Store', () => {
  const env = { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' };

  function store(replies: Array<{ status: number; body?: string; etag?: string; lost?: boolean }>) {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const seen: Array<{ method: string; headers: Record<string, string> }> = [];
    const pool = agent.get('http://127.0.0.1:9');
    // The probe: created, second create refused, stale If-Match refused, probe removed.
    const all = [{ status: 200, etag: '"p"' }, { status: 412 }, { status: 412 }, { status: 204 }, ...replies];
    for (const r of all) {
      const interceptor = pool.intercept({ path: () => true, method: () => true });
      if ('lost' in r && r.lost) {
        interceptor.replyWithError(new Error('socket hang up'));
        continue;
      }
      interceptor.reply((opts) => {
        seen.push({ method: opts.method, headers: opts.headers as Record<string, string> });
        return { statusCode: r.status, data: r.body ?? '', responseOptions: { headers: r.etag ? { etag: r.etag } : {} } };
      });
    }
    return { s: new S3Store('s3://bucket/p', env, new LocalStore('/nonexistent'), agent), seen };
  }

  it('retries 409 ConditionalRequestConflict, then reports the 412 as "not written"', async () => {
    const { s, seen } = store([{ status: 409, body: '<Error><Code>ConditionalRequestConflict</Code></Error>' }, { status: 412 }]);
    expect(await s.putIf('locks/x.lock', '{}', null)).toEqual({ written: false, version: '' });
    expect(seen.slice(4).map((q) => q.headers['if-none-match'])).toEqual(['*', '*']);
  });

  it('sends If-Match without quotes (Ceph RGW compares it so) and takes 404 NoSuchKey as "not written"', async () => {
    const { s, seen } = store([{ status: 404, body: '<Error><Code>NoSuchKey</Code></Error>' }]);
    expect(await s.putIf('locks/x.lock', '{}', 'abc123')).toEqual({ written: false, version: '' });
    expect(seen[4]?.headers['if-match']).toBe('abc123');
  });

  it('a fenced write over a version another runner replaced is refused (exit 9), naming the record', async () => {
    const { s } = store([{ status: 200, body: '{"a":1}', etag: '"v1"' }, { status: 412 }]);
    await s.read('rotations/x.json');
    const err = await s.write('rotations/x.json', '{"a":2}', { fenced: true }).catch((e: unknown) => e);
    expect((err as { exitCode: number }).exitCode).toBe(9);
    expect((err as Error).message).toContain('s3://bucket/p/rotations/x.json was changed by another keyrot runner');
  });

  it('a lost answer to a conditional write is settled by reading the object back', async () => {
    const { s, seen } = store([
      { status: 0, lost: true },
      { status: 200, body: '{"mine":1}', etag: '"v9"' },
    ]);
    expect(await s.putIf('locks/x.lock', '{"mine":1}', null)).toEqual({ written: true, version: 'v9' });
    expect(seen.slice(4).map((q) => q.method)).toEqual(['GET']);
  });

  it('refuses plain http:// to a host that is not loopback', () => {
    expect(() => new S3Store('s3://bucket', { ...env, AWS_ENDPOINT_URL_S3: 'http://s3.example.com' }, new LocalStore('/x'))).toThrow(/plain http:\/\/ is refused/);
  });
});
