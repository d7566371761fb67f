// Attack on e828344 (activeRotation moves a finished journal to history/): `rotate --dry-run` calls activeRotation
// too, and takes no user lock (rotate.ts: "--dry-run changes nothing: no lock"). A dry run therefore moves state files,
// and, run beside a rotation that has just written its "done" journal and not yet moved it aside, takes that journal
// away from under the running keyrot, whose own move then fails: a rotation that succeeded ends with an error.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { access, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { collect, HAS_KEYCHAIN } from '../helpers/e2e.js';
import { journalPath, rotationSetup } from '../helpers/consumer.js';
import { editedRotation } from '../helpers/edited-journal.js';

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe.skipIf(!HAS_KEYCHAIN)('Attack: rotate --dry-run and a finished journal', () => {
  it('Attack: a --dry-run leaves a finished journal where it is (a dry run changes nothing)', async () => {
    const s = await editedRotation((r) => {
      r.status = 'aborted';
    });
    const file = journalPath(s.h, s.user.id);
    const before = await readFile(file, 'utf8');

    // (Its plan is refused or not, beside the point: the new key of the rolled-back run is still listed here.)
    const dry = await s.run('dry', ['rotate', '--user', s.user.email, '--dry-run']);

    // What happens: "its journal is moved to …/history/…" from a command that promises to change nothing.
    expect(dry.stderr).not.toMatch(/journal is moved to/);
    expect(await exists(file)).toBe(true);
    expect(await readFile(file, 'utf8').catch(() => '')).toBe(before);
  });

  it('Attack: a --dry-run beside a rotation that just finished does not make that rotation fail', async () => {
    const s = await rotationSetup();
    // The running rotation appends its summary to $GITHUB_STEP_SUMMARY after its "done" journal write and before it
    // moves the journal aside; a FIFO holds it exactly there until this test reads it (no timing).
    const fifo = join(s.dir, 'summary.fifo');
    execFileSync('mkfifo', [fifo]);
    const child = s.h.spawn(['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes'], { env: { GITHUB_STEP_SUMMARY: fifo } });
    const running = collect(child, 120_000);
    const file = journalPath(s.h, s.user.id);
    for (;;) {
      const status = await readFile(file, 'utf8').then(
        (t) => JSON.parse(t).status as string,
        () => null,
      );
      if (status === 'done') break;
      if (child.exitCode !== null) throw new Error(`rotation ended early: ${(await running).stderr}`);
      await sleep(50);
    }

    // The dry run sees the other process's lock and says "the real run would stop here … nothing was changed" (exit
    // 9), after it has moved that process's journal.
    await s.run('dry', ['rotate', '--user', s.user.email, '--no-wait', '--dry-run']);

    // Let the rotation go on: read its summary.
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'ignore', 'ignore'] });
    const done = await running;
    reader.kill();

    // The key was rotated (new key live, old one revoked): the run that did it must say so, exit 0.
    expect(s.keys().map((k) => k.id)).not.toContain(s.oldKey.id);
    expect(done.stderr).not.toMatch(/ENOENT|no such file/i);
    expect(done.code, done.stderr).toBe(0);
    const history = await readdir(join(s.h.stateDir, 'keyrot', 'rotations', 'history')).catch(() => []);
    expect(history).toHaveLength(1);
  });
});
