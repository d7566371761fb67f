// The S3 side of dry-run-moves-finished-journal-e2e.test.ts (attack on e828344): runner 2's `rotate --dry-run` (no
// lock) moves runner 1's "done" journal to history/ in the shared bucket between runner 1's closing write and its own
// move. Runner 1's move then finds the journal gone and stops with the fencing error "changed by another keyrot runner
// (this run's lock lapsed and was taken over): this run stops here, before changing any key", after it rotated the key.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { collect, HAS_KEYCHAIN } from '../helpers/e2e.js';
import { rotationSetup } from '../helpers/consumer.js';
import { freshBucket, HAS_CEPH, s3Env, useCeph } from '../helpers/s3.js';

useCeph();

describe.skipIf(!HAS_KEYCHAIN || !HAS_CEPH)('Attack: a --dry-run on another runner beside a rotation that just finished (Ceph RGW)', () => {
  it('Attack: the rotation that finished ends with exit 0, not a fencing error', async () => {
    const s = await rotationSetup();
    const b = await freshBucket();
    const runner = (name: string) => ({ XDG_STATE_HOME: join(s.dir, name), KEYROT_STATE_DIR: b.root, ...s3Env() });
    // Runner 1 is held by a FIFO as $GITHUB_STEP_SUMMARY right after its "done" write, before it moves the journal.
    const fifo = join(s.dir, 'summary.fifo');
    execFileSync('mkfifo', [fifo]);
    const child = s.h.spawn(['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes'], { env: { ...runner('r1'), GITHUB_STEP_SUMMARY: fifo } });
    const running = collect(child, 120_000);
    for (;;) {
      const status = await b.read(`rotations/vultr-${s.user.id}.json`).then(
        (r) => r?.status as string | undefined,
        () => undefined,
      );
      if (status === 'done') break;
      if (child.exitCode !== null) throw new Error(`rotation ended early: ${(await running).stderr}`);
      await sleep(100);
    }

    await s.run('dry', ['rotate', '--user', s.user.email, '--no-wait', '--dry-run'], { env: runner('r2') });

    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'ignore', 'ignore'] });
    const done = await running;
    reader.kill();

    expect(s.keys().map((k) => k.id)).not.toContain(s.oldKey.id);
    expect(done.stderr).not.toMatch(/changed by another keyrot runner/);
    expect(done.code, done.stderr).toBe(0);
  });
});
