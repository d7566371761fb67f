// What Vultr's OpenAPI document leaves open, handled both ways, each with the clearest honest message.
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, json } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

const UNKNOWN = '0c0ffee0-0000-4000-8000-000000000000';

describe.skipIf(!HAS_KEYCHAIN)('spec variants', () => {
  it.each([404, 400] as const)('an unknown user or key id answered %i: exit 5 saying so, nothing changed', async (notFound) => {
    const h = await harness({ dialect: { notFound } });
    const user = await inProcess(h, ['list-keys', '--user', UNKNOWN, '--json']);
    expect(user.code, user.stderr).toBe(5);
    const key = await inProcess(h, ['revoke', '--user', 'ops@example.com', '--key', UNKNOWN, '--yes']);
    expect(key.code, key.stderr).toBe(5);
    expect(h.sandbox.requests().filter((q) => q.method === 'DELETE')).toEqual([]);
    // A delete whose answer was lost, retried, meets "no such key" either way: done, not an error.
    h.sandbox.addFault({ method: 'DELETE', path: '/users/*/apikeys/*', action: 'drop-after' });
    const revoked = await inProcess(h, ['revoke', '--user', 'ops@example.com', '--key', 'ops-deploy', '--yes', '--json']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(json(revoked).outcome).toBe('already-gone');
  });

  it.each([403, 401] as const)('a key without manage_users answered %i: exit 3, the message naming the permission (not a bad key)', async (forbidden) => {
    const h = await harness({ dialect: { forbidden } });
    const viewer = h.keyOf('viewer@example.com');
    for (const args of [['list-users'], ['rotate', '--user', 'ops@example.com', '--no-wait', '--yes']]) {
      const r = await inProcess(h, args, { env: { VULTR_API_KEY: viewer } });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/manage_users/);
    }
    // A really bad key is exit 3 too (the same next action: fix the admin key), and says it was rejected instead.
    const bad = await inProcess(h, ['list-users'], { env: { VULTR_API_KEY: 'NOPE7NOPE7NOPE7NOPE7NOPE7NOPE7NOPE7X' } });
    expect(bad.code).toBe(3);
    expect(bad.stderr).not.toMatch(/manage_users/);
  });

  it.each([false, true])('key lists with meta=%s: listing and a rotation work', async (keyListMeta) => {
    const h = await harness({ dialect: { keyListMeta } });
    expect(json(await inProcess(h, ['list-keys', '--user', 'ci@example.com', '--json'])).map((k: { name: string }) => k.name)).toEqual(['ci-runner', 'ci-backup']);
    const r = await inProcess(h, ['rotate', '--user', 'ops@example.com', '--no-wait', '--yes']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('user status as a string or a boolean, and a non-expiring key\'s date_expire absent, "" or null: all read', async () => {
    const h = await harness({ users: 8 });
    expect((await inProcess(h, ['list-users', '--json'])).code).toBe(0);
    // Three creates cycle through the three no-expiry forms the sandbox serves.
    for (const name of ['n1', 'n2', 'n3']) expect((await inProcess(h, ['create', '--user', 'ops@example.com', '--name', name])).code).toBe(0);
    const keys = json(await inProcess(h, ['list-keys', '--user', 'ops@example.com', '--json']));
    expect(keys.map((k: { expiresAt: string | null }) => k.expiresAt)).toEqual([null, null, null, null]);
  });
});
