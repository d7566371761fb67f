// Attack: a conditional write the store applied but answered 503 (a proxy timeout, SlowDown after the fact) is
// retried blindly with the same If-Match; the retry gets 412 against this run's own write, and the run stops as if
// another runner had taken its lock over.
import { afterEach, describe, expect, it } from 'vitest';
import { acquireSharedLock } from '../../src/state/s3-lock.js';
import { RotationConflictError } from '../../src/errors.js';
import { scriptedStore } from '../helpers/s3-mock.js';
import { say } from '../../src/ui/display-text.js';

const journal = '{"phase":"created"}\n';

describe('a 503 answer to a conditional write that was applied', () => {
  it('a fenced journal write is settled by reading back, not reported as another runner', async () => {
    const { s } = scriptedStore([
      { status: 200, body: '{"phase":"creating"}\n', etag: '"v1"' }, // this run reads its journal
      { status: 503, body: '<Error><Code>SlowDown</Code></Error>' }, // applied, answer says 503
      { status: 412 }, // the blind retry meets this run's own write
      { status: 200, body: journal, etag: '"v2"' }, // reading back shows this run's text
      { status: 200, body: journal, etag: '"v2"' },
    ]);
    await s.read('rotations/vultr-u.json');
    await expect(s.write('rotations/vultr-u.json', journal, { fenced: true })).resolves.toBeUndefined();
  });
});

describe('a 503 answer to a lock renewal that was applied', () => {
  const before = process.env.KEYROT_LEASE_SECONDS;
  afterEach(() => {
    if (before === undefined) delete process.env.KEYROT_LEASE_SECONDS;
    else process.env.KEYROT_LEASE_SECONDS = before;
  });

  it('does not make the holder give up its lock silently (it still releases it at the end)', async () => {
    process.env.KEYROT_LEASE_SECONDS = '3'; // renewed every second
    let renewed = '';
    const { s, seen } = scriptedStore([
      { status: 200, etag: '"l1"' }, // the lock is created
      { status: 503, body: '<Error><Code>SlowDown</Code></Error>' }, // first renewal applied, answered 503
      { status: 412 }, // its blind retry meets the renewal itself
      {
        status: 200,
        get body() {
          return renewed;
        },
        etag: '"l2"',
      }, // a read back shows the renewal
      { status: 200, etag: '"l3"' },
      { status: 200, etag: '"l4"' },
      { status: 200, etag: '"l5"' },
    ]);
    const lock = await acquireSharedLock(s, 'locks/vultr-u.lock', 'rotations/vultr-u.json', 'user u', () => new RotationConflictError(say`held`));
    const created = JSON.parse(seen()[0]!.body);
    renewed = JSON.stringify({ ...created, renewals: 1 });
    await new Promise((r) => setTimeout(r, 1600));
    await lock.release();
    const puts = seen().filter((q) => q.method === 'PUT');
    // Current code: the 412 marks the lock "lost"; no renewal follows, and release() leaves the lock held, so
    // every other runner is blocked for a full lease after a successful rotation (and a long --wait loses the lock).
    expect(puts.at(-1)?.body).toBe('');
  }, 10_000);
});
