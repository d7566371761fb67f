// keyrot's own credential: login proves a key before it replaces anything, whoami says where the key comes from,
// logout removes only the admin entry.
import { afterEach, describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, json, keychainGet } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';
import { HAS_TMUX, startTerminal, type Terminal } from '../helpers/tmux.js';

const terminals: Terminal[] = [];
afterEach(() => {
  while (terminals.length) terminals.pop()?.kill();
});

const ADMIN_ENTRY = 'vultr:admin';

describe.skipIf(!HAS_KEYCHAIN)('keyrot login, whoami, logout', () => {
  it('a good key is proven, stored, then used by every command; whoami names its source; logout removes only it', async () => {
    const h = await harness();
    const noEnv = { VULTR_API_KEY: undefined };
    try {
      const login = await inProcess(h, ['login', '--with-key-stdin', '--json'], { env: noEnv, stdin: `${h.sandbox.adminKey}\n` });
      expect(login.code, login.stderr).toBe(0);
      expect(json(login)).toMatchObject({ email: 'admin@example.com', canManageUsers: true, keychain: { account: ADMIN_ENTRY } });
      expect(login.stdout + login.stderr).not.toContain(h.sandbox.adminKey);
      expect(await keychainGet(ADMIN_ENTRY)).toBe(h.sandbox.adminKey);

      const users = await inProcess(h, ['list-users', '--json'], { env: noEnv });
      expect(users.code, users.stderr).toBe(0);
      const who = await inProcess(h, ['whoami', '--json'], { env: noEnv });
      expect(who.code, who.stderr).toBe(0);
      expect(json(who)).toMatchObject({ source: 'keychain', email: 'admin@example.com', canManageUsers: true, maskedKey: `****${h.sandbox.adminKey.slice(-5)}`, expiresAt: null });
      expect(who.stdout).not.toContain(h.sandbox.adminKey);
      const fromEnv = await inProcess(h, ['whoami', '--json']);
      expect(json(fromEnv)).toMatchObject({ source: 'env', where: 'VULTR_API_KEY' });

      // A bad key (401) replaces nothing: exit 3, the stored key stays.
      const bad = await inProcess(h, ['login', '--with-key-stdin'], { env: noEnv, stdin: 'NOT-A-REAL-KEY-AAAAAAAAAAAAAAAAAAAAAAA\n' });
      expect(bad.code, bad.stderr).toBe(3);
      expect(await keychainGet(ADMIN_ENTRY)).toBe(h.sandbox.adminKey);

      // A key that authenticates but may not manage users (403 on user endpoints): refused without --force.
      const viewer = h.keyOf('viewer@example.com');
      const weak = await inProcess(h, ['login', '--with-key-stdin'], { env: noEnv, stdin: `${viewer}\n` });
      expect(weak.code, weak.stderr).toBe(3);
      expect(weak.stderr).toMatch(/lacks manage_users/);
      expect(await keychainGet(ADMIN_ENTRY)).toBe(h.sandbox.adminKey);
      const forced = await inProcess(h, ['login', '--with-key-stdin', '--force'], { env: noEnv, stdin: `${viewer}\n` });
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stderr).toMatch(/warning: .*Stored anyway/);
      expect(await keychainGet(ADMIN_ENTRY)).toBe(viewer);
      expect(forced.stdout + forced.stderr).not.toContain(viewer);

      const refused = await inProcess(h, ['logout'], { env: noEnv });
      expect(refused.code).toBe(2);
      expect(await keychainGet(ADMIN_ENTRY)).toBe(viewer);
      const out = await inProcess(h, ['logout', '--yes', '--json'], { env: noEnv });
      expect(out.code, out.stderr).toBe(0);
      expect(json(out)).toEqual({ account: ADMIN_ENTRY, removed: true });
      expect(await keychainGet(ADMIN_ENTRY)).toBeNull();
    } finally {
      await inProcess(h, ['logout', '--yes']);
    }
  });

  it('an empty stdin is bad input: exit 2, nothing stored, no request', async () => {
    const h = await harness();
    const r = await inProcess(h, ['login'], { env: { VULTR_API_KEY: undefined }, stdin: '' });
    expect(r.code, r.stderr).toBe(2);
    expect(h.sandbox.requests()).toEqual([]);
  });

  it.skipIf(!HAS_TMUX)('in a terminal the key is typed at a hidden prompt: never echoed', async () => {
    const h = await harness();
    const { CI: _ci, VULTR_API_KEY: _key, ...env } = h.env;
    const t = startTerminal(['login'], env, h.stateDir);
    terminals.push(t);
    try {
      await t.waitFor(/admin API key \(input hidden\)/);
      t.send(h.sandbox.adminKey, true);
      t.send('Enter');
      const screen = await t.waitFor(/KEYROT-EXIT=\d+/);
      expect(t.exitCode(), screen).toBe(0);
      expect(screen).toMatch(/Logged in as admin@example\.com/);
      expect(screen).not.toContain(h.sandbox.adminKey);
      expect(await keychainGet(ADMIN_ENTRY)).toBe(h.sandbox.adminKey);
    } finally {
      await inProcess(h, ['logout', '--yes']);
    }
  });

  it.skipIf(!HAS_TMUX)('a key typed before the hidden prompt is up (echoed by the terminal) is never used: exit 2, nothing stored', async () => {
    const h = await harness();
    const { CI: _ci, VULTR_API_KEY: _key, ...env } = h.env;
    const t = startTerminal(['login'], env, h.stateDir);
    terminals.push(t);
    // At once: keyrot has not started yet, the terminal is in its ordinary echoing mode.
    t.send(h.sandbox.adminKey, true);
    t.send('Enter');
    const screen = await t.waitFor(/KEYROT-EXIT=\d+/);
    expect(t.exitCode(), screen).toBe(2);
    expect(screen).toMatch(/before the hidden prompt was up[^]*not used/);
    expect(await keychainGet(ADMIN_ENTRY)).toBeNull();
  });
});
