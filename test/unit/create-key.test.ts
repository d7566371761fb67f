import { describe, expect, it } from 'vitest';
import { createAndStoreKey, deleteOrphans, type CreateKeyPorts, type CreateKeyRequest, type StoredKey } from '../../src/core/create-key.js';
import { CreateOutcomeUnknownError, KeyNotReturnedError, KeychainError, ProviderUnavailableError, RotationIncompleteError, isKeyrotError } from '../../src/errors.js';
import { keychainAccount } from '../../src/keychain/secret-store.js';
import type { CreatedKey } from '../../src/providers/types.js';
import { FakeProvider, FlakyStore, lostAnswer, type Fault } from '../helpers/fake-provider.js';
import { say } from '../../src/ui/display-text.js';

const USER = 'user-1';
const NAME = 'ops-deploy-v2';

function unavailable(): Error {
  return new ProviderUnavailableError(say`The provider did not answer after 3 attempts.`);
}

function world() {
  const provider = new FakeProvider();
  provider.addUser({ id: USER });
  const store = new FlakyStore();
  const notes: string[] = [];
  const rescued: Array<{ key: CreatedKey; userId: string }> = [];
  const stored: CreatedKey[] = [];
  const ports: CreateKeyPorts = {
    provider,
    store,
    note: (m) => notes.push(m),
    rescue: async (key, userId) => {
      rescued.push({ key, userId });
      return `/state/rescue/${key.id}.key`;
    },
    onStored: async (key) => {
      stored.push(key);
    },
  };
  const account = (keyId: string) => keychainAccount(provider.id, USER, keyId);
  const request = (preexisting: string[] = provider.liveKeys(USER).map((k) => k.id)): CreateKeyRequest => ({
    userId: USER,
    name: NAME,
    expiresAt: null,
    preexistingKeyIds: new Set(preexisting),
  });
  return { provider, store, ports, notes, rescued, stored, account, request };
}

type World = ReturnType<typeof world>;

/**
 * The rule this module exists for: every key whose plaintext reached keyrot is, at the end, held in the
 * keychain, deleted, or handed to rescue(). Keys whose create answer was lost never reached keyrot: they must
 * be deleted (checked separately, see expectNoOrphanLeft).
 */
async function expectNoKeyLost(w: World): Promise<void> {
  const rescuedIds = new Set(w.rescued.map((r) => r.key.id));
  for (const key of w.provider.created.filter((k) => !w.provider.lostAnswers.includes(k))) {
    const live = w.provider.keys.includes(key);
    const held = (await w.store.inner.get(w.account(key.id))) === key.secret;
    expect(!live || held || rescuedIds.has(key.id), `key ${key.id} is live, not held and not rescued`).toBe(true);
  }
  // And nothing is held for a key that does not exist.
  for (const acct of await w.store.inner.list()) {
    const keyId = acct.split(':')[2]!;
    expect(
      w.provider.keys.some((k) => k.id === keyId),
      `keychain holds ${acct} for a deleted key`,
    ).toBe(true);
  }
}

/** A key created without its answer is deleted, or the error says so (by name) and how to clean up. */
function expectNoOrphanLeft(w: World, outcome: unknown): void {
  const live = w.provider.lostAnswers.filter((k) => w.provider.keys.includes(k));
  if (live.length === 0) return;
  expect(outcome, `orphan ${live.map((k) => k.id).join(', ')} left without an error`).toBeInstanceOf(RotationIncompleteError);
  expect((outcome as Error).message).toContain(NAME);
}

describe('createAndStoreKey: happy path', () => {
  it('creates the key, stores its plaintext, then calls onStored', async () => {
    const w = world();
    const before = w.provider.addKey(USER, 'ops-deploy');
    let heldWhenOnStored: string | null = null;
    w.ports.onStored = async (key) => {
      heldWhenOnStored = await w.store.inner.get(w.account(key.id));
    };
    const expiresAt = new Date('2027-01-31T00:00:00Z');
    const result = await createAndStoreKey({ ...w.request(), expiresAt }, w.ports);

    const created = w.provider.created[0]!;
    expect(w.provider.created).toHaveLength(1);
    expect(created).toMatchObject({ name: NAME, expiresAt });
    expect(heldWhenOnStored).toBe(created.secret);
    expect(result).toEqual({
      key: { id: created.id, name: NAME, lastChars: created.secret.slice(-5), expiresAt },
      account: w.account(created.id),
      orphansDeleted: [],
    });
    // The result carries no plaintext.
    expect(JSON.stringify(result)).not.toContain(created.secret);
    expect(w.provider.keys).toContain(before);
    expect(w.rescued).toHaveLength(0);
    await expectNoKeyLost(w);
  });

  it('works without onStored', async () => {
    const w = world();
    delete w.ports.onStored;
    const result = await createAndStoreKey(w.request(), w.ports);
    expect(await w.store.inner.get(result.account)).toBe(w.provider.created[0]!.secret);
  });

  it('propagates a create that failed for sure, without reconciling', async () => {
    const w = world();
    w.provider.faults.push({ method: 'createKey', when: 'before', error: unavailable });
    await expect(createAndStoreKey(w.request(), w.ports)).rejects.toBeInstanceOf(ProviderUnavailableError);
    expect(w.provider.callsOf('listKeys')).toHaveLength(0);
    expect(w.provider.callsOf('createKey')).toHaveLength(1);
    expect(w.store.calls.filter((c) => c.method === 'set')).toHaveLength(0);
  });
});

describe('createAndStoreKey: a lost create answer (CreateOutcomeUnknownError)', () => {
  it('deletes the orphan with the new name, spares a pre-existing and a held key of that name, retries once', async () => {
    const w = world();
    const preexisting = w.provider.addKey(USER, NAME);
    const request = w.request(); // preexisting is in preexistingKeyIds
    // A key of the same name keyrot holds (e.g. from an earlier attempt): recoverable, so never deleted.
    const held = w.provider.addKey(USER, NAME);
    await w.store.inner.set(w.account(held.id), held.secret);
    const unrelated = w.provider.addKey(USER, 'something-else');
    w.provider.faults.push({ method: 'createKey', when: 'after', error: lostAnswer });

    const result = await createAndStoreKey(request, w.ports);

    const [orphan, second] = w.provider.created;
    expect(w.provider.callsOf('createKey')).toHaveLength(2);
    expect(result.orphansDeleted).toEqual([orphan!.id]);
    expect(result.key.id).toBe(second!.id);
    expect(w.provider.deleted).toEqual([orphan]);
    expect(w.provider.keys).toEqual(expect.arrayContaining([preexisting, held, unrelated, second]));
    expect(await w.store.inner.get(w.account(second!.id))).toBe(second!.secret);
    expect(w.notes.join('\n')).toMatch(/answer to the create was lost/);
    expect(w.notes.join('\n')).toContain(orphan!.id);
    expect(w.notes.join('\n')).not.toContain(orphan!.secret);
    await expectNoKeyLost(w);
  });

  it('reconciles when the lost create never reached the provider (nothing to delete)', async () => {
    const w = world();
    w.provider.faults.push({ method: 'createKey', when: 'before', error: lostAnswer });
    const result = await createAndStoreKey(w.request(), w.ports);
    expect(result.orphansDeleted).toEqual([]);
    expect(w.provider.created).toHaveLength(1);
    await expectNoKeyLost(w);
  });

  it('gives up after the second lost answer, with both orphans deleted', async () => {
    const w = world();
    w.provider.faults.push({ method: 'createKey', when: 'after', error: lostAnswer, times: 2 });
    await expect(createAndStoreKey(w.request(), w.ports)).rejects.toBeInstanceOf(CreateOutcomeUnknownError);
    expect(w.provider.callsOf('createKey')).toHaveLength(2);
    expect(w.provider.created).toHaveLength(2);
    expect(w.provider.liveKeys(USER)).toHaveLength(0);
    await expectNoKeyLost(w);
  });
});

describe('createAndStoreKey: a create answered without a usable key record (KeyNotReturnedError)', () => {
  it('deletes the key it made by name, never sends the create again', async () => {
    const w = world();
    w.provider.faults.push({ method: 'createKey', when: 'after', error: () => new KeyNotReturnedError(say`The provider accepted the create but its answer holds no key.`) });
    const err = await createAndStoreKey(w.request(), w.ports).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyNotReturnedError);
    expect((err as Error).message).toMatch(/keyrot deleted that key/);
    expect(w.provider.callsOf('createKey')).toHaveLength(1);
    expect(w.provider.liveKeys(USER)).toHaveLength(0);
  });

  it('rescues the plaintext the answer did hold when the key cannot be found by name, rather than drop it', async () => {
    const w = world();
    const plaintextOfTheKeyJustMade = () => w.provider.created.at(-1)!.secret;
    w.provider.faults.push({ method: 'createKey', when: 'after', error: () => new KeyNotReturnedError(say`The answer has no usable id.`, { plaintext: plaintextOfTheKeyJustMade() }) });
    w.provider.faults.push({ method: 'listKeys', when: 'before', error: unavailable });
    const err = await createAndStoreKey(w.request(), w.ports).catch((e: unknown) => e);
    const created = w.provider.created[0]!;
    expect(err).toBeInstanceOf(RotationIncompleteError);
    expect(w.rescued).toEqual([{ key: expect.objectContaining({ name: NAME, secret: created.secret }), userId: USER }]);
    expect((err as Error).message).toContain('/state/rescue/');
    expect((err as Error).message).toContain(NAME);
    expect((err as Error).message).not.toContain(created.secret);
    expect(JSON.stringify(err)).not.toContain(created.secret);
    expect(w.provider.callsOf('createKey')).toHaveLength(1);
  });
});

describe('createAndStoreKey: the keychain refuses the plaintext', () => {
  it('deletes the key at the provider and throws KeychainError carrying the store hint', async () => {
    const w = world();
    w.store.failSet = 1;
    const err = await createAndStoreKey(w.request(), w.ports).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeychainError);
    expect((err as KeychainError).message).toMatch(/deleted at the provider/);
    expect((err as KeychainError).hint).toBe('Unlock the keychain and try again.');
    const created = w.provider.created[0]!;
    expect(w.provider.deleted).toEqual([created]);
    expect(w.stored).toHaveLength(0);
    expect(w.rescued).toHaveLength(0);
    expect((err as Error).message).not.toContain(created.secret);
    await expectNoKeyLost(w);
  });

  it('rescues the plaintext when the delete fails too, and throws RotationIncompleteError', async () => {
    const w = world();
    w.store.failSet = 1;
    w.provider.faults.push({ method: 'deleteKey', when: 'before', error: unavailable });
    const err = await createAndStoreKey(w.request(), w.ports).catch((e: unknown) => e);

    const created = w.provider.created[0]!;
    expect(err).toBeInstanceOf(RotationIncompleteError);
    expect(w.rescued).toEqual([{ key: expect.objectContaining({ id: created.id, secret: created.secret }), userId: USER }]);
    expect((err as RotationIncompleteError).data).toEqual({ keyId: created.id, rescueFile: `/state/rescue/${created.id}.key` });
    expect((err as RotationIncompleteError).message).toContain(`/state/rescue/${created.id}.key`);
    expect((err as RotationIncompleteError).message).not.toContain(created.secret);
    expect((err as RotationIncompleteError).message).toContain(created.secret.slice(-5));
    expect(w.stored).toHaveLength(0);
    await expectNoKeyLost(w);
  });

  it('does not call onStored when the store failed, and calls it once when it worked', async () => {
    const w = world();
    w.store.failSet = 1;
    await createAndStoreKey(w.request(), w.ports).catch(() => undefined);
    expect(w.stored).toHaveLength(0);
    await createAndStoreKey({ ...w.request(), name: 'other' }, w.ports);
    expect(w.stored).toHaveLength(1);
  });
});

describe('createAndStoreKey: no combination of faults loses a key', () => {
  const createFaults: Record<string, Fault[]> = {
    'create ok': [],
    'create fails': [{ method: 'createKey', when: 'before', error: unavailable }],
    'answer lost once': [{ method: 'createKey', when: 'after', error: lostAnswer }],
    'answer lost twice': [{ method: 'createKey', when: 'after', error: lostAnswer, times: 2 }],
    'lost, then refused': [
      { method: 'createKey', when: 'after', error: lostAnswer },
      { method: 'createKey', when: 'before', error: unavailable },
    ],
  };
  const deleteFaults: Record<string, Fault[]> = {
    'delete ok': [],
    'delete fails': [{ method: 'deleteKey', when: 'before', error: unavailable, times: 5 }],
    'delete answer lost': [{ method: 'deleteKey', when: 'after', error: unavailable, times: 5 }],
    'list fails': [{ method: 'listKeys', when: 'before', error: unavailable, times: 5 }],
  };
  const cases = Object.entries(createFaults).flatMap(([c, cf]) =>
    Object.entries(deleteFaults).flatMap(([d, df]) => [0, 1].map((failSet) => ({ label: `${c}, ${d}, keychain ${failSet ? 'fails' : 'ok'}`, cf, df, failSet }))),
  );
  // A lost answer whose reconciliation (list or delete) then fails leaves a live key nobody holds, and the
  // error (ProviderUnavailableError) does not say so. BUG (reported against src/core/create-key.ts).

  async function run(c: (typeof cases)[number]): Promise<void> {
    const w = world();
    w.provider.addKey(USER, NAME);
    const request = w.request();
    w.provider.faults.push(...c.cf.map((f) => ({ ...f })), ...c.df.map((f) => ({ ...f })));
    w.store.failSet = c.failSet;
    const outcome: StoredKey | Error = await createAndStoreKey(request, w.ports).catch((e: unknown) => e as Error);
    await expectNoKeyLost(w);
    if (outcome instanceof Error) {
      // Every failure is a KeyrotError (exit code, hint), never a bare crash, and never shows a plaintext.
      expect(isKeyrotError(outcome)).toBe(true);
      expect(outcome.message).not.toMatch(/[A-F0-9]{36}/);
    } else {
      expect(await w.store.inner.get(outcome.account)).not.toBeNull();
    }
    expectNoOrphanLeft(w, outcome);
  }

  it.each(cases)('$label', run);
});

describe('deleteOrphans', () => {
  it('deletes only unheld keys of that name that did not exist before', async () => {
    const w = world();
    const old = w.provider.addKey(USER, NAME);
    const orphanA = w.provider.addKey(USER, NAME);
    const orphanB = w.provider.addKey(USER, NAME);
    const held = w.provider.addKey(USER, NAME);
    await w.store.inner.set(w.account(held.id), held.secret);
    const other = w.provider.addKey(USER, `${NAME}-x`);
    const deleted = await deleteOrphans({ userId: USER, name: NAME, preexistingKeyIds: new Set([old.id]) }, w.ports);
    expect(deleted).toEqual([orphanA.id, orphanB.id]);
    expect(w.provider.keys).toEqual([old, held, other]);
  });
});

describe("createAndStoreKey: an entry already under the new key's account", () => {
  it('is another key (the same ids at another instance of the provider): kept under a name of its own, never overwritten', async () => {
    const w = world();
    // key-0001 is what the fake provider will number the new key; another instance's key-0001 is held already.
    await w.store.inner.set(w.account('key-0001'), 'ANOTHER-INSTANCE-PLAINTEXT');
    const stored = await createAndStoreKey(w.request(), w.ports);
    expect(stored.key.id).toBe('key-0001');
    expect(await w.store.inner.get(w.account('key-0001'))).toBe(w.provider.created[0]!.secret);
    const displaced = (await w.store.inner.list()).filter((a) => a.startsWith(`${w.account('key-0001')}:displaced-`));
    expect(displaced).toHaveLength(1);
    expect(await w.store.inner.get(displaced[0]!)).toBe('ANOTHER-INSTANCE-PLAINTEXT');
    expect(w.notes.join('\n')).toMatch(/already held another key under .*: that key is kept under/);
  });
});

describe('createAndStoreKey: a roll-back whose delete answers 2xx but keeps the key', () => {
  it('does not say "nothing is left behind": the key is still listed, so its plaintext goes to the rescue file', async () => {
    const w = world();
    w.store.failSet = 1;
    w.provider.ignoredDeletes = 10;
    const outcome = await createAndStoreKey(w.request(), w.ports).catch((err: unknown) => err);
    const created = w.provider.created[0]!;
    expect(w.provider.keys).toContain(created);
    expect(outcome).toBeInstanceOf(RotationIncompleteError);
    expect((outcome as Error).message).toMatch(/rescue|plaintext is in/);
    expect(w.rescued.map((r) => r.key.id)).toEqual([created.id]);
  });
});
