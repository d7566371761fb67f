// An S3 store whose answers are scripted, in order, after a passing conditions probe (attack tests).
import { MockAgent } from 'undici';
import { LocalStore } from '../../src/state/local.js';
import { S3Store } from '../../src/state/s3-store.js';

export const mockEnv = { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' };

export function scriptedStore(replies: Array<{ status: number; body?: string; etag?: string; headers?: Record<string, string> }>) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const seen: Array<{ method: string; path: string; headers: Record<string, string>; body: string }> = [];
  const pool = agent.get('http://127.0.0.1:9');
  const all = [{ status: 200, etag: '"p"' }, { status: 412 }, { status: 412 }, { status: 204 }, ...replies];
  for (const r of all) {
    pool.intercept({ path: () => true, method: () => true }).reply((opts) => {
      seen.push({ method: opts.method, path: opts.path, headers: opts.headers as Record<string, string>, body: opts.body ? String(opts.body) : '' });
      return { statusCode: r.status, data: r.body ?? '', responseOptions: { headers: { ...(r.etag ? { etag: r.etag } : {}), ...(r.headers ?? {}) } } };
    });
  }
  return { s: new S3Store('s3://bucket/p', mockEnv, new LocalStore('/nonexistent'), agent), seen: () => seen.slice(4) };
}
