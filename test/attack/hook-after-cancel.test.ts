// attack4 D1: a cancel (Ctrl-C, SIGTERM) that lands after the hand-over step began but before runShell added its
// abort listener (during markStarted's journal write, a --to delivery, the journal write after it) is never seen by
// runShell: an AbortSignal fires 'abort' once, and a listener added afterwards is never called. The hook is spawned,
// is not killed, and is given the new key on stdin, then runs to its end (or its time-out) although keyrot was
// told to stop.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runShell } from '../../src/hooks/shell.js';

const base = { baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, env: {}, redact: (line: string) => line, onLine: () => undefined };

describe('Attack: a hook started after the cancel', () => {
  it.skipIf(process.platform === 'win32')('Attack: a hook whose run is already cancelled is stopped at once and never given the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'attack-d1-'));
    const got = join(dir, 'got');
    const controller = new AbortController();
    // The SIGTERM landed while the hand-over's journal write was in flight: the signal is aborted before the hook.
    controller.abort();
    const t0 = Date.now();
    const outcome = await runShell({
      ...base,
      command: `cat > '${got}'; sleep 3`,
      stdin: 'the-new-key-plaintext',
      timeoutMs: 30_000,
      signal: controller.signal,
      onStart: async () => undefined,
    });
    const held = existsSync(got) ? readFileSync(got, 'utf8') : '';
    // Before: the hook read the whole key and ran its 3 s to the end (exit 0); keyrot waited for it.
    expect(held).toBe('');
    expect(outcome.exitCode).not.toBe(0);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});
