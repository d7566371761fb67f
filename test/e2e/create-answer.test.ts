// Vultr's own OpenAPI document answers a user-key create with "202 Accepted" and no body; its guides say the
// answer holds the plaintext. keyrot must be right under both: a 2xx without a usable key is an answer, never a
// lost one. The key it made is deleted (nobody can ever read it), the create is never sent twice, exit 6, and
// nothing else changes, on every path that creates keys.
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, json, lines } from '../helpers/e2e.js';
import { authStatus, readJournal, requestsTo, rotationSetup } from '../helpers/consumer.js';
import { inProcess } from '../helpers/in-process.js';

const EMPTY = { method: 'POST', path: '/users/*/apikeys', action: 'empty-answer' } as const;

describe.skipIf(!HAS_KEYCHAIN)('a create answered 202 without a body (as the spec says)', () => {
  it('create: one POST, the key it made deleted, exit 6, one clear line', async () => {
    const h = await harness({ createAnswer: 'empty' });
    const r = await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'from-spec', '--json']);
    expect(r.code, r.stderr).toBe(6);
    const errors = lines(r.stderr).filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/accepted the create of "from-spec" but its answer holds no key/);
    expect(errors[0]).toMatch(/keyrot deleted that key/);
    expect(errors[0]).toMatch(/Nothing else changed/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    const err = json(r).error;
    expect(err.code).toBe('key_not_returned');
    expect(err.deletedKeyIds).toHaveLength(1);
    expect(h.sandbox.requests().filter((q) => q.method === 'POST')).toHaveLength(1);
    expect(h.keysOf('ops@example.com').map((k) => k.name)).toEqual(['ops-deploy']);
  });

  it('rotate: stops at its first step with the old key untouched and no rotation left open; a second run does the same, never exit 9', async () => {
    const s = await rotationSetup();
    s.h.sandbox.addFault({ ...EMPTY, times: 0 });
    for (const attempt of [1, 2]) {
      const r = await s.main(`rotate ${attempt}`, ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes', '--json']);
      expect(r.code, r.stderr).toBe(6);
      expect(json(r).error.message).toMatch(/keyrot deleted that key/);
      // Nothing is left to resume or roll back: the error does not suggest it.
      expect(json(r).error.hint).not.toMatch(/--resume|--abort/);
      expect(s.keys().map((k) => k.id)).toEqual([s.oldKey.id]);
      expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
      expect(await readJournal(s.h, s.user.id)).toBeNull();
    }
    expect(requestsTo(s.h, 'POST', '/users/*/apikeys')).toHaveLength(2);
    expect(await s.sc.leaks()).toEqual([]);
  });

  it('rotate --emergency: the exposed key is untouched (the new key comes first), exit 6', async () => {
    const s = await rotationSetup();
    s.h.sandbox.addFault(EMPTY);
    const r = await s.main('emergency', ['rotate', '--user', s.user.email, '--emergency', '--on-new-key', s.hook, '--yes']);
    expect(r.code, r.stderr).toBe(6);
    expect(s.keys().map((k) => k.id)).toEqual([s.oldKey.id]);
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
  });

  it('rotate --store none: the same', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    s.h.sandbox.addFault(EMPTY);
    const r = await s.run('store none', ['rotate', '--user', s.user.email, '--store', 'none', '--on-new-key', s.hook, '--no-wait', '--yes'], {
      env: { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus' },
    });
    expect(r.code, r.stderr).toBe(6);
    expect(s.keys().map((k) => k.id)).toEqual([s.oldKey.id]);
  });

  it('rotate --resume of a create whose answers were lost, answered without a key on resume: exit 6, nothing left open', async () => {
    const s = await rotationSetup();
    s.h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'status', status: 503, times: 2 });
    const first = await s.main('lost twice', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(first.code, first.stderr).toBe(6);
    expect((await readJournal(s.h, s.user.id))?.phase).toBe('create');
    s.h.sandbox.addFault(EMPTY);
    const r = await s.main('resume', ['rotate', '--user', s.user.email, '--resume', '--yes']);
    expect(r.code, r.stderr).toBe(6);
    expect(s.keys().map((k) => k.id)).toEqual([s.oldKey.id]);
    expect(await readJournal(s.h, s.user.id)).toBeNull();
  });

  it('the default sandbox still answers with the plaintext, and a rotation completes', async () => {
    const s = await rotationSetup();
    const r = await s.main('rotate', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy-v2']);
  });
});
