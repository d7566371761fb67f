// Attack: a lock object in the bucket whose leaseSeconds is not a number (another tool's, a hand edit, a future
// version): reading it must give keyrot's own answer, not an internal RangeError ("Invalid time value"), and it
// must not block the user for ever.
import { describe, expect, it } from 'vitest';
import { acquireSharedLock } from '../../src/state/s3-lock.js';
import { RotationConflictError } from '../../src/errors.js';
import { scriptedStore } from '../helpers/s3-mock.js';
import { say } from '../../src/ui/display-text.js';

describe('a lock whose lease is not a number', () => {
  it('is answered by keyrot (a conflict naming it, or taken over), never a RangeError', async () => {
    const odd = JSON.stringify({ pid: 1, host: 'elsewhere', since: '2026-01-01T00:00:00Z', token: 't', leaseSeconds: 'sixty', renewals: 0 });
    const old = { 'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT', date: 'Thu, 01 Jan 2026 05:00:00 GMT' };
    const { s } = scriptedStore([{ status: 412 }, { status: 200, body: odd, etag: '"L1"', headers: old }, { status: 200, etag: '"L2"' }, { status: 404 }, { status: 200, etag: '"L3"' }]);
    const got = await acquireSharedLock(s, 'locks/vultr-u.lock', 'rotations/vultr-u.json', 'user u', () => new RotationConflictError(say`held`)).then(
      (lock) => lock.release().then(() => 'taken'),
      (e: Error) => e,
    );
    expect(got).not.toBeInstanceOf(RangeError);
  });
});
