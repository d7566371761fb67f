// A delete the Secret Service carried out before its process ended (the reply lost: "Message recipient
// disconnected") is made again on a new connection; that second delete finds nothing and answers false. The
// caller is told nothing was there: `keyrot logout` renders "No admin key is stored: nothing to do" right after
// deleting the stored admin key, and `revoke` reports keychainEntryRemoved: false for an entry it removed.
import { describe, expect, it } from 'vitest';
import { OsSecretStore } from '../../src/keychain/os-store.js';

const GONE = 'Platform failure: DBus error: Message recipient disconnected from message bus without replying';

/** One shared keychain; the first delete lands, then the daemon dies before replying. */
function binding() {
  const held = new Map<string, string>([['vultr:admin', 'ADMIN-SECRET-0123456789']]);
  let deletes = 0;
  class AsyncEntry {
    readonly #account: string;
    constructor(_service: string, account: string) {
      this.#account = account;
    }
    async getPassword() {
      return held.get(this.#account) ?? null;
    }
    async deleteCredential() {
      deletes++;
      const had = held.delete(this.#account);
      if (deletes === 1) throw new Error(GONE);
      return had;
    }
  }
  return { held, deletes: () => deletes, module: () => ({ AsyncEntry }) as never };
}

describe('Attack: OsSecretStore retry of a delete that already landed', () => {
  it('Attack: a delete that removed the entry before the daemon died still reports that it removed it', async () => {
    const b = binding();
    const store = new OsSecretStore('linux', b.module);
    expect(await store.get('vultr:admin')).toBe('ADMIN-SECRET-0123456789');
    const removed = await store.delete('vultr:admin');
    expect(b.held.has('vultr:admin')).toBe(false);
    expect(b.deletes()).toBe(2);
    // This call removed the entry: the caller must not be told there was nothing to remove.
    expect(removed).toBe(true);
  });
});
