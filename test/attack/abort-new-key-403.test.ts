// Attack on today's --abort change (src/core/rotation/abort.ts, newKeyGone): with the old key gone, --abort now goes on
// when the new key is "gone too": not listed, and `!checkKey(secret).ok`. But checkKey's ok:false also covers a 403
// (a valid key refused the probe's scope) and an IP allow-list refusal (a valid key used from the wrong address):
// both say the key WORKS. keyrot's own verify-old and delete-key treat only reason 'rejected' as proof a key is dead
// ("A 403 or an IP refusal says nothing about revocation"). A listing that does not show the new key yet (a lagging
// listing: keyrot's own create-key.ts assumes one after creates) then makes --abort delete the only working key.
import { describe, expect, it } from 'vitest';
import { runRotation } from '../../src/core/rotation.js';
import { KeyrotError, ProviderUnavailableError } from '../../src/errors.js';
import type { AuthCheck } from '../../src/providers/types.js';
import { say } from '../../src/ui/display-text.js';
import { FlakyStore } from '../helpers/fake-provider.js';
import { abortWithLaggingListing, setUp, stopAtHandOver } from './engine-harness.js';

describe('Attack: --abort with the old key gone deletes a new key that works', () => {
  it.each<[string, AuthCheck]>([
    ['403 (the key is valid; the probe is out of its scope)', { ok: false, reason: 'forbidden', message: 'Forbidden' }],
    ['IP allow-list refusal (the key is valid from the consumers’ addresses)', { ok: false, reason: 'ip-not-allowed', message: 'Unauthorized IP address: 203.0.113.9' }],
  ])('Attack: a new key the listing does not show yet and that answers %s is not "gone": --abort is refused and the key stays', async (_label, answer) => {
    const t = setUp();
    const { stopped, newKey } = await stopAtHandOver(t);

    // The old key is deleted by hand (or lapsed); the listing lags behind the create and does not show the new key;
    // the new key, from this machine, gets a 403 / an IP refusal: it is valid, and consumers' requests succeed.
    t.provider.authOverrides.set(newKey.secret, answer);
    const result = await abortWithLaggingListing(t, stopped, newKey.id);

    // What should happen: refused (exit 9/12 class error), nothing deleted. On perf: status 'aborted', the key deleted.
    expect(t.provider.deleted.map((k) => k.id)).not.toContain(newKey.id);
    expect(t.provider.keys.map((k) => k.id)).toContain(newKey.id);
    expect(await t.store.inner.get(t.account(newKey.id))).toBe(newKey.secret);
    expect(result).toBeInstanceOf(KeyrotError);
  });
});

describe('Attack: --abort with --store none decides "gone" on one listing alone', () => {
  it('Attack: a new key the consumers hold (--store none, handed over), not shown by a lagging listing, is not deleted by --abort', async () => {
    const t = setUp();
    t.setHookFails(false);
    t.record.options.store = 'none';
    // The hand-over succeeds (consumers hold the new key); the wait then stops on a provider error.
    let usage = 0;
    const observe = t.provider.observeUsage.bind(t.provider);
    t.provider.observeUsage = async (userId, keyId) => {
      if (++usage > 1) throw new ProviderUnavailableError(say`Fake Cloud answered 503.`);
      return observe(userId, keyId);
    };
    const stop = await runRotation(t.record, t.ports).then(
      () => null,
      (e: unknown) => e,
    );
    expect(stop).toBeInstanceOf(KeyrotError);
    const stopped = structuredClone(t.saves.at(-1)!);
    expect(stopped.phase).toBe('wait');
    const newKey = t.provider.keys.find((k) => k.name === 'ops-deploy-v2')!;
    expect(newKey).toBeDefined();

    // --store none: keyrot holds no copy (the session's store for 'none' holds nothing).
    const result = await abortWithLaggingListing(t, stopped, newKey.id, new FlakyStore());

    expect(t.provider.keys.map((k) => k.id)).toContain(newKey.id);
    expect(result).toBeInstanceOf(KeyrotError);
  });
});

describe('Attack: --abort from a machine whose keychain never held the new key', () => {
  it('Attack: the old key gone and one listing without the new key: --abort on another machine is refused and the key stays', async () => {
    const t = setUp();
    // The hand-over's hook fails on runner A: the new key is live and in A's keychain.
    const { stopped, newKey } = await stopAtHandOver(t);
    expect(stopped.options.store).not.toBe('none');

    // --abort on runner B (the journal from the shared store; B's keychain is its own, empty).
    const result = await abortWithLaggingListing(t, stopped, newKey.id, new FlakyStore());

    expect(t.provider.keys.map((k) => k.id)).toContain(newKey.id);
    expect(result).toBeInstanceOf(KeyrotError);
  });
});
