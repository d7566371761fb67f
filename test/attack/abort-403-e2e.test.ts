// E2E of E1 (findings5.md) against the Vultr sandbox and the real (test) keychain: the rotation stops at a failed
// hook with the new key live and in the keychain; the old key is deleted by hand; one listing does not show the new
// key; and the new key gets Vultr's 403 on the probe (GET /account: a key whose user lacks that ACL; it works for
// what its consumers call). --abort counts the 403 as "rejected" and deletes the only key left that works.
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

/** GET /account made with the admin key before the abort probes the new key (its identity, at start). */
const ADMIN_ACCOUNT_CALLS = 1;

describe.skipIf(!HAS_KEYCHAIN)('Attack: --abort deletes a new key that answers 403', () => {
  it('Attack: the old key gone, the new key not listed once and answering 403: --abort is refused and the key stays', async () => {
    const h = await harness();
    const email = 'viewer@example.com';
    const failed = await inProcess(h, ['rotate', '--user', email, '--no-wait', '--yes', '--on-new-key', 'cat >/dev/null; exit 3']);
    expect(failed.code).not.toBe(0);
    const oldKey = h.keysOf(email).find((k) => k.name === 'viewer')!;
    expect(h.keysOf(email).map((k) => k.name)).toContain('viewer-v2');

    const gone = await h.asAdmin('DELETE', `/users/${h.userId(email)}/apikeys/${oldKey.id}`);
    expect(gone.status).toBeLessThan(300);
    h.sandbox.addFault({
      method: 'GET',
      path: '/users/*/apikeys',
      action: 'status',
      status: 200,
      body: JSON.stringify({ api_keys: [], meta: { total: 0, links: { next: '', prev: '' } } }),
      times: 0,
    });
    // The admin key's own look at the account (keyrot's start) passes; every later probe of a key answers 403.
    h.sandbox.addFault({ method: 'GET', path: '/account', action: 'delay', delayMs: 1, times: ADMIN_ACCOUNT_CALLS });
    h.sandbox.addFault({ method: 'GET', path: '/account', action: 'status', status: 403, times: 0 });

    const aborted = await inProcess(h, ['rotate', '--user', email, '--abort', '--yes']);
    h.sandbox.clearFaults();

    expect(h.keysOf(email).map((k) => k.name)).toContain('viewer-v2');
    expect(aborted.code).not.toBe(0);
  }, 60_000);
});
