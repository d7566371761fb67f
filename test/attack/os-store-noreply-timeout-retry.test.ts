// GONE_AWAY also matches libdbus's own reply *timeout* ("org.freedesktop.DBus.Error.NoReply: Did not receive a
// reply … the reply timeout expired"), which a live Secret Service produces while it waits on an unanswered unlock
// prompt or a KeePassXC access confirmation. The daemon did not go away: retrying opens a new session (another
// prompt) and waits the whole D-Bus timeout (25 s) again, four times: about 100 s for one write of a new, live key.
import { describe, expect, it } from 'vitest';
import { KeychainError } from '../../src/errors.js';
import { OsSecretStore } from '../../src/keychain/os-store.js';

const TIMED_OUT =
  'Platform failure: DBus error: org.freedesktop.DBus.Error.NoReply: Did not receive a reply. Possible causes include: the remote application did not send a reply, the message bus security policy blocked the reply, the reply timeout expired, or the network connection was broken.';

function binding() {
  let calls = 0;
  const made: string[] = [];
  class AsyncEntry {
    constructor(_service: string, account: string) {
      made.push(account);
    }
    async setPassword() {
      calls++;
      throw new Error(TIMED_OUT);
    }
  }
  return { calls: () => calls, made, module: () => ({ AsyncEntry }) as never };
}

describe('Attack: OsSecretStore retries a D-Bus reply timeout as if the daemon had died', () => {
  it('Attack: a write that timed out waiting on a live keychain (unlock prompt) is not made again on new sessions', async () => {
    const b = binding();
    const store = new OsSecretStore('linux', b.module);
    await expect(store.set('vultr:u:k', 'S3CR3T-VALUE-0123456789')).rejects.toBeInstanceOf(KeychainError);
    // Only the daemon disappearing ("recipient disconnected") calls for a new connection.
    expect(b.made).toHaveLength(1);
    expect(b.calls()).toBe(1);
  });
});
