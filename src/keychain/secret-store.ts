// The keychain seen by the rest of keyrot: four methods, one service ("keyrot"), accounts named by
// keychainAccount(). Implementations: the OS keychain (os-store.ts) and an in-memory one (memory-store.ts).
import { KeychainError } from '../errors.js';

export const KEYCHAIN_SERVICE = 'keyrot';

// The store interface and the account naming are the engine's port (core/key-store.ts); re-exported for adapters.
export { entryName, keychainAccount, type SecretStore } from '../core/key-store.js';
import type { SecretStore } from '../core/key-store.js';
import { say, displayText } from '../ui/display-text.js';

/** The parts of a user key's account ("vultr:<user-id>:<key-id>"); null for the admin entry and anything else. */
export function parseKeyAccount(account: string): { provider: string; userId: string; keyId: string } | null {
  const parts = account.split(':');
  if (parts.length !== 3 || !parts[0] || !parts[1] || !parts[2]) return null;
  return { provider: parts[0], userId: parts[1], keyId: parts[2] };
}

/** Account where the admin key may be kept: "vultr:admin". */
export function adminAccount(provider: string): string {
  return `${provider}:admin`;
}

/** The key ids keyrot holds for a user, from the store's account names. */
export async function heldKeyIds(store: SecretStore, provider: string, userId: string): Promise<string[]> {
  const prefix = `${provider}:${userId}:`;
  return (await store.list()).filter((a) => a.startsWith(prefix)).map((a) => a.slice(prefix.length));
}

/** This process's probe entry (one account, so a store can reuse its session for it). */
export function probeAccount(): string {
  return `probe:${process.pid}`;
}

/**
 * Proves the store is writable before a key is created: write, read back and delete a probe entry, within
 * `timeoutMs` (a locked keychain may wait forever on an unlock prompt nobody sees).
 */
export async function probeWritable(store: SecretStore, timeoutMs = 10_000): Promise<void> {
  const account = probeAccount();
  const value = `probe-${Math.random().toString(36).slice(2)}`;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new KeychainError(say`The keychain did not answer within ${Math.round(timeoutMs / 1000)} s (${displayText(store.description)}).`, {
            hint: say`Unlock the keychain (it may be waiting on an unlock prompt) and try again.`,
          }),
        ),
      timeoutMs,
    );
    timer.unref();
  });
  try {
    await Promise.race([
      (async () => {
        await store.set(account, value);
        await store.delete(account);
      })(),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
