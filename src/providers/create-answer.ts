// A create's answer, read by any provider. A 2xx that keyrot cannot read (too large, not JSON, a 3xx, a record
// without a usable id or plaintext) is an answer, not a lost one: the key was most likely made and the create must
// never be sent again. It becomes KeyNotReturnedError, on which createAndStoreKey (src/core/create-key.ts) deletes
// the key by name.
import { KeyNotReturnedError, ProviderResponseError } from '../errors.js';
import { say, displayText } from '../ui/display-text.js';

/**
 * `read()`'s key, or KeyNotReturnedError for a ProviderResponseError it throws (other errors pass: a lost answer, a
 * 4xx). `read` calls `held(plaintext)` as soon as it has the plaintext, so an answer whose record is unusable still
 * hands it over (KeyNotReturnedError.plaintext) to be rescued rather than dropped.
 */
export async function readCreateAnswer<T>(service: string, keyName: string, read: (held: (plaintext: string) => void) => Promise<T>): Promise<T> {
  let plaintext: string | null = null;
  try {
    return await read((p) => (plaintext = p));
  } catch (error) {
    if (!(error instanceof ProviderResponseError)) throw error;
    throw new KeyNotReturnedError(say`${displayText(service)} accepted the create of "${displayText(keyName)}" but its answer holds no key (${displayText(error.message.replace(/\.$/, ''), 2000)}).`, {
      data: { ...error.data, keyName },
      cause: error,
      plaintext,
    });
  }
}
