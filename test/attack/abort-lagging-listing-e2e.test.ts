// E2E of E1 (findings5.md) against the Vultr sandbox: a rotation stops with its new key live; the old key is deleted
// by hand; one listing does not show the new key (a lagging listing, a caching proxy). --abort must not take that for
// "gone" and delete the only key left that works: not when the new key answers Vultr's 403 on the probe (GET /account:
// a key whose user lacks that ACL; it works for what its consumers call), and not with --store none, where keyrot
// holds no plaintext to try.
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

type Harness = Awaited<ReturnType<typeof harness>>;

/** GET /account made with the admin key before the abort probes the new key (its identity, at start). */
const ADMIN_ACCOUNT_CALLS = 1;
const EMAIL = 'viewer@example.com';

/** Deletes the old key by hand, hides the user's keys from the listing, runs --abort; the faults are cleared after. */
async function abortWithLaggingListing(h: Harness, faults: () => void = () => undefined) {
  const oldKey = h.keysOf(EMAIL).find((k) => k.name === 'viewer')!;
  expect(h.keysOf(EMAIL).map((k) => k.name)).toContain('viewer-v2');
  const gone = await h.asAdmin('DELETE', `/users/${h.userId(EMAIL)}/apikeys/${oldKey.id}`);
  expect(gone.status).toBeLessThan(300);
  h.sandbox.addFault({
    method: 'GET',
    path: '/users/*/apikeys',
    action: 'status',
    status: 200,
    body: JSON.stringify({ api_keys: [], meta: { total: 0, links: { next: '', prev: '' } } }),
    times: 0,
  });
  faults();
  const aborted = await inProcess(h, ['rotate', '--user', EMAIL, '--abort', '--yes']);
  h.sandbox.clearFaults();
  // The key the consumers were handed is still live at the provider.
  expect(h.keysOf(EMAIL).map((k) => k.name)).toContain('viewer-v2');
  expect(aborted.code).not.toBe(0);
}

describe('Attack: --abort with the old key gone and one listing without the new key', () => {
  it.skipIf(!HAS_KEYCHAIN)(
    'Attack: the new key answering 403: --abort is refused and the key stays',
    async () => {
      const h = await harness();
      const failed = await inProcess(h, ['rotate', '--user', EMAIL, '--no-wait', '--yes', '--on-new-key', 'cat >/dev/null; exit 3']);
      expect(failed.code).not.toBe(0);
      await abortWithLaggingListing(h, () => {
        // The admin key's own look at the account (keyrot's start) passes; every later probe of a key answers 403.
        h.sandbox.addFault({ method: 'GET', path: '/account', action: 'delay', delayMs: 1, times: ADMIN_ACCOUNT_CALLS });
        h.sandbox.addFault({ method: 'GET', path: '/account', action: 'status', status: 403, times: 0 });
      });
    },
    60_000,
  );

  it('Attack: --store none, the new key handed over: --abort is refused, the consumers keep their key', async () => {
    const h = await harness();
    const rotated = await inProcess(h, ['rotate', '--user', EMAIL, '--store', 'none', '--no-wait', '--keep-old', '--yes', '--on-new-key', 'cat >/dev/null']);
    expect(rotated.code, rotated.stderr).toBe(0);
    await abortWithLaggingListing(h);
  }, 60_000);
});
