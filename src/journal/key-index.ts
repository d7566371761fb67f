// Non-secret facts about the keys keyrot created (name, creation time, expiry), one file per key under keys/.
// The keychain stays the source of truth for which plaintexts keyrot holds; this index only adds what the
// provider does not report (Vultr has no creation date). One file per key, written atomically, so concurrent
// creates never lose each other's records (a shared file rewritten by each lost entries). A keys.json left by
// older versions is still read.
import { readAll, storeOf, type StateStore } from '../state/store.js';
import { jsonText, safeName } from './state-dir.js';

export interface KeyRecord {
  provider: string;
  userId: string;
  keyId: string;
  name: string;
  createdAt: string;
  expiresAt: string | null;
  lastChars: string | null;
}

export class KeyIndex {
  readonly #root: string;

  constructor(stateDirectory: string) {
    this.#root = stateDirectory;
  }

  // Looked up at each use: the context makes the index before the store of --state-dir is registered.
  get #store(): StateStore {
    return storeOf(this.#root);
  }

  #key(provider: string, keyId: string): string {
    return `keys/${safeName(provider)}-${safeName(keyId)}.json`;
  }

  async #legacy(): Promise<unknown> {
    const found = await this.#store.read('keys.json');
    return found === null ? null : JSON.parse(found.text);
  }

  async all(): Promise<KeyRecord[]> {
    const legacy = await this.#legacy();
    const records = (await readAll(this.#store, 'keys', (n) => n.endsWith('.json'))).map((f) => f.data);
    const byKey = new Map<string, KeyRecord>();
    for (const r of [...(Array.isArray(legacy) ? legacy : []), ...records]) {
      if (r && typeof r === 'object' && typeof (r as KeyRecord).keyId === 'string') byKey.set(`${(r as KeyRecord).provider}:${(r as KeyRecord).keyId}`, r as KeyRecord);
    }
    return [...byKey.values()];
  }

  async forUser(provider: string, userId: string): Promise<KeyRecord[]> {
    return (await this.all()).filter((r) => r.provider === provider && r.userId === userId);
  }

  async add(record: KeyRecord): Promise<void> {
    await this.#store.write(this.#key(record.provider, record.keyId), jsonText(record));
  }

  async remove(provider: string, keyId: string): Promise<void> {
    await this.#store.remove(this.#key(provider, keyId));
    const legacy = await this.#legacy();
    if (!Array.isArray(legacy)) return;
    const rest = legacy.filter((r: KeyRecord) => !(r.provider === provider && r.keyId === keyId));
    if (rest.length !== legacy.length) await this.#store.write('keys.json', jsonText(rest));
  }
}
