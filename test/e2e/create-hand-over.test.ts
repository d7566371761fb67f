// keyrot create on a runner without a keychain: --store none with --on-new-key, the same path as rotate. The key
// goes to the hook's stdin and nowhere else; if the hook fails (or keyrot is cancelled) the key is deleted.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { HAS_KEYCHAIN, json, lines } from '../helpers/e2e.js';
import { accountOf, authStatus, rotationSetup } from '../helpers/consumer.js';

const NO_KEYCHAIN = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus' };
const posts = (s: Awaited<ReturnType<typeof rotationSetup>>) => s.h.sandbox.requests().filter((q) => q.method === 'POST');

describe.skipIf(!HAS_KEYCHAIN)('create without a keychain', () => {
  it('create says so before any change, and suggests --store none --on-new-key, which create takes', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const r = await s.run('no keychain', ['create', '--user', s.user.email, '--name', 'ci-key'], { env: NO_KEYCHAIN });
    expect(r.code).toBe(ExitCode.keychain);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/--store none --on-new-key CMD hands the new key to CMD alone/);
    expect(posts(s)).toEqual([]);
  });

  it('--store none --on-new-key: the key reaches the hook on stdin and nowhere else', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const r = await s.run('store none', ['create', '--user', s.user.email, '--name', 'ci-key', '--store', 'none', '--on-new-key', s.hook, '--json'], { env: NO_KEYCHAIN });
    expect(r.code, r.stderr).toBe(0);
    const created = s.keys().find((k) => k.name === 'ci-key')!;
    expect((await readFile(s.keyFile, 'utf8')).trim()).toBe(created.plaintext);
    expect(await authStatus(s.h, created.plaintext)).toBe(200);
    expect(json(r)).toMatchObject({ id: created.id, name: 'ci-key', keychain: null, handedOver: true });
    // The hook knew which key it got.
    const hookEnv = await readFile(join(s.dir, 'hook-env.txt'), 'utf8');
    expect(hookEnv).toContain(`KEYROT_KEY_ID=${created.id}`);
    expect(hookEnv).toContain(`KEYROT_USER_EMAIL=${s.user.email}`);
    expect(hookEnv).not.toContain(s.h.sandbox.adminKey);
    // No keychain entry, no secret in any output or state file, and nothing left pending for the next create.
    expect(await s.held()).toEqual([]);
    expect(await s.sc.leaks()).toEqual([]);
    const again = await s.run('next create', ['create', '--user', s.user.email, '--name', 'ci-key-2', '--store', 'none', '--on-new-key', s.hook], { env: NO_KEYCHAIN });
    expect(again.code, again.stderr).toBe(0);
    expect(
      s
        .keys()
        .map((k) => k.name)
        .sort(),
    ).toEqual(['ci-key', 'ci-key-2', 'ops-deploy']);
  });

  it('a failing hook: the new key is deleted, exit 12, the error says so', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    await writeFile(join(s.dir, 'hook-fail'), '');
    const r = await s.run('hook fails', ['create', '--user', s.user.email, '--name', 'ci-key', '--store', 'none', '--on-new-key', s.hook], { env: NO_KEYCHAIN });
    expect(r.code).toBe(ExitCode.hookFailed);
    expect(r.stderr).toMatch(/error: --on-new-key .*consumer refused the key.*keyrot deleted the new key ci-key \(/);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy']);
    expect(posts(s)).toHaveLength(1);
    expect(await s.sc.leaks()).toEqual([]);
  });

  it('with the keychain too: a failing hook deletes the key and its keychain entry', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    await writeFile(join(s.dir, 'hook-fail'), '');
    const r = await s.main('hook fails', ['create', '--user', s.user.email, '--name', 'ci-key', '--on-new-key', s.hook, '--json']);
    expect(r.code).toBe(ExitCode.hookFailed);
    expect(json(r).error).toMatchObject({ code: 'hook_failed', hint: expect.stringMatching(/keyrot deleted the new key ci-key/) });
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy']);
    expect(await s.held()).toEqual([]);
  });

  it('with the keychain and a working hook: stored and handed over', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const r = await s.main('both', ['create', '--user', s.user.email, '--name', 'ci-key', '--on-new-key', s.hook, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const created = s.keys().find((k) => k.name === 'ci-key')!;
    expect(json(r)).toMatchObject({ handedOver: true, keychain: { account: accountOf(s.user.id, created.id) } });
    expect((await readFile(s.keyFile, 'utf8')).trim()).toBe(created.plaintext);
    expect(await s.held()).toEqual([accountOf(s.user.id, created.id)]);
  });

  it.each([
    [['--store', 'none'], /--on-new-key or --to is then the only way to hand it on, and one is required/],
    [['--store', 'none', '--on-new-key', 'cat', '--reveal'], /cannot be combined with --reveal/],
    [['--on-new-key', 'cat', '--hook-timeout', '0s'], /--hook-timeout must be greater than zero/],
  ])('refused before any call: %j', async (flags, message) => {
    const s = await rotationSetup({ holdOldKey: false });
    const r = await s.run('refused', ['create', '--user', s.user.email, '--name', 'x', ...flags], { env: NO_KEYCHAIN });
    expect(r.code).toBe(ExitCode.usage);
    expect(r.stderr).toMatch(message);
    expect(s.h.sandbox.requests()).toEqual([]);
  });

  it('cancelled while the hook runs (SIGTERM): the key is deleted on the clean-up connection', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    await writeFile(join(s.dir, 'hook-hang'), '');
    const child = s.h.spawn(['create', '--user', s.user.email, '--name', 'ci-key', '--store', 'none', '--on-new-key', s.hook], { env: NO_KEYCHAIN });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // The hook is running once it wrote its pid.
    for (let i = 0; i < 150 && !(await readFile(join(s.dir, 'hook.pid'), 'utf8').catch(() => '')); i++) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(ExitCode.cancelled);
    expect(stderr).toMatch(/keyrot deleted the new key ci-key/);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy']);
  });
});
