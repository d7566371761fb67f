// A hostile key name (found by the issue 17 attack). Anyone who may name a key (a sub-user's own key, Vultr allows
// duplicate names) can call two keys `deploy-v9007199254740992`. The next generation is Number(digits) + 1, which
// past 2^53 is the same number again, so nextGenerationName (src/core/naming.ts) loops for ever looking for a free
// name when the first is taken: `rotate --all` spins at 100% CPU in its planning, before any change, and never
// ends (a CI job hangs until its time-out, and no user's key is rotated). It must end: rotate both keys to names of
// their own, or refuse the names with one clear line.
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';

const HOSTILE = 'deploy-v9007199254740992';

describe('rotate --all with two keys named with a generation past 2^53', () => {
  it('ends (within 30 s) and gives no two keys one name', async () => {
    const h = await harness();
    const user = h.userId('ops@example.com');
    for (let i = 0; i < 2; i++) {
      await h.makeKey(user, HOSTILE);
    }
    const r = await h.run(['rotate', '--all', '--user', 'ops@example.com', '--match', 'deploy-*', '--store', 'none', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes'], {
      timeoutMs: 30_000,
    });
    expect(r.stderr).not.toMatch(/^\s+at /m);
    const names = h.sandbox
      .snapshot()
      .users.find((u) => u.id === user)!
      .keys.map((k) => k.name)
      .filter((n) => n.startsWith('deploy'));
    if (r.code === 0) expect(new Set(names).size).toBe(names.length);
    else expect(r.code).toBe(2);
  });
});
