// E2E of E2 (findings5.md): a fresh rotation whose first journal write fails once (strace makes the first rename
// fail with ENOSPC; the next write goes through, as when space is freed or an S3 store is back). No create is sent,
// but the journal left says one was ("create started, 1 sent"). A person then makes a key of the new name; the
// --resume keyrot told the user to run deletes that person's key as an orphan of its own lost create.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, HAS_KEYCHAIN, collect, harness } from '../helpers/e2e.js';
import { HAS_STRACE } from '../helpers/strace.js';

describe.skipIf(!HAS_KEYCHAIN || !HAS_STRACE)('Attack: the first journal write of a rotation fails once', () => {
  it("Attack: no create was sent, and the --resume that keyrot asks for deletes no one else's key of the new name", async () => {
    const h = await harness();
    const email = 'viewer@example.com';
    const args = ['rotate', '--user', email, '--no-wait', '--yes', '--on-new-key', 'cat >/dev/null'];
    // The code cache's own rename would come last; it is off so that the first rename is the journal's first write.
    const child = spawn('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=rename', '-e', 'inject=rename:error=ENOSPC:when=1', process.execPath, BIN, ...args], {
      env: { ...h.env, KEYROT_CODE_CACHE: '0' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end();
    const first = await collect(child, 30_000);
    expect(first.code, first.stderr).toBe(14);
    // The create was never sent.
    expect(h.keysOf(email).map((k) => k.name)).not.toContain('viewer-v2');

    // A person makes a key of that name meanwhile (keyrot does not hold it).
    await h.makeKey(h.userId(email), 'viewer-v2');
    const theirs = h.keysOf(email).find((k) => k.name === 'viewer-v2')!;
    expect(theirs).toBeDefined();

    await h.run([...args, '--resume']);

    expect(h.keysOf(email).map((k) => k.id)).toContain(theirs.id);
  }, 60_000);
});
