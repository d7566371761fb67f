// Creating a key without ever leaving a live key whose plaintext nobody holds.
//
// 1. POST the create. The answer is the only copy of the plaintext.
// 2. Write the plaintext to the keychain at once, before anything else can fail.
// 3. If the keychain write fails, delete the new key at the provider; if even that fails, hand the plaintext
//    to the rescue writer (a 0600 file) so a human still holds it.
// A create whose answer was lost (CreateOutcomeUnknownError: reset, time-out, 5xx after sending) is reconciled:
// list the user's keys; any key with the new name that did not exist before and whose plaintext keyrot does not
// hold is deleted; then the create is tried once more.
// A create answered with success but without a usable plaintext (KeyNotReturnedError), or naming a key that existed
// before, is an answer, not a loss: the key it made is deleted the same way, and the create is never sent again.
// Only keys that can be this run's own are deleted so: when more keys of the name appeared unheld than the creates
// sent could have made, one is another's (a second runner rotating the same user, a person), and none is deleted.
import { CreateOutcomeUnknownError, KeyNotReturnedError, KeychainError, RotationConflictError, RotationIncompleteError, isKeyrotError } from '../errors.js';
import { keychainAccount, type SecretStore } from './key-store.js';
import type { ApiKey, CreateKeyInput, CreatedKey, Provider } from '../providers/types.js';
import { deleteAndConfirm } from './delete-key.js';
import { maskSecret } from './mask.js';
import { say, displayText, joinDisplay, type DisplayText } from './display-text.js';

export interface CreateKeyPorts {
  provider: Provider;
  store: SecretStore;
  /** Last resort when neither the keychain nor a delete worked: persist the plaintext, return where. */
  rescue(key: CreatedKey, userId: string): Promise<string>;
  /** Reports what happened (reconciliation, clean-up) in words. Must not receive secrets. */
  note(message: DisplayText): void;
  /** Called right after the plaintext is safely in the keychain (e.g. to journal the key id). */
  onStored?(key: CreatedKey): Promise<void>;
  /** Called before each create is sent, and after keys of a lost answer are deleted (to journal the counts). */
  onCreateSent?(): Promise<void>;
  onOrphansDeleted?(count: number): Promise<void>;
  /** Waits between looks after a delete (deleteAndConfirm); none: look again at once. */
  sleep?(ms: number): Promise<void>;
}

export interface CreateKeyRequest extends CreateKeyInput {
  userId: string;
  /** Ids of the user's keys that existed before this create: never deleted by reconciliation. */
  preexistingKeyIds: ReadonlySet<string>;
  /**
   * How many keys of this name earlier creates of the same run may have left unheld (creates sent by an interrupted
   * process, less the orphans deleted since); undefined when not counted (a journal of an older keyrot): then every
   * unheld key of the name counts as this run's.
   */
  ownUnheldBefore?: number;
}

export interface StoredKey {
  key: ApiKey;
  account: string;
  /** Reconciliation details, for the summary. */
  orphansDeleted: string[];
}

export async function createAndStoreKey(req: CreateKeyRequest, ports: CreateKeyPorts): Promise<StoredKey> {
  const orphansDeleted: string[] = [];
  // The most keys of this name that can be this run's own and unheld: each create sent may have made one.
  const ownUnheld = () => (req.ownUnheldBefore === undefined ? undefined : req.ownUnheldBefore + sent - orphansDeleted.length);
  let sent = 0;
  for (let attempt = 1; ; attempt++) {
    let created: CreatedKey;
    try {
      // First, before anything reaches the provider: a rotation journals here that the create may happen, and writes
      // nothing before it (core/rotation/steps/create.ts).
      await ports.onCreateSent?.();
      sent++;
      created = await ports.provider.createKey(req.userId, { name: req.name, expiresAt: req.expiresAt, ...(req.scopes ? { scopes: req.scopes } : {}) });
    } catch (err) {
      if (err instanceof KeyNotReturnedError) throw await discardUnreadableKey({ ...req, ownUnheld: ownUnheld() }, ports, err);
      // After a lost answer, a key may exist that the listing did not show yet: a refusal now (a 4xx: "limit
      // reached") does not mean nothing was made, and says so.
      if (attempt > 1 && isKeyrotError(err) && !(err instanceof CreateOutcomeUnknownError)) {
        throw err.amend(
          say`${err.hint ? say`${err.hint} ` : say``}An earlier create's answer was lost: a key named "${displayText(req.name)}" may be live with its plaintext lost; --resume checks for it again and deletes it.`,
          {},
          { afterLostAnswer: true },
        );
      }
      if (!(err instanceof CreateOutcomeUnknownError)) throw err;
      ports.note(say`The answer to the create was lost; checking ${displayText(req.name)} at the provider.`);
      orphansDeleted.push(...(await deleteOrphansOrExplain({ ...req, ownUnheld: ownUnheld() }, ports, `The answer to creating "${req.name}" was lost`)));
      if (attempt >= 2) throw err;
      continue;
    }
    // A create answer naming a key the user already had (a broken provider or a caching proxy) is not the new key:
    // trusted, its plaintext would take that key's keychain entry. Handled as an answer without a usable key: the key
    // the create made is deleted by name, or, where none is listed, the plaintext goes to the rescue file.
    if (req.preexistingKeyIds.has(created.id)) {
      const happened = `The provider answered creating "${req.name}" with the id of a key the user already has (${created.id}), so keyrot does not trust that answer`;
      const err = new KeyNotReturnedError(displayText(happened), { plaintext: created.secret });
      throw await discardUnreadableKey({ ...req, ownUnheld: ownUnheld() }, ports, err, happened);
    }
    return { ...(await storeOrUndo(req.userId, created, ports)), orphansDeleted };
  }
}

/**
 * The provider accepted the create but sent no usable answer: whatever key it made cannot be held by id, so it is
 * deleted by name, and the error to stop with, which says what was deleted, is returned. When the answer did hold
 * the plaintext (only the key's record was unusable) and no key could be deleted, the plaintext goes to the rescue
 * file instead of being dropped: a key may be live, and a human then holds it.
 */
async function discardUnreadableKey(
  req: OrphanQuery & CreateKeyRequest,
  ports: CreateKeyPorts,
  err: KeyNotReturnedError,
  happened = `The provider accepted creating "${req.name}" but sent no usable key`,
): Promise<Error> {
  let deleted: string[];
  try {
    deleted = await deleteOrphansOrExplain(req, ports, happened);
  } catch (cleanupErr) {
    if (err.plaintext === null) throw cleanupErr;
    return rescueUnreadable(req, ports, err.plaintext, `${happened}, and finding it by name failed (${errorText(cleanupErr)})`, cleanupErr);
  }
  if (deleted.length === 0 && err.plaintext !== null) {
    return rescueUnreadable(req, ports, err.plaintext, `${happened}, and no key of that name is listed`, err);
  }
  const what = deleted.length ? `keyrot deleted that key (${deleted.join(', ')}): its plaintext can never be read` : 'no such key is listed, so nothing was left behind';
  return new KeyNotReturnedError(say`${displayText(err.message.replace(/\.$/, ''), 2000)}: ${displayText(what)}. Nothing else changed.`, {
    hint: say`keyrot never sends a create twice. If this persists, the provider does not return new keys through its API: create the key in its console.`,
    data: { ...err.data, deletedKeyIds: deleted },
    cause: err,
  });
}

/** The plaintext of a key keyrot cannot name by id, into the rescue file; the error says where. */
async function rescueUnreadable(req: CreateKeyRequest, ports: CreateKeyPorts, secret: string, happened: string, cause: unknown): Promise<RotationIncompleteError> {
  const key: CreatedKey = { id: `unread-${req.name}`, name: req.name, lastChars: secret.slice(-5), expiresAt: req.expiresAt, secret };
  const path = await ports.rescue(key, req.userId);
  return new RotationIncompleteError(
    say`${displayText(happened)}: a key named "${displayText(req.name)}" (${displayText(maskSecret(secret))}) may be live; its plaintext is in ${displayText(path)} (mode 0600).`,
    {
      hint: say`Delete the key named "${displayText(req.name)}" at the provider (or move the key from ${displayText(path)} into your secret store), then delete the file.`,
      data: { keyName: req.name, rescueFile: path },
      cause,
    },
  );
}

/**
 * deleteOrphans, or, when checking fails, the error that names the key which may be live with its plaintext lost.
 * `happened` says what went wrong with the create, e.g. 'The answer to creating "x" was lost'.
 */
async function deleteOrphansOrExplain(req: OrphanQuery, ports: CreateKeyPorts, happened: string): Promise<string[]> {
  try {
    return await deleteOrphans(req, ports);
  } catch (cleanupErr) {
    if (cleanupErr instanceof RotationConflictError) throw cleanupErr;
    // A key may now be live whose plaintext nobody holds: say so, and which one to delete.
    throw new RotationIncompleteError(
      say`${displayText(happened)} and checking for the key failed (${displayText(errorText(cleanupErr))}): a key named "${displayText(req.name)}" may be live with its plaintext lost.`,
      {
        hint: say`Delete any key named "${displayText(req.name)}" that keyrot does not hold (keyrot list-keys shows which it holds).`,
        data: { keyName: req.name },
        cause: cleanupErr,
      },
    );
  }
}

/**
 * What a clean-up after a lost answer looks for: keys named `name` of the user that did not exist before the create.
 * `ownUnheld`: how many of those the run's creates may have made and left unheld (undefined: not counted).
 */
export interface OrphanQuery {
  userId: string;
  name: string;
  preexistingKeyIds: ReadonlySet<string>;
  ownUnheld?: number | undefined;
}

/** Keys of the create's name that did not exist before it and whose plaintext the store lacks. */
export async function orphanCandidates(req: OrphanQuery, ports: Pick<CreateKeyPorts, 'provider' | 'store'>): Promise<ApiKey[]> {
  const found: ApiKey[] = [];
  for (const key of await ports.provider.listKeys(req.userId)) {
    if (key.name !== req.name || req.preexistingKeyIds.has(key.id)) continue;
    if ((await ports.store.get(keychainAccount(ports.provider.id, req.userId, key.id))) === null) found.push(key);
  }
  return found;
}

/**
 * Deletes keys named `req.name` that appeared since the create started and whose plaintext keyrot does not
 * hold. Returns their ids. Keys keyrot does hold are left alone (they are recoverable). More such keys than the run
 * may have made (`req.ownUnheld`) means one is another's, and nothing tells which: none is deleted, and the
 * RotationConflictError names them all.
 */
export async function deleteOrphans(req: OrphanQuery, ports: Pick<CreateKeyPorts, 'provider' | 'store' | 'note' | 'onOrphansDeleted' | 'sleep'>): Promise<string[]> {
  const candidates = await orphanCandidates(req, ports);
  if (req.ownUnheld === 0) {
    // Every key this run may have made is accounted for: these are another's, and not for this run to delete.
    if (candidates.length) ports.note(say`Left ${joinDisplay(candidates.map((k) => say`${displayText(k.name)} (${displayText(k.id)})`))} alone: this run did not make it.`);
    return [];
  }
  refuseOthersKeys(req, candidates);
  const deleted: string[] = [];
  try {
    for (const key of candidates) {
      await deleteAndConfirm(ports.provider, req.userId, key, { ...(ports.sleep ? { sleep: ports.sleep } : {}) });
      ports.note(say`Deleted key ${displayText(key.id)} (${displayText(key.name)}): it was created but its plaintext never reached keyrot.`);
      deleted.push(key.id);
    }
  } finally {
    if (deleted.length) await ports.onOrphansDeleted?.(deleted.length);
  }
  return deleted;
}

/** Keys of the name beyond what this run can have made (`appeared` says which keys): another's among them, so the clean-up stops. */
export function refuseOthersKeys(req: OrphanQuery, unheld: readonly ApiKey[], appeared = 'that keyrot does not hold'): void {
  if (req.ownUnheld === undefined || unheld.length <= req.ownUnheld) return;
  const listed = unheld.map((k) => k.id).join(', ');
  const own = req.ownUnheld === 1 ? 'at most one of them' : `at most ${req.ownUnheld} of them`;
  throw new RotationConflictError(
    say`${unheld.length} keys named "${displayText(req.name)}" appeared ${displayText(appeared)} (${displayText(listed)}), and this run's creates can have made ${displayText(own)}: the others are another's (a second runner or state folder rotating this user at the same time, or a person), and nothing tells which is which. keyrot deleted none of them; a key this run made may be live with its plaintext lost.`,
    {
      hint: say`Once the other run is done, delete the one of them nobody holds (the other run names its own key): keyrot revoke --user <e-mail> --key <id>. keyrot never deletes them by itself.`,
      data: { keyName: req.name },
      facts: { unheldKeyIds: unheld.map((k) => k.id), afterLostAnswer: true },
    },
  );
}

export type Discarded = { kind: 'deleted' } | { kind: 'rescued'; path: string };

/**
 * Deletes a new key that nobody will hold (--store none before its hand-over succeeded, a create whose hand-over
 * failed), through deleteAndConfirm with `provider`. When that fails and this process holds the plaintext (`secret`), the rescue writer takes
 * it, so a human still can; without the plaintext the delete's error is thrown.
 */
export async function discardNewKey(
  provider: () => Promise<Provider> | Provider,
  userId: string,
  key: Omit<CreatedKey, 'secret'>,
  secret: string | null,
  rescue: CreateKeyPorts['rescue'],
  /** The engine's clock for the lagging listing's back-offs (a simulation's fake one); real time otherwise. */
  sleep?: (ms: number) => Promise<void>,
): Promise<Discarded> {
  try {
    await deleteAndConfirm(await provider(), userId, key, { secret, ...(sleep ? { sleep } : {}) });
    return { kind: 'deleted' };
  } catch (err) {
    if (secret === null) throw err;
    return { kind: 'rescued', path: await rescue({ ...key, secret }, userId) };
  }
}

/**
 * Never a plaintext over another: an entry already under a new key's account holds another key (the same ids at
 * another instance of the provider: two Grafanas number their tokens alike). It is kept under a name of its own,
 * and said, before the new key takes the account.
 */
async function keepDisplaced(account: string, secret: string, ports: CreateKeyPorts): Promise<void> {
  const before = await ports.store.get(account).catch(() => null);
  if (before === null || before === secret) return;
  const kept = `${account}:displaced-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await ports.store.set(kept, before);
  ports.note(
    say`The keychain already held another key under "${displayText(account)}" (the same ids at another instance of ${displayText(ports.provider.displayName)}?): that key is kept under "${displayText(kept)}".`,
  );
}

async function storeOrUndo(userId: string, created: CreatedKey, ports: CreateKeyPorts): Promise<Omit<StoredKey, 'orphansDeleted'>> {
  const account = keychainAccount(ports.provider.id, userId, created.id);
  const { secret, ...key } = created;
  try {
    // Inside: a keychain failing here takes the same way out as one failing the write itself.
    await keepDisplaced(account, secret, ports);
    await ports.store.set(account, secret);
  } catch (storeErr) {
    const why = errorText(storeErr);
    try {
      await deleteAndConfirm(ports.provider, userId, created, { secret, ...(ports.sleep ? { sleep: ports.sleep } : {}) });
    } catch (deleteErr) {
      let path: string;
      try {
        path = await ports.rescue(created, userId);
      } catch (rescueErr) {
        throw new RotationIncompleteError(
          say`Key ${displayText(created.id)} (${displayText(maskSecret(secret))}) is live but neither the keychain (${displayText(why)}), a delete, nor a rescue file (${displayText(errorText(rescueErr))}) took it.`,
          {
            hint: say`Delete key ${displayText(created.id)} at the provider.`,
            data: { keyId: created.id },
            cause: rescueErr,
          },
        );
      }
      throw new RotationIncompleteError(
        say`Key ${displayText(created.id)} (${displayText(maskSecret(secret))}) was created, the keychain refused it (${displayText(why)}) and deleting it failed too; its plaintext is in ${displayText(path)} (mode 0600).`,
        {
          hint: say`Move the key from ${displayText(path)} into your secret store, or delete key ${displayText(created.id)} at the provider, then delete the file.`,
          data: { keyId: created.id, rescueFile: path },
          cause: deleteErr,
        },
      );
    }
    throw new KeychainError(say`The new key could not be stored in ${displayText(ports.store.description)} (${displayText(why)}); it was deleted at the provider, nothing is left behind.`, {
      hint: isKeyrotError(storeErr) ? storeErr.hint : undefined,
      cause: storeErr,
    });
  }
  await ports.onStored?.(created);
  return { key, account };
}

function errorText(err: unknown): string {
  return isKeyrotError(err) || err instanceof Error ? err.message : String(err);
}
