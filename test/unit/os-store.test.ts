// The OS keychain adapter's own logic, with a stand-in for the binding: what a real Secret Service cannot be made to
// do on cue (its process ending in the middle of a call).
import { describe, expect, it } from 'vitest';
import { KeychainError } from '../../src/errors.js';
import { OsSecretStore } from '../../src/keychain/os-store.js';

const GONE = 'Platform failure: DBus error: Message recipient disconnected from message bus without replying';

/** A binding whose entries fail their first `failures` calls with `message`, then hold `secret`. */
function binding(failures: number, message: string, secret = 'S3CR3T-VALUE-0123456789') {
  const made: string[] = [];
  let calls = 0;
  class AsyncEntry {
    constructor(_service: string, account: string) {
      made.push(account);
    }
    async getPassword() {
      calls++;
      if (calls <= failures) throw new Error(message);
      return secret;
    }
  }
  return { made, calls: () => calls, module: () => ({ AsyncEntry }) as never };
}

describe('OsSecretStore', () => {
  it('a call the Secret Service dropped by going away (gnome-keyring ended and restarted) is made again on a new connection', async () => {
    const b = binding(2, GONE);
    const store = new OsSecretStore('linux', b.module);
    expect(await store.get('vultr:u:k')).toBe('S3CR3T-VALUE-0123456789');
    expect(b.calls()).toBe(3);
    // A new entry (a new connection and session) for each new try.
    expect(b.made).toEqual(['vultr:u:k', 'vultr:u:k', 'vultr:u:k']);
  });

  it('gives up after a few tries, with the usual one-line error', async () => {
    const store = new OsSecretStore('linux', binding(10, GONE).module);
    const err = await store.get('vultr:u:k').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KeychainError);
    expect((err as Error).message).toMatch(/^Could not read the Secret Service keychain: Platform failure/);
  });

  it('any other failure is not tried again (a locked keychain, a refusal)', async () => {
    const b = binding(1, 'Platform failure: the collection is locked');
    const store = new OsSecretStore('linux', b.module);
    await expect(store.get('vultr:u:k')).rejects.toBeInstanceOf(KeychainError);
    expect(b.calls()).toBe(1);
  });
});
