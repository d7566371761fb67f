// The one way keyrot deletes a key at a provider: DELETE, then look again. A 2xx to a DELETE proves nothing on its
// own (a proxy, or a provider that answers 204 and keeps the key): a key is gone only when the provider no longer
// lists it, or, where keyrot holds its plaintext, when the key itself is rejected. `revoke`, every roll-back (--abort,
// a create whose keychain write failed, --store none) and every clean-up (orphans of a lost create, a twin's key) go
// through deleteAndConfirm, and so does the rotation's revoke of the old key (its verify-old step then also proves the
// key rejected).
import { setTimeout as wait } from 'node:timers/promises';
import { AuthError, VerificationFailedError } from '../errors.js';
import type { Provider } from '../providers/types.js';
import { say, displayText } from './display-text.js';

export interface DeleteConfirmOptions {
  /** The key's plaintext where keyrot holds it: a rejected key is gone even if a listing still shows it. */
  secret?: string | null;
  /** How many times to look again (a listing may lag the delete); default 3. */
  attempts?: number;
  /**
   * Waits between looks (the engine's clock in tests); none given: real time. A listing may lag a delete (a read
   * replica behind), so every caller, not only the rotation, backs off for the same bounded window (1 s, then 2 s).
   */
  sleep?: (ms: number) => Promise<void>;
  delayMs?: number;
  /** A refused listing (401) proves the key gone: it was the key keyrot itself runs with (the admin key's own user). */
  listRefusedIsProof?: boolean;
  /** Ask the key itself before the listing (one request where it is rejected at once). */
  checkFirst?: boolean;
  /** Called when the proof is the key itself rejected (401), so that a later step need not ask again. */
  onRejected?: () => void;
  /** Called when the proof is a listing without the key, so that a later step need not list again. */
  onUnlisted?: () => void;
}

/** Thrown when a delete answered 2xx and the key is still there: it is live, and whoever holds it keeps it. */
export class KeyStillLiveError extends VerificationFailedError {}

/**
 * Deletes `key` of `userId` and confirms it is gone. Returns the provider's outcome; throws KeyStillLiveError (exit 7)
 * when the key is still listed (and, held, not rejected) after the last look. Callers drop a keychain entry only after
 * this returns.
 */
export async function deleteAndConfirm(
  provider: Pick<Provider, 'deleteKey' | 'listKeys' | 'checkKey' | 'displayName'>,
  userId: string,
  key: { id: string; name: string },
  options: DeleteConfirmOptions = {},
): Promise<'deleted' | 'already-gone'> {
  const outcome = await provider.deleteKey(userId, key.id);
  const attempts = Math.max(1, options.attempts ?? 3);
  const sleep = options.sleep ?? ((ms: number) => wait(ms).then(() => undefined));
  let waitedMs = 0;
  const keyRejected = async () => {
    if (!options.secret || !(await rejected(provider, options.secret))) return false;
    options.onRejected?.();
    return true;
  };
  for (let attempt = 1; ; attempt++) {
    // The key itself first where the caller asks (the revoke of an old key keyrot holds: a 401 is the stronger proof,
    // and then the only request). A check that fails to answer proves nothing either way: the listing decides.
    const checkedFirst = options.checkFirst === true && attempt === 1;
    if (checkedFirst && (await keyRejected())) return outcome;
    let listed: boolean;
    try {
      listed = (await provider.listKeys(userId)).some((k) => k.id === key.id);
    } catch (err) {
      // The key deleted may be the one keyrot authenticates with (rotate --self rolled back): the listing is then
      // refused, and the key itself is the proof.
      if (!(err instanceof AuthError)) throw err;
      if (options.listRefusedIsProof || (!checkedFirst && (await keyRejected()))) return outcome;
      throw err;
    }
    if (!listed) {
      options.onUnlisted?.();
      return outcome;
    }
    if (!checkedFirst && (await keyRejected())) return outcome;
    if (attempt >= attempts) break;
    const delay = (options.delayMs ?? 1_000) * attempt;
    await sleep(delay);
    waitedMs += delay;
  }
  throw new KeyStillLiveError(
    say`${displayText(provider.displayName)} answered the delete of ${displayText(key.name)} (${displayText(key.id)}) with success, but still lists it after ${attempts} looks over ${Math.round(waitedMs / 1000)} s${options.secret ? say` (and the key itself was not rejected)` : say``}: the key is still live.`,
    {
      hint: say`keyrot kept its keychain entry (if any). Check the key at the provider (a proxy between keyrot and the provider may answer for it), then run the same command again.`,
      facts: { keyStillLive: true },
      data: { keyId: key.id },
    },
  );
}

async function rejected(provider: Pick<Provider, 'checkKey'>, secret: string): Promise<boolean> {
  const check = await provider.checkKey(secret).catch(() => null);
  return check !== null && !check.ok && check.reason === 'rejected';
}
