// Found by the issue 17 attack: the user lock tells a live owner from a dead one by its pid, and guards against a
// reused pid by comparing the process's start time (from /proc: boot time + ticks) with the lock's `since` (the
// wall clock when it was taken): "started more than 1 s after the lock was taken, so not the owner". But Linux
// derives the boot time from the wall clock, so when the clock steps forward (an NTP step, `date -s`, a VM's clock
// corrected) by more than a second while a rotation holds the lock, the live owner's start time moves past the
// lock's `since`, and a second keyrot judges the live owner dead and takes the lock over. A lock written an hour
// before a 1-hour forward step reads exactly like the lock below, whose `since` is set an hour back (the clock
// itself cannot be changed in a test). The second keyrot must be refused (exit 9) while the owner runs.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, collect, harness } from '../helpers/e2e.js';

describe.skipIf(!HAS_KEYCHAIN)('the user lock after the wall clock stepped forward', () => {
  it('a second keyrot is refused (exit 9) while the rotation holding the lock still runs', async () => {
    const h = await harness();
    const first = h.spawn(['rotate', '--user', 'ops@example.com', '--on-new-key', 'cat > /dev/null; sleep 8', '--no-wait', '--yes']);
    const firstDone = collect(first, 40_000);
    const locks = join(h.stateDir, 'keyrot', 'locks');
    let lockFile: string | undefined;
    for (let i = 0; i < 400 && !lockFile; i++) {
      lockFile = (await readdir(locks).catch(() => [] as string[])).find((n) => n.endsWith('.lock'));
      if (!lockFile) await sleep(25);
    }
    expect(lockFile).toBeDefined();
    // Wait until the first run is in its hook (it holds the lock throughout).
    for (let i = 0; i < 400 && !h.sandbox.snapshot().users.some((u) => u.keys.some((k) => k.name === 'ops-deploy-v2')); i++) await sleep(25);
    const path = join(locks, lockFile!);
    const owner = JSON.parse(await readFile(path, 'utf8')) as { pid: number; since: string };
    expect(owner.pid).toBe(first.pid);
    // The clock stepped forward by an hour since the lock was taken.
    await writeFile(path, JSON.stringify({ ...owner, since: new Date(Date.parse(owner.since) - 3_600_000).toISOString() }));

    const second = await h.run(['rotate', '--user', 'ops@example.com', '--abort', '--yes']);
    const firstResult = await firstDone;
    expect(second.code, second.stderr).toBe(9);
    expect(second.stderr).toMatch(new RegExp(`${first.pid}`));
    // The first rotation was not disturbed: it finished, and its new key is the one left.
    expect(firstResult.code, firstResult.stderr).toBe(0);
    const names = h.keysOf('ops@example.com').map((k) => k.name);
    expect(names).toEqual(['ops-deploy-v2']);
  });
});
