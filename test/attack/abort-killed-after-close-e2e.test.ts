// Attack on --abort's deferred keychain drop (7735fde): --abort is killed (kill -9, an OOM kill, a CI job cancelled
// hard) right after the journal write that closes the rotation lands, before it drops the deleted key's keychain
// entry and before it moves the journal to history/. strace kills keyrot at the directory fsync that follows the
// journal's rename, so the journal on disk says "aborted" while it still sits where an unfinished rotation's does.
// keyrot then offers only --resume (--abort is refused: "cannot be rolled back"); --resume takes the aborted record
// up again (TRANSITIONS.start makes it running), reads the deleted key's plaintext from the entry left behind and
// hands it to the consumers. Before the change the entry went before the closing write, and this --resume stopped at
// "The new key … is not in the keychain any more".
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BIN, HAS_KEYCHAIN, collect, harness } from '../helpers/e2e.js';
import { HAS_STRACE, tracee } from '../helpers/strace.js';

describe.skipIf(!HAS_KEYCHAIN || !HAS_STRACE)('Attack: --abort killed right after its closing journal write', () => {
  it('Attack: the --resume keyrot then offers never hands the deleted new key to the consumers', async () => {
    const h = await harness();
    const email = 'viewer@example.com';
    const got = join(h.stateDir, '..', 'hook-got');
    const rotate = ['rotate', '--user', email, '--no-wait', '--yes'];
    const failed = await h.run([...rotate, '--on-new-key', `cat > '${got}'; exit 3`]);
    expect(failed.code).not.toBe(0);
    const deleted = (await readFile(got, 'utf8')).trim();
    expect(deleted.length).toBeGreaterThan(20);

    // The journal write is: fsync(temp), rename, fsync(directory). strace holds each fsync for 2 s; once the rename
    // has landed (the journal says aborted), keyrot is killed inside the directory fsync, before the keychain drop.
    const child = spawn(
      'strace',
      ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=fsync', '-e', 'inject=fsync:delay_exit=2000000', process.execPath, BIN, 'rotate', '--user', email, '--abort', '--yes'],
      {
        env: { ...h.env, KEYROT_CODE_CACHE: '0' },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    child.stdin.end();
    const done = collect(child, 30_000);
    const pid = await tracee(child.pid!);
    const journalStatus = async () => {
      const file = (await h.stateFiles()).find((f) => /rotations\/vultr-[^/]+\.json$/.test(f.path));
      return file ? (JSON.parse(file.text) as { status: string }).status : null;
    };
    for (let i = 0; i < 500 && (await journalStatus()) !== 'aborted'; i++) await sleep(10);
    expect(await journalStatus()).toBe('aborted');
    process.kill(pid, 'SIGKILL');
    await done;
    expect(h.keysOf(email).map((k) => k.name)).toEqual(['viewer']);
    expect(await journalStatus()).toBe('aborted');

    // What keyrot said next (before the fix): an unfinished rotation, "Continue it with --resume". The operator does,
    // hook fixed.
    const handed = join(h.stateDir, '..', 'hook-got-2');
    const resumed = await h.run([...rotate, '--resume', '--on-new-key', `cat > '${handed}'`]);
    // The finished journal is moved aside, not taken up again.
    expect(resumed.stderr).toMatch(/had been rolled back; its journal is moved to/);

    // What should happen: an aborted rotation is not taken up again, and no deleted key reaches the consumers.
    const given = await readFile(handed, 'utf8').catch(() => '');
    expect(given.trim()).not.toBe(deleted);
    expect(h.keysOf(email).map((k) => k.name)).toContain('viewer');
  }, 90_000);
});
