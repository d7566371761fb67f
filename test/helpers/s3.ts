// A real S3 server for the shared-state tests: Ceph RGW started by scripts/ceph-rgw.mjs (one per test file), a
// fresh bucket per test, and reads of the bucket as the tests' eyes. Without Debian's Ceph packages the tests are
// skipped and say so; under CI they fail instead.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
// @ts-expect-error: a plain ESM script without types.
import { cephMissing, startCeph } from '../../scripts/ceph-rgw.mjs';
import { LocalStore } from '../../src/state/local.js';
import { s3Request } from '../../src/state/s3-client.js';
import { S3Store } from '../../src/state/s3-store.js';

const missing: string[] = cephMissing();
if (missing.length && process.env.CI && process.env.CI !== 'false') {
  throw new Error(`CI must run the S3 tests against Ceph: ${missing.join(', ')} not found (see .ci/run).`);
}
/** True where the Ceph programs are installed. */
export const HAS_CEPH = missing.length === 0;
if (!HAS_CEPH) console.warn(`note: ${missing.join(', ')} not found: the S3 shared-state tests are SKIPPED (apt-get install ceph-mon ceph-osd radosgw ceph-common).`);

interface Ceph {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): void;
}

let ceph: Ceph | undefined;

/** Starts Ceph before the file's tests and stops it after them. */
export function useCeph(): void {
  beforeAll(async () => {
    if (HAS_CEPH) ceph = (await startCeph()) as Ceph;
  }, 120_000);
  afterAll(() => ceph?.stop());
}

/** The variables a runner needs to reach the server (no region: keyrot's default applies). */
export function s3Env(): Record<string, string> {
  if (!ceph) throw new Error('Ceph is not running');
  return { AWS_ENDPOINT_URL_S3: ceph.endpoint, AWS_ACCESS_KEY_ID: ceph.accessKeyId, AWS_SECRET_ACCESS_KEY: ceph.secretAccessKey };
}

/** A new, empty bucket; returns its s3:// state root (with a prefix) and a reader for it. */
export async function freshBucket(): Promise<{ root: string; bucket: string; read(key: string): Promise<any>; keys(): Promise<string[]> }> {
  const bucket = `keyrot-${randomBytes(6).toString('hex')}`;
  const root = `s3://${bucket}/team`;
  const store = () => new S3Store(root, s3Env(), new LocalStore('/nonexistent'));
  const made = await s3Request(store().target, 'PUT', '', {});
  if (made.status !== 200) throw new Error(`could not create bucket ${bucket}: ${made.status} ${made.body}`);
  return {
    root,
    bucket,
    async read(key) {
      const found = await store().read(key);
      return found ? JSON.parse(found.text) : null;
    },
    async keys() {
      const s = store();
      const answer = await s3Request(s.target, 'GET', '', { query: { 'list-type': '2' } });
      return [...answer.body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]!);
    },
  };
}
