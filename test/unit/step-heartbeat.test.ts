// Without a terminal (a CI log), a step that runs long says so every 30 s: one stamped line each time, with the
// step's current detail, and none once it has finished. The e2e test (wait-feedback) runs the real wait in the
// binary; this pins the interval on a fake clock, so the suite does not spend 30 s of real time on it.
import type { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createStepReporter, HEARTBEAT_MS } from '../../src/ui/steps.js';
import { Output } from '../../src/ui/output.js';

function ciLog(): { out: Output; lines: () => string[] } {
  const written: string[] = [];
  const stderr = { isTTY: false, write: (chunk: string) => (written.push(String(chunk)), true) } as unknown as Writable;
  const stdout = { isTTY: false, write: () => true } as unknown as Writable;
  const out = new Output({ stdout, stderr, json: false, events: false, quiet: false, verbose: false, debug: false, colorLevel: 0, timestamps: true, now: () => new Date() });
  return { out, lines: () => written.join('').split('\n').filter(Boolean) };
}

const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z /;

describe('a step in a CI log', () => {
  beforeEach(() => vi.useFakeTimers({ now: new Date('2026-12-07T10:00:00Z') }));
  afterEach(() => vi.useRealTimers());

  it('writes a stamped heartbeat line every 30 s with its current detail, and none after it finished', async () => {
    expect(HEARTBEAT_MS).toBe(30_000);
    const { out, lines } = ciLog();
    const step = await createStepReporter(out, false).start('Wait for consumers to use the new key');
    let left = 32;
    step.update(() => `of 32.0 s, ${left} s left; running --check until it passes`);
    vi.advanceTimersByTime(29_999);
    expect(lines()).toEqual([]);
    left = 2;
    vi.advanceTimersByTime(1);
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatch(STAMP);
    expect(lines()[0]).toMatch(/… Wait for consumers to use the new key · of 32\.0 s, 2 s left; running --check until it passes \(30\.0 s\)$/);
    vi.advanceTimersByTime(30_000);
    expect(lines()).toHaveLength(2);
    step.finish('failed', 'wait timeout');
    vi.advanceTimersByTime(120_000);
    expect(lines()).toHaveLength(3);
    expect(lines()[2]).toMatch(/✖ Wait for consumers to use the new key · wait timeout \(1m 00s\)$/);
  });
});
