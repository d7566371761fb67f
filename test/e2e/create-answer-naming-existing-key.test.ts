// Found by the issue 17 attack: a hostile or broken provider (or a proxy/cache in front of it) answers the create
// with a record that names a key the user already has: the old key's own id, and a plaintext that is not a working
// key. keyrot trusts the id: it moves the old key's plaintext to a ":displaced-…" entry and stores the bogus one
// under the old key's entry, then stops (exit 7) saying "The new key ops-deploy-v2 is live and in the keychain …
// --resume … or --abort" (both then refuse: the journal keyrot itself wrote is "damaged", its new key being its old
// key). From then on `keyrot get` / `keyrot exec` say keyrot holds no key of the user (exit 5), though the old key
// works. Whatever keyrot decides about such an answer (refuse it as naming an existing key), the old key must stay
// live and its entry keep its plaintext.
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, keychainGet } from '../helpers/e2e.js';
import { accountOf, authStatus, rotationSetup as setup } from '../helpers/consumer.js';

const OPS = 'ops@example.com';

describe.skipIf(!HAS_KEYCHAIN)('a create answered with the id of a key the user already has', () => {
  it('rotate: the old key stays live, and its plaintext stays in the keychain', async () => {
    const s = await setup();
    // The old key, held by keyrot (as after an earlier rotation): the keychain entry consumers would be given back.
    const made = s.oldKey;
    const oldPlain = made.plaintext;
    expect(await keychainGet(accountOf(s.user.id, made.id))).toBe(oldPlain);
    const body = JSON.stringify({
      api_key: { id: made.id, name: 'ops-deploy-v2', api_key: 'ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ', date_created: new Date().toISOString(), expire: false, date_expire: null },
    });
    s.h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'status', status: 202, body });
    const r = await s.run('rotate', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(r.code, r.stderr).not.toBe(0);
    expect(s.keys().some((k) => k.id === made.id)).toBe(true);
    expect(await authStatus(s.h, oldPlain)).toBe(200);
    // Today the bogus plaintext took the old key's entry (the real one moved to a ":displaced-…" entry).
    expect(await keychainGet(accountOf(s.user.id, made.id))).toBe(oldPlain);
    const got = await s.h.run(['get', '--user', OPS, '--reveal']);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout.trim()).toBe(oldPlain);
  });
});
