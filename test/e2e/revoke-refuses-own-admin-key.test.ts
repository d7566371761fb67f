// Found by the issue 17 attack: `rotate` and `rotate --all` know the admin key's own user (the key keyrot runs
// with rotates only with --self). `revoke` does not. `keyrot revoke --key <the admin key itself> --yes` deletes the
// key keyrot is running with (the account's only admin key here: a lock-out), and then its confirming listing is
// refused, so it reports "Vultr rejected the API key … it may be mistyped", exit 3: a success the user caused is
// reported as a bad admin key, with advice that is false. Whatever keyrot decides (refuse it before any change, or
// do it and say so), its report must be true: the key gone and exit 0, or the key intact and a refusal.
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness } from '../helpers/e2e.js';

describe.skipIf(!HAS_KEYCHAIN)('revoke of the admin key keyrot runs with', () => {
  it('reports what happened: revoked (exit 0) if the key is gone, never "rejected … mistyped"', async () => {
    const h = await harness();
    const owner = h.sandbox.snapshot().users.find((u) => u.keys.some((k) => k.plaintext === h.sandbox.adminKey))!;
    const adminKey = owner.keys.find((k) => k.plaintext === h.sandbox.adminKey)!;
    const r = await h.run(['revoke', '--user', owner.email, '--key', adminKey.id, '--yes']);
    const gone = !h.sandbox
      .snapshot()
      .users.find((u) => u.id === owner.id)!
      .keys.some((k) => k.id === adminKey.id);
    expect(r.stderr).not.toMatch(/mistyped/);
    if (gone) {
      // Today: exit 3, "Vultr rejected the API key: Invalid API token. (Check the admin key in VULTR_API_KEY: it may be mistyped…)".
      expect(r.code, r.stderr).toBe(0);
    } else {
      expect(r.code, r.stderr).not.toBe(0);
      expect(r.code, r.stderr).not.toBe(3);
    }
  });
});
