// attack4 D1, end to end: a SIGTERM that lands while the hand-over's first journal write (markStarted) is still in
// flight. The write is slowed with strace (each rename held 600 ms after it is done) so the signal lands there every
// time. keyrot exits 130 saying the rotation was cancelled, yet the hook it then started was never told: it got
// the new key on stdin and ran to its end. A first Ctrl-C must stop the hand-over, not let the hook run.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { BIN, HAS_KEYCHAIN, collect } from '../helpers/e2e.js';
import { HAS_STRACE, tracee } from '../helpers/strace.js';
import { readJournal, rotationSetup as setup, waitForJournal } from '../helpers/consumer.js';

const OPS = 'ops@example.com';

describe.skipIf(!HAS_KEYCHAIN || !HAS_STRACE)('Attack: SIGTERM during the hand-over journal write', () => {
  it('Attack: a SIGTERM while the hand-over is being journaled stops it before the hook is given the key', async () => {
    const s = await setup();
    const args = ['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', '--poll-interval', '200ms', '--hook-timeout', '5s', '--yes'];
    const child = spawn('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=rename', '-e', 'inject=rename:delay_exit=600000', process.execPath, BIN, ...args], {
      env: s.h.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end();
    const done = collect(child, 30_000);
    // The journal says the hand-over started: its rename has happened and is held for 600 ms.
    await waitForJournal(s.h, s.user.id, (j) => j.phase === 'hand-over' && j.phaseStatus === 'started');
    process.kill(await tracee(child.pid!), 'SIGTERM');
    const r = s.sc.output('sigterm', await done);
    expect(r.code, r.stderr).toBe(130);
    const newKey = s.keys().find((k) => k.id !== s.oldKey.id);
    // Before: the consumer's key file holds the new key (the hook ran to its end after the cancel), and the hook's
    // 'installed' line was shown: keyrot said "Cancelled" while the hook it had been told to stop did its work.
    expect((await readFile(s.keyFile, 'utf8')).trim(), r.stderr).toBe(s.oldKey.plaintext);
    expect(newKey).toBeDefined();
    expect(await readJournal(s.h, s.user.id)).toMatchObject({ phase: 'hand-over', status: 'failed', lastError: { code: 'cancelled' } });
    expect(await s.sc.leaks()).toEqual([]);
  });
});
