// keyrot rotate against Grafana's service-account tokens (the built-in declarative definition), on the sandbox's
// Grafana-shaped API with a 1 s last-used refresh and the real keychain: the old token is revoked only on evidence
// (the new token used after the hand-over, the old one unused for twice the refresh interval), a consumer left on
// the old token is caught before it gets a 401, and every step survives kill -9.
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, json, keychainGet } from '../helpers/e2e.js';
import { atPhase, expectOnly, killAt, platformSetup, type KillPoint, type PlatformSetup } from '../helpers/platform.js';

const FAST = ['--usage-refresh', '1s', '--poll-interval', '200ms', '--wait-timeout', '30s'];
const NEW = 'deploy-bot-v2';

/** The end state of a finished rotation: only the new token, in the keychain, working; the old one rejected. */
async function expectRotated(s: PlatformSetup): Promise<void> {
  await expectOnly(s, NEW);
}

describe.skipIf(!HAS_KEYCHAIN)('keyrot --provider grafana rotate', () => {
  it('revokes the old token only once the new one is used and the old one stays unused for twice the refresh; the consumer never sees a 401', async () => {
    const s = await platformSetup('grafana');
    const consumer = s.consumer();
    const r = await s.run(['rotate', '--user', s.account.label, '--on-new-key', s.hook, ...FAST, '--yes', '--events']);
    expect(r.code, r.stderr).toBe(0);
    const counts = await consumer.stop();
    expect(counts.byStatus[401] ?? 0).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const types = events.map((e) => e.type);
    expect(types.indexOf('usage.seen')).toBeLessThan(types.indexOf('old.revoked'));
    const seen = events.find((e) => e.type === 'usage.seen');
    expect(seen.scope).toBe('per-key');
    const done = events.find((e) => e.type === 'rotation.done');
    const wait = done.steps.find((st: any) => st.phase === 'wait');
    expect(wait.detail).toMatch(/deploy-bot-v2 used at .*; deploy-bot unused for/);
    expect(r.stderr).toMatch(/reports each key's last use \(refreshed within 1\.0 s\): keyrot waits until deploy-bot-v2 is used after the hand-over and deploy-bot stays unused for 2\.0 s/);
    await expectRotated(s);
  });

  it('a consumer still on the old token is caught before its 401: both tokens stay live (exit 11), and --resume finishes once it has switched', async () => {
    const s = await platformSetup('grafana');
    const switched = s.consumer();
    // A second consumer with its own copy of the old token, which the hook does not update.
    await writeFile(`${s.dir}/straggler.key`, s.oldKey.plaintext);
    const straggler = s.consumer(`${s.dir}/straggler.key`);
    const r = await s.main(['rotate', '--user', s.account.label, '--on-new-key', s.hook, '--usage-refresh', '1s', '--poll-interval', '200ms', '--wait-timeout', '5s', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(11);
    expect(r.stderr).toMatch(/The old key deploy-bot was used at .*, after the hand-over: a consumer still holds it/);
    expect(json(r).error.message).toMatch(/still used at .* a consumer still holds it/);
    const stragglerCounts = await straggler.stop();
    expect(stragglerCounts.byStatus[401] ?? 0).toBe(0);
    expect(
      s
        .keys()
        .map((k) => k.name)
        .sort(),
    ).toEqual(['deploy-bot', NEW]);
    expect((await s.journal()).oldKeyUsedAt).toEqual(expect.any(String));

    const resumed = await s.main(['rotate', '--user', s.account.label, '--resume', '--yes', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect((await switched.stop()).byStatus[401] ?? 0).toBe(0);
    await expectRotated(s);
  });

  it('a token that Grafana still accepts after its deletion is reported loudly (exit 7), and --resume deletes it again', async () => {
    const s = await platformSetup('grafana', { holdOldKey: true });
    s.sandbox.setRevokeIneffective(true);
    const r = await s.main(['rotate', '--user', s.account.label, '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toMatch(/THE OLD KEY deploy-bot STILL AUTHENTICATES/);
    expect(await s.status(s.oldKey.plaintext)).toBe(200);
    expect((await s.journal()).phase).toBe('revoke');
    s.sandbox.setRevokeIneffective(false);
    // The journal stays in the revoke phase (the old key is not gone), so --resume deletes it once more and proves it.
    const resumed = await s.main(['rotate', '--user', s.account.label, '--resume', '--yes']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await s.status(s.oldKey.plaintext)).toBe(401);
  });

  it('keyrot login stores a Grafana admin token without --force (Grafana names no manage_users permission), and says the first change will tell', async () => {
    const s = await platformSetup('grafana');
    const profile = await s.profile();
    const login = await s.main(['login', '--with-key-stdin', '--json'], { ...profile, stdin: s.sandbox.adminKey });
    expect(login.code, login.stderr).toBe(0);
    expect(json(login)).toMatchObject({ canManageUsers: null, keychain: { account: profile.entry('grafana:admin') } });
    expect(login.stderr).not.toMatch(/lacks|--force/);
    expect(await keychainGet(profile.entry('grafana:admin'))).toBe(s.sandbox.adminKey);
    const who = await s.main(['whoami'], profile);
    expect(who.code, who.stderr).toBe(0);
    expect(who.stdout).toMatch(/may manage users {2}not known in advance \(the first change will tell\)/);
    const r = await s.main(['rotate', '--user', s.account.label, '--on-new-key', s.hook, '--no-wait', '--yes'], profile);
    expect(r.code, r.stderr).toBe(0);
  });

  it('an admin token whose service account may read but not issue tokens gets 403 on the create (exit 3), and nothing is left behind', async () => {
    const s = await platformSetup('grafana');
    const auditor = s.sandbox.snapshot().find((a) => a.name === 'auditor')!.keys[0]!.plaintext;
    const r = await s.main(['rotate', '--user', s.account.label, '--on-new-key', s.hook, '--no-wait', '--yes', '--json'], { env: { GRAFANA_TOKEN: auditor } });
    expect(r.code, r.stderr).toBe(3);
    expect(json(r).error.message).toMatch(/Grafana denied permission to create the key [\w-]+: You'll need additional permissions to perform this action. Permissions needed: serviceaccounts:write/);
    expect(s.keys().map((k) => k.name)).toEqual(['deploy-bot']);
    expect(await s.held()).toEqual([]);
    // Nothing was made: no rotation is left open to block the next run (exit 9) until someone runs --abort.
    expect(await s.journal()).toBeNull();
    const again = await s.main(['rotate', '--user', s.account.label, '--on-new-key', s.hook, '--no-wait', '--yes'], { env: { GRAFANA_TOKEN: auditor } });
    expect(again.code, again.stderr).toBe(3);
    expect(again.stderr).not.toMatch(/--resume|--abort/);
  });

  it("the admin token's own service account is refused before any change (exit 2), and rotate --all leaves it out and says so", async () => {
    const s = await platformSetup('grafana');
    const adminAccount = s.sandbox.snapshot().find((a) => a.keys.some((k) => k.plaintext === s.sandbox.adminKey))!;
    const tokens = () => s.sandbox.snapshot().map((a) => a.keys.map((k) => `${a.login}/${k.id}/${k.name}`));
    const before = tokens();
    const r = await s.main(['rotate', '--user', adminAccount.login, '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^error: ${adminAccount.login} is the account of the admin key keyrot runs with \\(from GRAFANA_TOKEN\\): rotating keyrot-admin may revoke keyrot's own key`)),
    ]);
    expect(tokens()).toEqual(before);
    expect(s.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);

    const all = await s.main(['rotate', '--all', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes', '--concurrency', '1']);
    expect(all.stdout + all.stderr).toContain(`Left out: ${adminAccount.login} is the admin key's own user (rotate its keys with an admin key of another account, or in Grafana itself).`);
    expect(await s.status(s.sandbox.adminKey)).toBe(200);
    expect(
      s.sandbox
        .snapshot()
        .find((a) => a.id === adminAccount.id)!
        .keys.map((k) => k.plaintext),
    ).toEqual([s.sandbox.adminKey]);
  });

  it("the new token belongs to the same service account, so it has the old one's role; --keep-old 7d is a grace period only (Grafana cannot move an expiry)", async () => {
    const s = await platformSetup('grafana');
    const paused = await s.main(['rotate', '--user', s.account.label, '--on-new-key', s.hook, '--no-wait', '--keep-old', '7d', '--yes', '--json']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(json(paused)).toMatchObject({ status: 'paused', graceUntil: expect.any(String) });
    expect(s.keys()).toHaveLength(2);
    const r = await s.main(['rotate', '--user', s.account.label, '--resume', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const role = s.sandbox.snapshot().find((a) => a.login === s.account.label)!;
    expect(role.role).toBe('Editor');
    expect(role.keys.map((k) => k.name)).toEqual([NEW]);
  });
});

// Long enough to kill keyrot in, short enough that a consumer call held with it does not outlast the resumed wait.
const HOLD = 8_000;
const TOKENS = '/api/serviceaccounts/*/tokens';
const KILL_POINTS: KillPoint[] = [
  { name: 'during the create, after Grafana made the token', faults: [{ method: 'POST', path: TOKENS, action: 'delay-after', delayMs: HOLD }], until: atPhase('create', 'started') },
  {
    name: 'while verifying the new token',
    faults: [{ method: 'POST', path: TOKENS, action: 'delay-after', delayMs: 300 }],
    // Every probe is held from then on (the consumer's too, which would otherwise take a one-off fault).
    arm: { when: atPhase('create', 'started'), fault: { method: 'GET', path: '/api/org', action: 'delay', delayMs: HOLD, times: 0 } },
    until: atPhase('verify-new'),
  },
  { name: 'during the hand-over (the hook hangs)', hang: true, until: atPhase('hand-over', 'started') },
  { name: 'during the per-key wait', until: atPhase('wait') },
  { name: 'during the revoke, after Grafana deleted the old token', faults: [{ method: 'DELETE', path: `${TOKENS}/*`, action: 'delay-after', delayMs: HOLD }], until: atPhase('revoke', 'started') },
  {
    name: 'while proving the old token is gone (the listing after its delete)',
    faults: [{ method: 'DELETE', path: `${TOKENS}/*`, action: 'delay-after', delayMs: 500 }],
    // keyrot does not hold the old token here, so the proof is the listing the revoke's delete-and-confirm makes right
    // after the DELETE (verify-old reuses it): that is what hangs, and the kill falls inside it.
    arm: { when: atPhase('revoke', 'started'), fault: { method: 'GET', path: TOKENS, action: 'delay', delayMs: HOLD, times: 0 } },
    until: atPhase('revoke', 'started'),
    settleMs: 2_000,
  },
];

describe('keyrot --provider grafana audit', () => {
  it("reads each service account's activity from its tokens' own lastUsedAt: a token used two days ago is no inactive user, a never-used one is", async () => {
    const s = await platformSetup('grafana');
    const r = await s.main(['audit', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows: any[] = Array.isArray(json(r)) ? json(r) : json(r).keys;
    const row = (user: string) => rows.find((k) => k.userEmail === user);
    const used = row('sa-1-deploy-bot');
    expect(Date.parse(used.userLastActivity)).toBeGreaterThan(Date.now() - 3 * 24 * 3600 * 1000);
    expect(used.findings.map((f: any) => f.code)).not.toContain('inactive-user');
    const idle = row('sa-1-auditor');
    expect(idle.userLastActivity).toBeNull();
    expect(idle.findings.map((f: any) => f.code)).toContain('inactive-user');
  });
});

describe.skipIf(!HAS_KEYCHAIN)('keyrot --provider grafana rotate survives kill -9 at every step', () => {
  it.each(KILL_POINTS)('$name, then --resume', async (point) => {
    const s = await platformSetup('grafana');
    const consumer = s.consumer();
    await killAt(s, ['rotate', '--user', s.account.label, '--on-new-key', s.hook, '--usage-refresh', '1s', '--poll-interval', '200ms', '--wait-timeout', '20s', '--yes'], point);
    const r = await s.run(['rotate', '--user', s.account.label, '--resume', '--yes', '--json', '--wait-timeout', '20s']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).status).toBe('done');
    expect((await consumer.stop()).byStatus[401] ?? 0).toBe(0);
    await expectRotated(s);
  });
});
