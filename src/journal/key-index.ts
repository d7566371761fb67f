// Non-secret facts about the keys keyrot created (name, creation time, expiry), keyed by keychain account.
// The keychain stays the source of truth for which plaintexts keyrot holds; this index only adds what the
// provider does not report (Vultr has no creation date).
import { join } from 'node:path';
import { readJson, writeJsonAtomic } from './state-dir.js';

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
  readonly #path: string;

  constructor(stateDirectory: string) {
    this.#path = join(stateDirectory, 'keys.json');
  }

  async all(): Promise<KeyRecord[]> {
    const data = await readJson(this.#path);
    return Array.isArray(data) ? (data as KeyRecord[]) : [];
  }

  async forUser(provider: string, userId: string): Promise<KeyRecord[]> {
    return (await this.all()).filter((r) => r.provider === provider && r.userId === userId);
  }

  async add(record: KeyRecord): Promise<void> {
    const rest = (await this.all()).filter((r) => !(r.provider === record.provider && r.keyId === record.keyId));
    await writeJsonAtomic(this.#path, [...rest, record]);
  }

  async remove(provider: string, keyId: string): Promise<void> {
    const all = await this.all();
    const rest = all.filter((r) => !(r.provider === provider && r.keyId === keyId));
    if (rest.length !== all.length) await writeJsonAtomic(this.#path, rest);
  }
}
