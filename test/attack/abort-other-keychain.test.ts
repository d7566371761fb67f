// Attack on the fix of E1 (perf a904bba): newKeyGone now counts the new key as gone when it is unlisted and "no
// longer in the keychain that held it". But the keychain --abort reads is the one of the machine it runs on, not
// necessarily the one that held the key: with a shared state store (S3) the journal follows the rotation to another
// runner or the operator's laptop, and a CI runner's keychain is gone with the job. There the entry was never held,
// so one listing that lags decides alone, as it did for --store none (which the fix refuses): --abort deletes the
// new key, the only one that works once the old key is gone.
import { describe, expect, it } from 'vitest';
import { abortRotation, runRotation } from '../../src/core/rotation.js';
import { KeyrotError } from '../../src/errors.js';
import { FlakyStore } from '../helpers/fake-provider.js';
import { setUp } from './engine-harness.js';

describe('Attack: --abort from a machine whose keychain never held the new key', () => {
  it('Attack: the old key gone and one listing without the new key: --abort on another machine is refused and the key stays', async () => {
    const t = setUp();
    // The hand-over's hook fails on runner A: the new key is live and in A's keychain.
    const stop = await runRotation(t.record, t.ports).then(
      () => null,
      (e: unknown) => e,
    );
    expect(stop).toBeInstanceOf(KeyrotError);
    const stopped = structuredClone(t.saves.at(-1)!);
    expect(stopped.options.store).not.toBe('none');
    const newKey = t.provider.keys.find((k) => k.name === 'ops-deploy-v2')!;
    expect(await t.store.inner.get(t.account(newKey.id))).toBe(newKey.secret);

    t.provider.keys.splice(t.provider.keys.indexOf(t.oldKey), 1);
    const list = t.provider.listKeys.bind(t.provider);
    t.provider.listKeys = async (userId) => (await list(userId)).filter((k) => k.id !== newKey.id);

    // --abort on runner B (the journal from the shared store; B's keychain is its own, empty).
    const result = await abortRotation(stopped, { ...t.ports, store: new FlakyStore() }).then(
      (r) => r,
      (e: unknown) => e,
    );

    expect(t.provider.keys.map((k) => k.id)).toContain(newKey.id);
    expect(result).toBeInstanceOf(KeyrotError);
  });
});
