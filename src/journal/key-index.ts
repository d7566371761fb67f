// Non-secret facts about the keys keyrot created (name, creation time, expiry), one file per key under keys/.
// The keychain stays the source of truth for which plaintexts keyrot holds; this index only adds what the
// provider does not report (Vultr has no creation date). One file per key, written atomically, so concurrent
// creates never lose each other's records (a shared file rewritten by each lost entries). A keys.json left by
// older versions is still read.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readJson, removeFile, safeName, writeJsonAtomic } from './state-dir.js';

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
  readonly #dir: string;
  readonly #legacy: string;

  constructor(stateDirectory: string) {
    this.#dir = join(stateDirectory, 'keys');
    this.#legacy = join(stateDirectory, 'keys.json');
  }

  #path(provider: string, keyId: string): string {
    return join(this.#dir, `${safeName(provider)}-${safeName(keyId)}.json`);
  }

  async all(): Promise<KeyRecord[]> {
    const legacy = await readJson(this.#legacy);
    const names = await readdir(this.#dir).catch(() => [] as string[]);
    const records = await Promise.all(names.filter((n) => n.endsWith('.json')).map((n) => readJson(join(this.#dir, n)).catch(() => null)));
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
    await writeJsonAtomic(this.#path(record.provider, record.keyId), record);
  }

  async remove(provider: string, keyId: string): Promise<void> {
    await removeFile(this.#path(provider, keyId));
    const legacy = await readJson(this.#legacy);
    if (!Array.isArray(legacy)) return;
    const rest = legacy.filter((r: KeyRecord) => !(r.provider === provider && r.keyId === keyId));
    if (rest.length !== legacy.length) await writeJsonAtomic(this.#legacy, rest);
  }
}
