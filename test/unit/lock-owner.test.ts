// Whether a lock's or a pending create's owner may still run: judged by the kernel's start ticks and boot, never
// through the wall clock, so a clock step while a rotation holds its lock leaves the live owner alive.
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ownerMayBeRunning, ownerStamp } from '../../src/journal/owner.js';

const linux = process.platform === 'linux';
const host = hostname();
const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
const inAnHour = new Date(Date.now() + 3_600_000).toISOString();

describe.skipIf(!linux)('ownerMayBeRunning', () => {
  it('a stamped owner that runs is alive, whatever its wall-clock `since` says', () => {
    const stamp = ownerStamp()!;
    expect(stamp).not.toBeNull();
    expect(ownerMayBeRunning({ pid: process.pid, host, since: hourAgo, ...stamp })).toBe(true);
    expect(ownerMayBeRunning({ pid: process.pid, host, since: inAnHour, ...stamp })).toBe(true);
  });

  it('a stamped owner whose pid now names another process, or that ran in another boot, is gone', () => {
    const stamp = ownerStamp()!;
    expect(ownerMayBeRunning({ pid: process.pid, host, since: hourAgo, ...stamp, startTicks: String(Number(stamp.startTicks) + 1) })).toBe(false);
    expect(ownerMayBeRunning({ pid: process.pid, host, since: hourAgo, ...stamp, bootId: 'another-boot' })).toBe(false);
    expect(ownerMayBeRunning({ pid: process.ppid, host, since: hourAgo, ...stamp })).toBe(false);
  });

  it('an unstamped record (an older keyrot) is judged by its pid alone: alive while that pid runs', () => {
    expect(ownerMayBeRunning({ pid: process.ppid, host, since: hourAgo })).toBe(true);
    expect(ownerMayBeRunning({ pid: process.ppid, host, since: inAnHour })).toBe(true);
    expect(ownerMayBeRunning({ pid: 2 ** 22 + 1, host, since: hourAgo })).toBe(false);
    // This process stamps what it writes: an unstamped record of its own pid is an earlier process's.
    expect(ownerMayBeRunning({ pid: process.pid, host, since: hourAgo })).toBe(false);
  });

  it("another host's owner cannot be checked from here: treated as running", () => {
    expect(ownerMayBeRunning({ pid: 2 ** 22 + 1, host: `${host}-elsewhere`, since: hourAgo, ...ownerStamp()! })).toBe(true);
  });
});
