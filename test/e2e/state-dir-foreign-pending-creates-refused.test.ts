// Found by the issue 17 attack: `keyrot create` settles the records of interrupted creates it finds in
// pending-creates/ and, with --yes, deletes the keys they name. That folder is read without the state folder's
// checks: only the root is checked. In a state folder the user named and shares (a 1777 folder or CI cache of
// theirs, whose mode keyrot keeps, as documented), another user can make pending-creates/ first and plant a
// record naming the user's live key. The next `create --yes` then deletes that key, which nobody asked for, and
// only afterwards refuses the folder. keyrot must refuse the folder (exit 14) before it reads or deletes anything.
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness } from '../helpers/e2e.js';

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

describe.skipIf(!HAS_KEYCHAIN || !asRoot)("a pending-creates folder of another user inside the user's own state folder", () => {
  it('create --yes refuses it (exit 14) and the live key it names is not deleted', async () => {
    const h = await harness();
    const shared = join(h.stateDir, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const userId = h.userId('ops@example.com');
    const live = h.sandbox.snapshot().users.find((u) => u.id === userId)!.keys[0]!;
    // Another local user (nobody) made pending-creates/ first, with a record naming the user's live key.
    const pending = join(shared, 'pending-creates');
    await mkdir(pending);
    const record = { provider: 'vultr', userId, name: live.name, preexistingKeyIds: [], startedAt: '2026-01-01T00:00:00Z', pid: 999_999, host: hostname() };
    await writeFile(join(pending, `vultr-${userId}-${live.name}.json`), JSON.stringify(record));
    await chown(join(pending, `vultr-${userId}-${live.name}.json`), 65534, 65534);
    await chown(pending, 65534, 65534);

    const r = await h.run(['create', '--user', 'ops@example.com', '--name', 'fresh', '--state-dir', shared, '--yes']);
    // Today: "warning: Deleted key ops-deploy (…)" and then exit 14 on the folder.
    expect(r.stderr).not.toMatch(/Deleted key/);
    const keys = h.sandbox.snapshot().users.find((u) => u.id === userId)!.keys;
    expect(keys.map((k) => k.id)).toContain(live.id);
    expect(h.sandbox.requests().filter((q) => q.method === 'DELETE')).toEqual([]);
    expect(r.code, r.stderr).toBe(14);
    expect(r.stderr).toMatch(/another user/);
  });
});
