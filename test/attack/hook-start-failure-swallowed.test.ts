// attack4 D2: runShell's contract (HookRun.onStart): "A throw stops the hook unfed", and the caller learns of it.
// A hook that exits at once (one that does not read stdin: it restarts a service that reads the keychain) while
// onStart's journal write is still in flight: when that write then fails, runShell resolves with the hook's exit 0
// and the failure is dropped (`if (settled) return`). The hand-over counts as done though its hook was never
// journaled, and the journal error is never seen.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runShell } from '../../src/hooks/shell.js';

const base = { baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, env: {}, redact: (line: string) => line, onLine: () => undefined };

describe('Attack: a failed hook journal write after the hook exited', () => {
  it.skipIf(process.platform === 'win32')('Attack: a hook that exits at once while its journal write fails is not a success', async () => {
    const run = runShell({
      ...base,
      command: 'exit 0',
      stdin: 'the-new-key',
      timeoutMs: 10_000,
      signal: new AbortController().signal,
      onStart: async () => {
        await sleep(400);
        throw new Error('keyrot cannot write its state: the disk is full.');
      },
    });
    // Before: resolves { exitCode: 0 } and the disk-full error is lost.
    await expect(run).rejects.toThrow(/disk is full/);
  });
});
