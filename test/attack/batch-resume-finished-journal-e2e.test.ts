// Attack on e828344 (activeRotation moves a finished journal to history/) inside rotate --all --resume. A batch is
// killed after one of its rotations wrote its "done" journal and before that journal was moved aside and the batch
// record said so (the item is still pending). rotate-all.ts reads the batch's finished rotations from history/
// (finishedEarlier) BEFORE it looks the user's journal up; activeRotation now moves the finished journal to history/
// and answers "no rotation", so the batch finds neither: the old key is no longer listed, and the rotation keyrot
// itself finished is reported "gone" ("rotated or revoked outside the batch"), with no new key in the JSON.
import { chmod, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, json, onCleanup } from '../helpers/e2e.js';
import { keychainClearUser } from '../helpers/consumer.js';
import { inProcess } from '../helpers/in-process.js';

describe.skipIf(!HAS_KEYCHAIN)('Attack: rotate --all --resume after a kill between a rotation\'s "done" and its move to history', () => {
  it('Attack: the rotation the batch finished is reported done with its new key, not "gone"', async () => {
    const h = await harness({ users: 10, keysPerUser: 1 });
    onCleanup(async () => {
      for (const u of h.sandbox.snapshot().users) await keychainClearUser(u.id);
    });
    const dir = await mkdtemp(join(tmpdir(), 'keyrot-batch-'));
    onCleanup(() => rm(dir, { recursive: true, force: true }));
    const script = join(dir, 'hook.sh');
    await writeFile(script, `#!/bin/sh\nif [ -f '${dir}'/fail-"$KEYROT_USER_EMAIL" ]; then exit 3; fi\ncat >/dev/null\n`);
    await chmod(script, 0o755);
    await writeFile(join(dir, 'fail-user8@example.com'), '');
    const first = await inProcess(h, ['rotate', '--all', '--never-expiring', '--match', 'user*', '--on-new-key', `sh '${script}'`, '--no-wait', '--yes']);
    expect(first.code, first.stderr).toBe(16);

    // What a kill -9 right after user9's closing journal write leaves: its "done" journal where an unfinished one sits,
    // and the batch item not yet marked done.
    const user9 = h.sandbox.snapshot().users.find((u) => u.email === 'user9@example.com')!;
    const rotations = join(h.stateDir, 'keyrot', 'rotations');
    const history = await readdir(join(rotations, 'history'));
    let moved = false;
    for (const name of history) {
      const record = JSON.parse(await readFile(join(rotations, 'history', name), 'utf8'));
      if (record.userId !== user9.id) continue;
      expect(record.status).toBe('done');
      await rename(join(rotations, 'history', name), join(rotations, `vultr-${user9.id}.json`));
      moved = true;
    }
    expect(moved).toBe(true);
    const batchFile = join(h.stateDir, 'keyrot', 'batches', 'vultr.json');
    const batch = JSON.parse(await readFile(batchFile, 'utf8'));
    const item = batch.items.find((i: { userId: string }) => i.userId === user9.id);
    expect(item.status).toBe('done');
    Object.assign(item, { status: 'pending', error: null, newKey: null });
    await writeFile(batchFile, JSON.stringify(batch));

    await rm(join(dir, 'fail-user8@example.com'));
    const resumed = await inProcess(h, ['rotate', '--all', '--resume', '--yes', '--json']);
    const out = json(resumed);
    const row = out.rotations.find((r: { userId: string }) => r.userId === user9.id);
    // What happens: status "gone", newKey null; counts { done: 1, gone: 1 }.
    expect(row, resumed.stdout).toMatchObject({ status: 'done', newKey: { name: 'user9-deploy-v2' } });
    expect(out).toMatchObject({ outcome: 'done', counts: { keys: 2, done: 2 } });
  });
});
