// E2E of F1 (findings6.md) against the Vultr sandbox: a rotation stops at its failing hook (new key live and in the
// keychain); --abort deletes the new key, but its closing journal write fails (strace makes the first rename fail with
// ENOSPC: a full disk). Since 7735fde --abort drops the keychain entry only after that write, so the entry of the
// deleted key stays, beside a journal that still says "stopped at the hand-over: --resume or --abort". The --resume
// keyrot and `keyrot status` offer then hands the DELETED key to the consumers through the (fixed) hook.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, HAS_KEYCHAIN, collect, harness } from '../helpers/e2e.js';
import { HAS_STRACE } from '../helpers/strace.js';

describe.skipIf(!HAS_KEYCHAIN || !HAS_STRACE)('Attack: --abort whose closing journal write fails, then --resume (e2e)', () => {
  it('Attack: the --resume after it never hands the deleted new key to the consumers', async () => {
    const h = await harness();
    const email = 'viewer@example.com';
    const got = join(h.stateDir, '..', 'hook-got');
    const rotate = ['rotate', '--user', email, '--no-wait', '--yes'];
    const failed = await h.run([...rotate, '--on-new-key', `cat > '${got}'; exit 3`]);
    expect(failed.code).not.toBe(0);
    const deleted = (await readFile(got, 'utf8')).trim();
    expect(deleted.length).toBeGreaterThan(20);
    expect(h.keysOf(email).map((k) => k.name)).toContain('viewer-v2');

    // --abort, its journal write refused once (the code cache's own rename is off: the first rename is the journal's).
    const child = spawn(
      'strace',
      ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=rename', '-e', 'inject=rename:error=ENOSPC:when=1', process.execPath, BIN, 'rotate', '--user', email, '--abort', '--yes'],
      {
        env: { ...h.env, KEYROT_CODE_CACHE: '0' },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    child.stdin.end();
    const aborted = await collect(child, 30_000);
    expect(aborted.code, aborted.stderr).toBe(14);
    // The new key is deleted at the provider; the old key stays.
    expect(h.keysOf(email).map((k) => k.name)).toEqual(['viewer']);

    // `keyrot status` still shows the rotation stopped at the hand-over; the user resumes it with the hook fixed.
    const status = await h.run(['status']);
    expect(status.stdout + status.stderr).toMatch(/hand-over|--resume/i);
    const handed = join(h.stateDir, '..', 'hook-got-2');
    await h.run([...rotate, '--resume', '--on-new-key', `cat > '${handed}'`]);

    // What should happen: the resume stops ("not in the keychain any more": roll back with --abort) and no hook runs.
    // On perf: the hook is given the deleted key, which the consumers then switch to.
    const given = await readFile(handed, 'utf8').catch(() => '');
    expect(given.trim()).not.toBe(deleted);
    expect(h.keysOf(email).map((k) => k.name)).toContain('viewer');
  }, 90_000);
});
