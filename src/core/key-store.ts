// The keychain as the engine sees it: a port. Adapters (keychain/os-store.ts, keychain/memory-store.ts) implement
// it; core/ never imports them. The account naming lives here so that the engine and every adapter name a key alike.

export interface SecretStore {
  /** 'os' for the platform keychain, 'memory' for the demo's and tests' throw-away store. */
  readonly kind: 'os' | 'memory';
  /** Where secrets go, for messages: "the Secret Service keychain", "memory (lost when keyrot exits)". */
  readonly description: string;
  /** The secret for `account`, or null when there is none. Throws KeychainError if the store cannot be read. */
  get(account: string): Promise<string | null>;
  /** Stores (or replaces) the secret and reads it back. Throws KeychainError unless the read-back matches. */
  set(account: string, secret: string): Promise<void>;
  /** Removes the entry. Idempotent: false when there was none. Throws KeychainError if it cannot. */
  delete(account: string): Promise<boolean>;
  /** Every account keyrot has under its service. Throws KeychainError if the store cannot be read. */
  list(): Promise<string[]>;
  /** `account` as the OS keychain names it (a profile's store prefixes it), for people and consumers to find. */
  label?(account: string): string;
}

/** The name under which `account` is found in the keychain behind `store`. */
export function entryName(store: SecretStore, account: string): string {
  return store.label?.(account) ?? account;
}

/** Account of the key with id `keyId` of `userId` at `provider`: "vultr:<user-id>:<key-id>". */
export function keychainAccount(provider: string, userId: string, keyId: string): string {
  return `${provider}:${userId}:${keyId}`;
}
