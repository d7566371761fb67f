// Several accounts: each profile has its API URL, its admin key entry, its keychain entries and its journals,
// and two profiles pointed at two sandboxes never mix.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, harness, json, keychainAccounts, keychainGet } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length)
    await cleanups
      .pop()?.()
      .catch(() => undefined);
});

async function configDir(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keyrot-config-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'keyrot'));
  await writeFile(join(dir, 'keyrot', 'config'), text);
  return dir;
}

describe.skipIf(!HAS_KEYCHAIN)('profiles', () => {
  it('two profiles against two sandboxes never mix: admin keys, held keys and journals stay per profile', async () => {
    const h = await harness(); // sandbox A, and the environment the tests run keyrot with
    const b: Sandbox = await startSandbox({ port: 0 });
    cleanups.push(() => b.close());
    const config = await configDir(`# two accounts\n[alpha]\napi-url = ${h.sandbox.url}\n\n[beta]\napi-url = ${b.url}\n`);
    const env = { XDG_CONFIG_HOME: config, VULTR_API_URL: undefined, VULTR_API_KEY: undefined };
    const as = (profile: string) => ({ env: { ...env, KEYROT_PROFILE: profile } });
    try {
      const loggedIn = await inProcess(h, ['login', '--with-key-stdin', '--json'], { ...as('alpha'), stdin: `${h.sandbox.adminKey}\n` });
      expect(loggedIn.code, loggedIn.stderr).toBe(0);
      // Every account keyrot names is the one the keychain really has: another profile's is never named.
      expect(json(loggedIn).keychain.account).toBe('alpha/vultr:admin');
      expect(json(await inProcess(h, ['whoami', '--json'], as('alpha'))).where).toMatch(/account "alpha\/vultr:admin"/);
      expect((await inProcess(h, ['--profile', 'beta', 'login', '--with-key-stdin'], { env, stdin: `${b.adminKey}\n` })).code).toBe(0);
      expect(await keychainGet('alpha/vultr:admin')).toBe(h.sandbox.adminKey);
      expect(await keychainGet('beta/vultr:admin')).toBe(b.adminKey);

      const idsOf = (s: Sandbox) =>
        s
          .snapshot()
          .users.map((u) => u.id)
          .sort();
      const listed = async (profile: string) =>
        json(await inProcess(h, ['list-users', '--json'], as(profile)))
          .map((u: { id: string }) => u.id)
          .sort();
      expect(await listed('alpha')).toEqual(idsOf(h.sandbox));
      expect(await listed('beta')).toEqual(idsOf(b));

      // A rotation paused in alpha: its journal and keychain entries are alpha's alone.
      const paused = await inProcess(h, ['rotate', '--user', 'ops@example.com', '--no-wait', '--keep-old', '--yes', '--json'], as('alpha'));
      expect(paused.code, paused.stderr).toBe(0);
      const newKey = json(paused).newKey;
      const opsA = h.sandbox.snapshot().users.find((u) => u.email === 'ops@example.com')!;
      expect(await keychainGet(`alpha/vultr:${opsA.id}:${newKey.id}`)).not.toBeNull();
      const made = json(await inProcess(h, ['create', '--user', 'ops@example.com', '--name', 'named-right', '--json', '--force'], as('alpha')));
      expect(made.keychain.account).toBe(`alpha/vultr:${opsA.id}:${made.id}`);
      expect(await keychainGet(made.keychain.account)).not.toBeNull();
      expect(await keychainGet(`vultr:${opsA.id}:${newKey.id}`)).toBeNull();
      const resumeInBeta = await inProcess(h, ['rotate', '--user', 'ops@example.com', '--resume', '--yes'], as('beta'));
      expect(resumeInBeta.code).toBe(5);
      // alpha's user id means nothing in beta's account: it is looked up with beta's key, at beta's URL.
      expect((await inProcess(h, ['list-keys', '--user', opsA.id], as('beta'))).code).toBe(5);
      const betaKeys = json(await inProcess(h, ['list-keys', '--user', 'ops@example.com', '--json'], as('beta')));
      expect(betaKeys.map((k: { held: boolean }) => k.held)).toEqual([false]);
      expect((await inProcess(h, ['rotate', '--user', 'ops@example.com', '--resume', '--yes'], as('alpha'))).code).toBe(0);

      // Precedence: the environment beats the profile, a flag beats both.
      const viaEnv = await inProcess(h, ['whoami', '--json'], { env: { ...env, KEYROT_PROFILE: 'beta', VULTR_API_URL: h.sandbox.url, VULTR_API_KEY: h.sandbox.adminKey } });
      expect(json(viaEnv)).toMatchObject({ source: 'env', email: 'admin@example.com' });
      expect(h.sandbox.requests().some((q) => q.path === '/v2/account' && q.userEmail === 'admin@example.com')).toBe(true);
      const viaFlag = await inProcess(h, ['--profile', 'alpha', '--api-url', b.url, 'whoami', '--json'], { env: { ...env, VULTR_API_KEY: b.adminKey } });
      expect(viaFlag.code, viaFlag.stderr).toBe(0);

      const profiles = json(await inProcess(h, ['profiles', '--json'], as('beta')));
      expect(profiles.profiles.map((p: { name: string; current: boolean }) => [p.name, p.current])).toEqual([
        ['default', false],
        ['alpha', false],
        ['beta', true],
      ]);
    } finally {
      for (const profile of ['alpha', 'beta']) await inProcess(h, ['logout', '--yes'], as(profile));
      for (const account of await keychainAccounts())
        if (account.startsWith('alpha/') || account.startsWith('beta/'))
          await import('@napi-rs/keyring').then((k) => new k.AsyncEntry('keyrot', account, { linux: { store: 'secret-service' } }).deleteCredential());
    }
  });

  it('a broken profiles file or an unknown profile: exit 2, one line naming the file and line, no request', async () => {
    const h = await harness();
    const config = await configDir('[ok]\napi-url = https://api.vultr.com/v2\n[bad]\napi_url = https://x\n');
    const r = await inProcess(h, ['list-users'], { env: { XDG_CONFIG_HOME: config } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${join(config, 'keyrot', 'config')}:4: unknown setting "api_url"`);
    const good = await configDir('[ok]\napi-url = http://example.com/v2\n');
    const unknown = await inProcess(h, ['list-users', '--profile', 'nope'], { env: { XDG_CONFIG_HOME: good } });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/No profile "nope" in .*Profiles there: ok/);
    const insecure = await inProcess(h, ['list-users', '--profile', 'ok'], { env: { XDG_CONFIG_HOME: good, VULTR_API_URL: undefined } });
    expect(insecure.code).toBe(2);
    expect(insecure.stderr).toMatch(/config:2: \[ok\] api-url: plain http:\/\/ is refused/);
    expect(h.sandbox.requests()).toEqual([]);
  });
});
