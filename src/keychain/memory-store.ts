import type { SecretStore } from './secret-store.js';

/** A store that lives and dies with the process: for the demo (when no OS keychain exists) and tests. */
export class MemorySecretStore implements SecretStore {
  readonly kind = 'memory' as const;
  readonly description = 'an in-memory store (lost when keyrot exits)';
  readonly #entries = new Map<string, string>();

  async get(account: string): Promise<string | null> {
    return this.#entries.get(account) ?? null;
  }

  async set(account: string, secret: string): Promise<void> {
    this.#entries.set(account, secret);
  }

  async delete(account: string): Promise<boolean> {
    return this.#entries.delete(account);
  }

  async list(): Promise<string[]> {
    return [...this.#entries.keys()];
  }
}
