// Attack: the fence after a takeover is itself a conditional write; when the old holder writes its journal between
// the taker's read and the taker's rewrite, the fence is refused (412) and the refusal is ignored: the old holder
// is not fenced, and the taker goes on as if it were.
import { describe, expect, it } from 'vitest';
import { acquireSharedLock } from '../../src/state/s3-lock.js';
import { RotationConflictError } from '../../src/errors.js';
import { scriptedStore } from '../helpers/s3-mock.js';
import { say } from '../../src/ui/display-text.js';

describe('a fence that races the old holder', () => {
  it('is retried on the journal as it now is (or the takeover is refused)', async () => {
    const old = JSON.stringify({ pid: 1, host: 'paused-vm', since: '2026-01-01T00:00:00Z', token: 'old', leaseSeconds: 60, renewals: 0 });
    const lapsed = { 'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT', date: 'Thu, 01 Jan 2026 00:05:00 GMT' };
    const { s, seen } = scriptedStore([
      { status: 412 }, // create: a lock exists
      { status: 200, body: old, etag: '"L1"', headers: lapsed }, // its lease lapsed
      { status: 200, etag: '"L2"' }, // taken over
      { status: 200, body: '{"phase":"create"}', etag: '"J1"' }, // the fence reads the journal
      { status: 412 }, // the old holder wrote J2 meanwhile: the fence is refused
      { status: 200, body: '{"phase":"create","newKey":"k2"}', etag: '"J2"' }, // a retried fence reads J2
      { status: 200, etag: '"J3"' }, // and rewrites it
      { status: 200, etag: '"L3"' },
    ]);
    let outcome = 'held';
    const lock = await acquireSharedLock(s, 'locks/vultr-u.lock', 'rotations/vultr-u.json', 'user u', () => new RotationConflictError(say`held`)).catch(() => {
      outcome = 'refused';
      return null;
    });
    const journalPuts = seen().filter((q) => q.method === 'PUT' && q.path.includes('rotations/vultr-u.json')).length;
    await lock?.release();
    // Held only with the old holder fenced: a second rewrite after the refused one.
    if (outcome === 'held') expect(journalPuts).toBe(2);
  });
});
