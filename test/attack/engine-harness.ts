// A small engine harness for the attack tests: the fake provider, an in-memory keychain, and ports that record every
// journal write; `failSaves` makes the next N journal writes fail (a full disk, a store answering 503).
import { newRotationRecord, type RotationPorts, type RotationRecord } from '../../src/core/rotation.js';
import { HookFailedError, StateError } from '../../src/errors.js';
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
