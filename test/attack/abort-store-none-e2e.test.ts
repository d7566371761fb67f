// E2E of E1's second case (findings5.md): --store none, the new key handed over and the rotation paused (--keep-old),
// the old key deleted by hand, and one listing that does not show the new key (a lagging listing, a caching proxy):
// --abort takes "not listed" alone for "gone" (newKeyGone: keyrot holds no plaintext to test) and deletes the key the
// consumers now run with. Before today --abort was refused whenever the old key was no longer listed.
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

describe('Attack: --abort (--store none) deletes the handed-over key on one listing', () => {
  it('Attack: the old key gone and a listing without the new key: --abort is refused, the consumers keep their key', async () => {
    const h = await harness();
    const email = 'viewer@example.com';
    const rotated = await inProcess(h, ['rotate', '--user', email, '--store', 'none', '--no-wait', '--keep-old', '--yes', '--on-new-key', 'cat >/dev/null']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const oldKey = h.keysOf(email).find((k) => k.name === 'viewer')!;
    const newKey = h.keysOf(email).find((k) => k.name === 'viewer-v2')!;
    expect(oldKey).toBeDefined();
    expect(newKey).toBeDefined();

    // The old key is deleted by hand; the listing lags behind and shows no key of the user for a while.
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

    const aborted = await inProcess(h, ['rotate', '--user', email, '--abort', '--yes']);
    h.sandbox.clearFaults();

    // The key the consumers were handed is still live at the provider.
    expect(h.keysOf(email).map((k) => k.name)).toContain('viewer-v2');
    expect(aborted.code).not.toBe(0);
  }, 60_000);
});
