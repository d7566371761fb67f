// Found by the issue 17 attack: the new key's lifetime has one rule, whose second step is "the old key's lifetime,
// where keyrot recorded its creation" (its key index). That index is read from `keys.json` in the state folder's
// root, which, in a state folder the user named and shares (a 1777 folder or CI cache of theirs, whose mode keyrot
// keeps, as documented), any other local user can create at any time. A planted record "created 1927" for the old
// key gives the new key a lifetime of a century: an expiring key comes back expiring in 2127, out of reach of every
// `--expiring-within` policy. keyrot must not take another user's file as its record: refuse the folder (exit 14),
// or ignore the file, so the new key's expiry stays within the old key's own lifetime (here one year).
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness } from '../helpers/e2e.js';

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const DAY = 86_400_000;

describe.skipIf(!HAS_KEYCHAIN || !asRoot)("a keys.json of another user in the user's own shared state folder", () => {
  it("does not set the new key's lifetime: the new key expires within the old key's year, or nothing changes", async () => {
    const h = await harness();
    const shared = join(h.stateDir, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const ci = h.sandbox.snapshot().users.find((u) => u.email === 'ci@example.com')!;
    const old = ci.keys.find((k) => k.name === 'ci-backup')!;
    expect(old.date_expire).not.toBeNull();
    const planted = [{ provider: 'vultr', userId: ci.id, keyId: old.id, name: old.name, createdAt: '1927-01-01T00:00:00Z', expiresAt: null, lastChars: null }];
    await writeFile(join(shared, 'keys.json'), JSON.stringify(planted));
    await chown(join(shared, 'keys.json'), 65534, 65534);

    const r = await h.run(['rotate', '--user', 'ci@example.com', '--key', 'ci-backup', '--state-dir', shared, '--store', 'none', '--on-new-key', 'cat > /dev/null', '--no-wait', '--yes']);
    const fresh = h.sandbox
      .snapshot()
      .users.find((u) => u.id === ci.id)!
      .keys.find((k) => k.name === 'ci-backup-v2');
    if (r.code === 14) {
      expect(fresh).toBeUndefined();
      return;
    }
    expect(r.code, r.stderr).toBe(0);
    // Today the new key expires in 2127 (a century: "the old key's lifetime, keyrot recorded its creation").
    expect(r.stdout + r.stderr).not.toMatch(/keyrot recorded its creation/);
    expect(fresh?.date_expire).toBeTruthy();
    expect(Date.parse(fresh!.date_expire!)).toBeLessThanOrEqual(Date.now() + 400 * DAY);
  });
});
