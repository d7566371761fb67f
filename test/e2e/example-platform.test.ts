// keyrot's example service-account platform through a declarative definition the user brings (--provider-file: the built-in example
// definition written to a file), against the sandbox's example API and the real keychain: keys sent in X-Api-Key,
// per-key scopes copied to the new key, the exact per-key "Last used" wait, an expires_at moved for --keep-old 7d,
// issuing refused to operators (403), and kill -9 at every step.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLE } from '../../src/providers/rest/definitions.js';
import { fileProviderId } from '../../src/providers/registry.js';
import { HAS_KEYCHAIN, json, keychainGet } from '../helpers/e2e.js';
import { keychainDelete, keychainSet } from '../helpers/consumer.js';
import { atPhase, expectOnly, killAt, platformSetup, type KillPoint, type PlatformSetup } from '../helpers/platform.js';

const NEW = 'deploy-bot-v2';
/** A provider file's keychain entries and journals carry its own identity (its id and base URL), never a built-in's. */
// The file's baseUrl is overridden by EXAMPLE_API_URL (the sandbox): its identity follows that URL.
const FILE = { providerId: (env: Record<string, string>) => fileProviderId({ id: EXAMPLE.id, baseUrl: env['EXAMPLE_API_URL']! }) };
const SCOPES = ['alerts:read', 'recordings:read'];
const FAST = ['--usage-refresh', '1s', '--poll-interval', '200ms', '--wait-timeout', '20s'];

/** The user's own definition file (a copy of the built-in one, as a user would start from the README's example). */
async function definitionFile(s: PlatformSetup, change: (def: any) => void = () => undefined): Promise<string> {
  const def = structuredClone(EXAMPLE) as any;
  change(def);
  const path = join(s.dir, 'example.json');
  await writeFile(path, JSON.stringify(def, null, 2));
  return path;
}

/** keyrot with the definition file instead of --provider (the helper's --provider example is overridden). */
function withFile(file: string, args: string[]): string[] {
  return ['--provider-file', file, ...args];
}

/** Only the new key, with the old key's scopes, held and working; the old one rejected. */
async function expectRotated(s: PlatformSetup): Promise<void> {
  expect((await expectOnly(s, NEW)).scopes).toEqual(SCOPES);
}

describe.skipIf(!HAS_KEYCHAIN)('keyrot --provider-file (the example service-account platform)', () => {
  it("rotates with the user's definition: scopes copied, exact per-key wait, X-Api-Key; the consumer never sees a 401", async () => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s);
    const consumer = s.consumer();
    const r = await s.run(withFile(file, ['rotate', '--user', 'deploy-bot', '--on-new-key', s.hook, ...FAST, '--yes', '--json']), { env: {} });
    expect(r.code, r.stderr).toBe(0);
    expect((await consumer.stop()).byStatus[401] ?? 0).toBe(0);
    const out = json(r);
    expect(out.steps.find((st: any) => st.phase === 'verify-new').detail).toBe('scopes alerts:read recordings:read as deploy-bot');
    expect(out.steps.find((st: any) => st.phase === 'wait').detail).toMatch(/deploy-bot-v2 used at .*; deploy-bot unused for/);
    await expectRotated(s);
  });

  it("--keep-old 7d moves the old key's expires_at 7 days out (the rotation guide's scheduled rotation) and pauses; --resume revokes it", async () => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s);
    const before = Date.now();
    const r = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--on-new-key', s.hook, '--no-wait', '--keep-old', '7d', '--yes', '--json']));
    expect(r.code, r.stderr).toBe(0);
    const old = s.keys().find((k) => k.name === 'deploy-bot')!;
    const expires = Date.parse(old.expiresAt!);
    expect(expires - before).toBeGreaterThanOrEqual(7 * 86_400_000 - 1_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(7 * 86_400_000 + 1_000);
    expect(json(r).status).toBe('paused');
    expect(json(r).steps.find((st: any) => st.phase === 'wait').detail).toMatch(/--no-wait; deploy-bot now expires at /);
    expect(s.sandbox.requests().filter((q) => q.method === 'PATCH')).toHaveLength(1);
    const resumed = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--resume', '--yes']));
    expect(resumed.code, resumed.stderr).toBe(0);
    await expectRotated(s);
  });

  it('--keep-old 7d only ever brings an expiry closer: an old key that expires in an hour keeps its own expiry', async () => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s);
    const soon = new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000).toISOString();
    const patched = await fetch(`${s.sandbox.url}/service-accounts/${s.account.id}/keys/${s.oldKey.id}`, {
      method: 'PATCH',
      headers: { 'X-Api-Key': s.sandbox.adminKey, 'content-type': 'application/json' },
      body: JSON.stringify({ expires_at: soon }),
    });
    expect(patched.status).toBeLessThan(300);
    const r = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--on-new-key', s.hook, '--no-wait', '--keep-old', '7d', '--yes', '--json']));
    expect(r.code, r.stderr).toBe(0);
    expect(Date.parse(s.keys().find((k) => k.name === 'deploy-bot')!.expiresAt!)).toBe(Date.parse(soon));
    expect(json(r).steps.find((st: any) => st.phase === 'wait').detail).toMatch(/deploy-bot keeps its own expiry, .*, sooner than the grace period/);
    expect(s.sandbox.requests().filter((q) => q.method === 'PATCH')).toHaveLength(1);
  });

  it('--keep-old 7d, then --abort: the old key gets its own expiry back (it never expired), and stays the only key', async () => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s);
    expect(s.keys().find((k) => k.name === 'deploy-bot')!.expiresAt).toBeNull();
    const r = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--on-new-key', s.hook, '--no-wait', '--keep-old', '7d', '--yes']));
    expect(r.code, r.stderr).toBe(0);
    expect(s.keys().find((k) => k.name === 'deploy-bot')!.expiresAt).not.toBeNull();
    const aborted = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--abort', '--yes']));
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(aborted.stderr).toMatch(/--keep-old had moved the old key's expiry: deploy-bot never expires again\./);
    expect(s.keys().map((k) => [k.name, k.expiresAt])).toEqual([['deploy-bot', null]]);
  });

  it('--keep-old past its end: the old key has lapsed, so --abort is refused (it would delete the only working key) and status offers none', async () => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s);
    const r = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--on-new-key', s.hook, '--no-wait', '--keep-old', '2s', '--yes']));
    expect(r.code, r.stderr).toBe(0);
    await new Promise((done) => setTimeout(done, 2_500));
    expect(await s.status(s.oldKey.plaintext)).toBe(401);
    const status = await s.main(withFile(file, ['status']));
    expect(status.stdout).toMatch(/the grace period is over and deploy-bot has lapsed/);
    expect(status.stdout).not.toMatch(/--abort/);
    const aborted = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--abort', '--yes']));
    expect(aborted.code).toBe(2);
    expect(aborted.stderr).toMatch(/The old key deploy-bot lapsed at .* rolling back would delete deploy-bot-v2, the only key that still works/);
    expect(await s.status(s.oldKey.plaintext)).toBe(401);
    expect(
      s
        .keys()
        .map((k) => k.name)
        .sort(),
    ).toEqual(['deploy-bot', 'deploy-bot-v2']);
    const finished = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--resume', '--yes']));
    expect(finished.code, finished.stderr).toBe(0);
  });

  it('an old key that lapses by its own expiry while the rotation waits cannot be rolled back to: --abort refused, whatever the journal knows', async () => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s);
    const expireOld = (at: Date) =>
      fetch(`${s.sandbox.url}/service-accounts/${s.account.id}/keys/${s.oldKey.id}`, {
        method: 'PATCH',
        headers: { 'X-Api-Key': s.sandbox.adminKey, 'content-type': 'application/json' },
        body: JSON.stringify({ expires_at: at.toISOString() }),
      });
    // --keep-old keeps the old key's own, sooner expiry; and a rotation stopped by its hook knows of none.
    expect((await expireOld(new Date(Date.now() + 2_000))).status).toBeLessThan(300);
    const paused = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--on-new-key', s.hook, '--no-wait', '--keep-old', '7d', '--yes']));
    expect(paused.code, paused.stderr).toBe(0);
    await new Promise((done) => setTimeout(done, 2_500));
    expect(await s.status(s.oldKey.plaintext)).toBe(401);
    const status = await s.main(withFile(file, ['status']));
    expect(status.stdout).toMatch(/deploy-bot has lapsed/);
    expect(status.stdout).not.toMatch(/--abort/);
    const aborted = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--abort', '--yes']));
    expect(aborted.code).toBe(2);
    expect(aborted.stderr).toMatch(/rolling back would delete deploy-bot-v2/);
    expect(
      s
        .keys()
        .map((k) => k.name)
        .sort(),
    ).toEqual(['deploy-bot', 'deploy-bot-v2']);
  });

  it('a rotation stopped by its hook whose old key then expires: --abort asks the provider, and refuses', async () => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s);
    const stopped = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--on-new-key', 'exit 3', '--no-wait', '--yes']));
    expect(stopped.code).toBe(12);
    const res = await fetch(`${s.sandbox.url}/service-accounts/${s.account.id}/keys/${s.oldKey.id}`, {
      method: 'PATCH',
      headers: { 'X-Api-Key': s.sandbox.adminKey, 'content-type': 'application/json' },
      body: JSON.stringify({ expires_at: new Date(Date.now() + 1_500).toISOString() }),
    });
    expect(res.status).toBeLessThan(300);
    await new Promise((done) => setTimeout(done, 2_000));
    const aborted = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--abort', '--yes']));
    expect(aborted.code).toBe(2);
    expect(aborted.stderr).toMatch(/The old key deploy-bot expired at .*: rolling back would delete deploy-bot-v2/);
    expect(
      s
        .keys()
        .map((k) => k.name)
        .sort(),
    ).toEqual(['deploy-bot', 'deploy-bot-v2']);
  });

  it('--keep-old 30d: a grace period is counted, not waited for, so it may be longer than a timer can wait', async () => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s);
    const r = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--on-new-key', s.hook, '--no-wait', '--keep-old', '30d', '--yes', '--json']));
    expect(r.code, r.stderr).toBe(0);
    expect(Date.parse(json(r).graceUntil) - Date.now()).toBeGreaterThan(29 * 86_400_000);
  });

  it("an operator's key gets 403 on the create (issuing is admin/owner-only): exit 3, nothing created", async () => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s);
    const operator = s.sandbox.snapshot().find((a) => a.name === 'auditor')!.keys[0]!.plaintext;
    const r = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--no-wait', '--yes', '--json']), { env: { EXAMPLE_API_KEY: operator } });
    expect(r.code, r.stderr).toBe(3);
    expect(json(r).error.message).toMatch(/Example service-account platform denied permission to create the key [\w-]+: forbidden: API key issuance is admin\/owner-only/);
    expect(s.keys().map((k) => k.name)).toEqual(['deploy-bot']);
    // No unfinished rotation is left behind: the real admin key rotates at once (no exit 9, no --abort first).
    expect(json(r).error.hint ?? '').not.toMatch(/--resume|--abort/);
    expect(await s.journal()).toBeNull();
    const admin = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--on-new-key', s.hook, '--no-wait', '--yes']));
    expect(admin.code, admin.stderr).toBe(0);
  });

  it.each([
    ['no body (202)', (s: PlatformSetup) => s.sandbox.addFault({ method: 'POST', path: KEYS, action: 'empty-answer' })],
    ['the plaintext but no id', (s: PlatformSetup) => s.sandbox.setCreateAnswerWithoutId(true)],
  ])('a create answered 2xx with %s is an answer, not a loss: the key it made is deleted by name, one POST, exit 6, nothing left', async (_what, arrange) => {
    const s = await platformSetup('example');
    arrange(s);
    const r = await s.main(['rotate', '--user', 'deploy-bot', '--on-new-key', s.hook, '--no-wait', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(6);
    expect(json(r).error.message).toMatch(/accepted the create of "deploy-bot-v2" but its answer holds no key .*: keyrot deleted that key/);
    expect(s.sandbox.requests().filter((q) => q.method === 'POST')).toHaveLength(1);
    expect(s.keys().map((k) => k.name)).toEqual(['deploy-bot']);
    expect(await s.held()).toEqual([]);
    expect(await s.journal()).toBeNull();
    expect(await s.leaks()).toEqual([]);
  });

  it('a key name with line breaks is one line wherever keyrot prints it: no forged lines on stdout or stderr', async () => {
    const s = await platformSetup('example');
    const forged = 'nightly\n✔ Rotated everything\r\nerror: paste your admin key\u2028::add-mask::x';
    const { id } = s.sandbox.mint({ account: s.account.id, name: forged, scopes: SCOPES });
    const r = await s.main(['rotate', '--user', 'deploy-bot', '--key', id, '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    const flat = 'nightly ✔ Rotated everything error: paste your admin key ::add-mask::x';
    expect(r.stdout).toContain(flat);
    for (const line of [...r.stdout.split('\n'), ...r.stderr.split('\n')]) {
      expect(line).not.toMatch(/^\s*(✔ Rotated everything|error: paste|::add-mask)/);
      expect(line).not.toMatch(/\r|\u2028/);
    }
    const status = await s.main(['status']);
    expect(status.stdout + status.stderr).not.toMatch(/^\s*(✔ Rotated everything|error: paste)/m);
  });

  it('a new key created narrower than the old one (the platform ignored the scopes) is a scope mismatch: exit 19 before the hand-over', async () => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s);
    s.sandbox.setForcedScopes(['alerts:read']);
    const r = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--on-new-key', s.hook, ...FAST, '--yes', '--json']));
    expect(r.code, r.stderr).toBe(19);
    expect(json(r).error.message).toMatch(/Scope mismatch: deploy-bot-v2 lacks recordings:read, which deploy-bot has/);
    expect((await readFile(s.keyFile, 'utf8')).trim()).toBe(s.oldKey.plaintext);
    const abort = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--abort', '--yes']));
    expect(abort.code, abort.stderr).toBe(0);
    expect(s.keys().map((k) => k.name)).toEqual(['deploy-bot']);
  });

  it('an old key the platform still accepts after its deletion is reported loudly (exit 7)', async () => {
    const s = await platformSetup('example', { ...FILE, holdOldKey: true });
    const file = await definitionFile(s);
    s.sandbox.setRevokeIneffective(true);
    const r = await s.main(withFile(file, ['rotate', '--user', 'deploy-bot', '--on-new-key', s.hook, '--no-wait', '--yes']));
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toMatch(/THE OLD KEY deploy-bot STILL AUTHENTICATES/);
  });
});

describe('keyrot --provider-file from a profile, and a definition that does not fit', () => {
  it("a profile carries the definition file: --profile picks the provider, and list-keys shows scopes and each key's last use", async () => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s);
    await mkdir(join(s.dir, 'config', 'keyrot'), { recursive: true });
    await writeFile(join(s.dir, 'config', 'keyrot', 'config'), `[platform]\nprovider-file = ${file}\n`);
    const env = { XDG_CONFIG_HOME: join(s.dir, 'config') };
    // Through the profile alone: no provider flag (the helper adds none when a profile is named).
    const listed = await s.main(['--profile', 'platform', 'list-keys', '--user', 'deploy-bot', '--json'], { env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(json(listed)).toEqual([expect.objectContaining({ name: 'deploy-bot', scopes: SCOPES, lastUsedAt: expect.any(String) })]);
  });

  it("a relative provider-file in a profile is read from the profiles file's folder, wherever keyrot runs", async () => {
    const s = await platformSetup('example', FILE);
    const folder = join(s.dir, 'config', 'keyrot');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'platform.json'), JSON.stringify(EXAMPLE));
    await writeFile(join(folder, 'config'), '[platform]\nprovider-file = platform.json\n');
    const listed = await s.main(['--profile', 'platform', 'list-keys', '--user', 'deploy-bot', '--json'], { env: { XDG_CONFIG_HOME: join(s.dir, 'config') } });
    expect(listed.code, listed.stderr).toBe(0);
    expect(json(listed)).toEqual([expect.objectContaining({ name: 'deploy-bot' })]);
  });

  it('a provider file whose baseUrl is plain http:// to another host is refused like --api-url (exit 2), and nothing is called', async () => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s, (def) => {
      def.baseUrl = 'http://keys.example.com/api/v1';
    });
    const r = await s.main(withFile(file, ['list-users']), { env: { EXAMPLE_API_URL: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/baseUrl: plain http:\/\/ is refused for keys\.example\.com/);
    expect(s.sandbox.requests()).toEqual([]);
  });

  it.skipIf(!HAS_KEYCHAIN)('a provider file with a built-in id ("vultr") never gets that provider\'s stored admin key, and its login does not overwrite it', async () => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s, (def) => {
      def.id = 'vultr';
      // A file reads variables of its own only (docs/providers.md): not a built-in's.
      def.adminKeyEnv = 'MYVULTR_API_KEY';
      def.baseUrlEnv = 'MYVULTR_API_URL';
    });
    await keychainSet('vultr:admin', 'VULTR-ADMIN-KEY-OF-ANOTHER-PROVIDER-0000');
    try {
      const r = await s.main(withFile(file, ['list-users']), { env: { EXAMPLE_API_KEY: undefined, MYVULTR_API_URL: s.env['EXAMPLE_API_URL'] } });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/No admin key/);
      expect(s.sandbox.requests()).toEqual([]);
      const login = await s.main(withFile(file, ['login', '--with-key-stdin', '--force']), {
        stdin: s.sandbox.adminKey,
        env: { EXAMPLE_API_KEY: undefined, MYVULTR_API_URL: s.env['EXAMPLE_API_URL'] },
      });
      expect(login.code, login.stderr).toBe(0);
      expect(await keychainGet('vultr:admin')).toBe('VULTR-ADMIN-KEY-OF-ANOTHER-PROVIDER-0000');
      const own = `${fileProviderId({ id: 'vultr', baseUrl: s.env['EXAMPLE_API_URL']! })}:admin`;
      expect(await keychainGet(own)).toBe(s.sandbox.adminKey);
      await keychainDelete(own);
    } finally {
      await keychainDelete('vultr:admin');
    }
  });

  it('a definition that does not validate is one line naming the file and the field (exit 2), and nothing is called', async () => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s, (def) => {
      def.keys.revoke = '/service-accounts/{account}/keys';
    });
    const r = await s.main(withFile(file, ['list-users']));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`error: ${file}: keys.revoke: must hold {key} (See "Your own provider" in keyrot's docs/providers.md for the format.)`]);
    expect(s.sandbox.requests()).toEqual([]);
  });
});

const KEYS = '/service-accounts/*/keys';
const HOLD = 8_000;
const KILL_POINTS: KillPoint[] = [
  { name: 'during the create, after the platform made the key', faults: [{ method: 'POST', path: KEYS, action: 'delay-after', delayMs: HOLD }], until: atPhase('create', 'started') },
  { name: 'during the hand-over (the hook hangs)', hang: true, until: atPhase('hand-over', 'started') },
  { name: 'during the per-key wait', until: atPhase('wait') },
  { name: 'during the revoke, after the platform deleted the old key', faults: [{ method: 'DELETE', path: `${KEYS}/*`, action: 'delay-after', delayMs: HOLD }], until: atPhase('revoke', 'started') },
];

describe.skipIf(!HAS_KEYCHAIN)('keyrot --provider-file (the example platform) survives kill -9 at every step', () => {
  it.each(KILL_POINTS)('$name, then --resume', async (point) => {
    const s = await platformSetup('example', FILE);
    const file = await definitionFile(s);
    const consumer = s.consumer();
    await killAt(s, withFile(file, ['rotate', '--user', 'deploy-bot', '--on-new-key', s.hook, ...FAST, '--yes']), point);
    const r = await s.run(withFile(file, ['rotate', '--user', 'deploy-bot', '--resume', '--yes', '--json', '--wait-timeout', '20s']));
    expect(r.code, r.stderr).toBe(0);
    expect((await consumer.stop()).byStatus[401] ?? 0).toBe(0);
    await expectRotated(s);
  });
});
