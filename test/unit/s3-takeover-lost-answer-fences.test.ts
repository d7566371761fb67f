// Attack: a takeover of a lapsed lock whose answer is lost (applied, answered 503, its blind retry refused) is then
// recognised as "our own write" by its token and returned as held, without the journal fence that a takeover owes:
// the paused old holder's next journal write still succeeds, so it can go on creating or deleting keys.
import { describe, expect, it } from 'vitest';
import { acquireSharedLock } from '../../src/state/s3-lock.js';
import { RotationConflictError } from '../../src/errors.js';
import { scriptedStore } from '../helpers/s3-mock.js';
import { say } from '../../src/ui/display-text.js';

describe('a takeover whose answer is lost', () => {
  it('still fences the old holder (rewrites its journal)', async () => {
    const old = JSON.stringify({ pid: 1, host: 'paused-vm', since: '2026-01-01T00:00:00Z', token: 'old', leaseSeconds: 60, renewals: 0 });
    const lapsed = { 'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT', date: 'Thu, 01 Jan 2026 00:05:00 GMT' };
    let mine = '';
    const { s, seen } = scriptedStore([
      { status: 412 }, // create: a lock exists
      { status: 200, body: old, etag: '"L1"', headers: lapsed }, // read: its lease lapsed by the store's clock
      { status: 503, body: '<Error><Code>ServiceUnavailable</Code></Error>' }, // takeover applied, answer lost
      { status: 412 }, // the blind retry meets the takeover itself
      { status: 412 }, // create again: the lock exists (ours)
      {
        status: 200,
        get body() {
          return mine;
        },
        etag: '"L2"',
        headers: lapsed,
      }, // read: our token
      { status: 200, body: '{"phase":"revoke"}', etag: '"J1"' }, // the fence reads the journal
      { status: 200, etag: '"J2"' }, // and rewrites it
      { status: 200, etag: '"L3"' },
    ]);
    const taking = acquireSharedLock(s, 'locks/vultr-u.lock', 'rotations/vultr-u.json', 'user u', () => new RotationConflictError(say`held`));
    const until = Date.now() + 3000;
    while (seen().length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    mine = seen()[2]!.body;
    const lock = await taking;
    const touched = seen().filter((q) => q.path.includes('rotations/vultr-u.json'));
    await lock.release();
    expect(touched.map((q) => q.method)).toContain('PUT');
  });
});
