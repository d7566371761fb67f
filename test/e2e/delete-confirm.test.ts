// A 2xx to a DELETE is not proof: behind a proxy, or a provider that answers 204 and keeps the key, the key is still
// live. keyrot says a key is gone only once the provider no longer lists it (or rejects the key), and keeps the
// keychain entry of a key that is still live, on every path that deletes: revoke, --abort, and clean-ups.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, json, keychainGet } from '../helpers/e2e.js';
import { accountOf, authStatus, rotationSetup as setup } from '../helpers/consumer.js';

const OPS = 'ops@example.com';
/** DELETE answered 204 and nothing done: what a misbehaving proxy or provider does. */
const NOOP_DELETE = { method: 'DELETE', path: '/users/*/apikeys/*', action: 'status', status: 204, times: 0 } as const;

describe.skipIf(!HAS_KEYCHAIN)('a key is gone only when the provider no longer lists it', () => {
  it('revoke: a 204 that keeps the key is exit 7 saying the key is still live; its keychain entry is kept', async () => {
    const s = await setup();
    const created = json(await s.main('create', ['create', '--user', OPS, '--name', 'exposed', '--json']));
    s.h.sandbox.addFault(NOOP_DELETE);
    const r = await s.main('revoke', ['revoke', '--user', OPS, '--key', 'exposed', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(7);
    expect(json(r).error.message).toMatch(/still lists it after 3 looks over 3 s( \(and the key itself was not rejected\))?: the key is still live/);
    expect(r.stdout).not.toMatch(/Revoked/);
    expect(s.keys().some((k) => k.id === created.id)).toBe(true);
    expect(await keychainGet(accountOf(s.user.id, created.id))).not.toBeNull();
    expect(await s.sc.leaks()).toEqual([]);
  });

  it('revoke: without the fault the same key is revoked, listed no more, and its entry removed', async () => {
    const s = await setup();
    const created = json(await s.main('create', ['create', '--user', OPS, '--name', 'exposed', '--json']));
    const r = await s.main('revoke', ['revoke', '--user', OPS, '--key', 'exposed', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ outcome: 'deleted', keychainEntryRemoved: true });
    expect(s.keys().some((k) => k.id === created.id)).toBe(false);
  });

  it('rotate --abort: a 204 that keeps the new key stops the roll-back; the new key stays held and the rotation open', async () => {
    const s = await setup();
    await writeFile(join(s.dir, 'hook-fail'), '');
    expect((await s.main('failing', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', '--yes'])).code).toBe(12);
    const newKey = s.keys().find((k) => k.name === 'ops-deploy-v2')!;
    s.h.sandbox.addFault(NOOP_DELETE);
    const r = await s.main('abort', ['rotate', '--user', OPS, '--abort', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(7);
    expect(json(r).error.message).toMatch(/still live/);
    expect(await authStatus(s.h, newKey.plaintext)).toBe(200);
    expect(await keychainGet(accountOf(s.user.id, newKey.id))).toBe(newKey.plaintext);
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
    expect(await s.sc.leaks()).toEqual([]);
  });
});
