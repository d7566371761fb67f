import type { SecretStore } from './secret-store.js';

/**
 * A profile's view of the keychain: every account is prefixed with the profile ("staging/vultr:<user>:<key>"),
 * so the keys keyrot holds for two accounts never mix, and listing shows only this profile's entries. The
 * default profile uses the keychain unprefixed (the layout keyrot has always had).
 */
export class NamespacedSecretStore implements SecretStore {
  readonly kind: SecretStore['kind'];
  readonly description: string;
  readonly #inner: SecretStore;
  readonly #prefix: string;

  constructor(inner: SecretStore, namespace: string) {
    this.#inner = inner;
    this.#prefix = `${namespace}/`;
    this.kind = inner.kind;
    this.description = inner.description;
  }

  label(account: string): string {
    return this.#prefix + account;
  }

  get(account: string): Promise<string | null> {
    return this.#inner.get(this.#prefix + account);
  }

  set(account: string, secret: string): Promise<void> {
    return this.#inner.set(this.#prefix + account, secret);
  }

  delete(account: string): Promise<boolean> {
    return this.#inner.delete(this.#prefix + account);
  }

  async list(): Promise<string[]> {
    return (await this.#inner.list()).filter((a) => a.startsWith(this.#prefix)).map((a) => a.slice(this.#prefix.length));
  }
}
