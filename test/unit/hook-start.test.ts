// runShell's onStart journals the hook's process. A hook stopped while that write is still in flight (a SIGTERM
// right after it started) must not let runShell settle first: the caller's next journal writes (the hook's end,
// the cancel) would then race the older one, which could land last and leave the journal saying "running".
import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { runShell } from '../../src/hooks/shell.js';

const base = { baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, env: {}, timeoutMs: 30_000, redact: (line: string) => line, onLine: () => undefined };

describe('runShell: the hook journaled before it settles', () => {
  it.skipIf(process.platform === 'win32')('a hook cancelled while onStart is still writing settles only once onStart has', async () => {
    const controller = new AbortController();
    let release!: () => void;
    const journaled = new Promise<void>((resolve) => (release = resolve));
    let pid = 0;
    const order: string[] = [];
    const run = runShell({
      ...base,
      command: 'sleep 30',
      stdin: 'the-new-key',
      signal: controller.signal,
      onStart: async (proc) => {
        pid = proc.pid;
        await journaled;
        order.push('journaled');
      },
    }).then(() => order.push('settled'));
    controller.abort();
    // The hook's process group is killed at once, whatever onStart is doing.
    for (let i = 0; i < 200 && groupAlive(pid); i++) await sleep(10);
    expect(groupAlive(pid)).toBe(false);
    // Before the fix runShell settled here (its exit, then at most 200 ms for the pipes), onStart still pending.
    await sleep(600);
    expect(order).toEqual([]);
    release();
    await run;
    expect(order).toEqual(['journaled', 'settled']);
  });
});

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}
