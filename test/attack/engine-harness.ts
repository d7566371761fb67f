// A small engine harness for the attack tests: the fake provider, an in-memory keychain, and ports that record every
// journal write; `failSaves` makes the next N journal writes fail (a full disk, a store answering 503).
import { abortRotation, newRotationRecord, runRotation, type RotationPorts, type RotationRecord } from '../../src/core/rotation.js';
import { HookFailedError, KeyrotError, StateError } from '../../src/errors.js';
import { keychainAccount } from '../../src/keychain/secret-store.js';
import { say } from '../../src/ui/display-text.js';
import { defaultRotationOptions } from '../helpers/fixtures.js';
import { FakeClock, FakeProvider, FlakyStore } from '../helpers/fake-provider.js';

const USER = 'user-1';

export function setUp() {
  const clock = new FakeClock();
  const provider = new FakeProvider({ now: clock.now });
  provider.addUser({ id: USER, email: 'deploy-bot@example.com' });
  const oldKey = provider.addKey(USER, 'ops-deploy');
  const store = new FlakyStore();
  const account = (id: string) => keychainAccount(provider.id, USER, id);
  void store.inner.set(account(oldKey.id), oldKey.secret);
  const saves: RotationRecord[] = [];
  const warns: string[] = [];
  let hookFails = true;
  const journal = { failSaves: 0 };
  const ports: RotationPorts = {
    provider,
    cleanupProvider: async () => provider,
    store,
    save: async (record) => {
      if (journal.failSaves > 0) {
        journal.failSaves--;
        throw new StateError(say`Could not write the rotation journal: no space left on device.`);
      }
      saves.push(structuredClone(record));
    },
    runHook: async () => {
      if (hookFails) throw new HookFailedError(say`hook failed`);
    },
    runCheck: async () => true,
    confirmHandover: null,
    rescue: async (key) => `/state/rescue/${key.id}.key`,
    startStep: async () => ({ update: () => undefined, finish: () => 1 }),
    event: () => undefined,
    note: () => undefined,
    warn: (m) => warns.push(m),
    protect: () => undefined,
    now: clock.now,
    sleep: clock.sleep,
    signal: new AbortController().signal,
  };
  const record = newRotationRecord({
    id: 'rot-1',
    provider: provider.id,
    user: { id: USER, email: 'deploy-bot@example.com' },
    mode: 'standard',
    oldKey: { id: oldKey.id, name: oldKey.name, lastChars: oldKey.secret.slice(-5), expiresAt: null },
    newName: 'ops-deploy-v2',
    expiresAt: null,
    preexistingKeyIds: [oldKey.id],
    options: defaultRotationOptions({ onNewKey: './deploy.sh' }),
    now: clock.now(),
  });
  return {
    provider,
    store,
    ports,
    record,
    oldKey,
    saves,
    warns,
    account,
    journal,
    setHookFails: (v: boolean) => {
      hookFails = v;
    },
  };
}

/**
 * The old key deleted by hand, and a listing that lags and does not show the new key: --abort of `stopped` through
 * `store` (by default the harness's keychain). Returns what --abort returned or threw.
 */
export async function abortWithLaggingListing(t: ReturnType<typeof setUp>, stopped: RotationRecord, newKeyId: string, store: RotationPorts['store'] = t.store): Promise<unknown> {
  t.provider.keys.splice(t.provider.keys.indexOf(t.oldKey), 1);
  const list = t.provider.listKeys.bind(t.provider);
  t.provider.listKeys = async (userId) => (await list(userId)).filter((k) => k.id !== newKeyId);
  return abortRotation(stopped, { ...t.ports, store }).then(
    (r) => r,
    (e: unknown) => e,
  );
}

/**
 * A rotation stopped by its failing hook: the new key live and in the keychain, the old one untouched. Returns the
 * journal as it stands and the new key.
 */
export async function stopAtHandOver(t: ReturnType<typeof setUp>) {
  const stop = await runRotation(t.record, t.ports).then(
    () => null,
    (e: unknown) => e,
  );
  if (!(stop instanceof KeyrotError)) throw new Error(`the rotation did not stop at its hook: ${String(stop)}`);
  const newKey = t.provider.keys.find((k) => k.name === 'ops-deploy-v2');
  if (!newKey || (await t.store.inner.get(t.account(newKey.id))) !== newKey.secret) throw new Error('the new key is not live and held');
  return { stopped: structuredClone(t.saves.at(-1)!), newKey };
}
