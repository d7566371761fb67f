// Attack (surface): a user with two keys of the same name (Vultr allows it). rotate --all rotates the first to
// NAME-v2, hands it to consumers, revokes the old one; the second then finds NAME-v2 and is told that "no rotation
// known here" made it and that the operator may delete it ("keyrot revoke … --key <NAME-v2's id> --yes, then rotate
// again"): the key this very batch just handed to consumers, which is live and in use. Following that advice revokes
// a working key. The batch made that key: it must not call it unknown, nor suggest deleting it.
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';

describe('rotate --all with two keys of one name', () => {
  it('never calls the key it just made unknown, nor suggests revoking it', async () => {
    const h = await harness();
    const user = h.userId('ops@example.com');
    for (let i = 0; i < 2; i++) {
      await h.makeKey(user, 'deploy');
    }
    const r = await h.run(['rotate', '--all', '--store', 'none', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes', '--json']);
    const made = h.sandbox
      .snapshot()
      .users.find((u) => u.id === user)!
      .keys.filter((k) => k.name === 'deploy-v2')
      .map((k) => k.id);
    expect(made).toHaveLength(1);
    // Each key of the duplicated name got a next generation of its own, and the batch said so before any change.
    expect(r.code, r.stderr).toBe(0);
    const newNames = h.sandbox
      .snapshot()
      .users.find((u) => u.id === user)!
      .keys.map((k) => k.name)
      .filter((n) => n.startsWith('deploy'))
      .sort();
    expect(newNames).toEqual(['deploy-v2', 'deploy-v3']);
    expect(r.stderr).toMatch(/ops@example\.com has 2 keys named deploy \(.*\): each gets a name of its own, .*→ deploy-v2, .*→ deploy-v3\./);
    expect(r.stderr).not.toContain('no rotation known here');
    expect(r.stderr + r.stdout).not.toMatch(new RegExp(`revoke[^\\n]*--key ${made[0]}`));
  });
});
