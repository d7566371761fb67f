// keyrot rotate --provider kubeadapt: an assisted rotation. Kubeadapt keys are minted and revoked only in its
// dashboard (here the sandbox's control API), so keyrot says what to click, takes the minted key from stdin, checks
// its shape, keeps it in the real keychain before anything else, proves it (2xx, or 403 which still proves a valid
// key), hands it over, and polls until the revoked old key gets 401. Without a terminal the person's steps are
// events and a paused rotation (exit 18) that --resume continues.
// Every test that leaves Kubeadapt entries in the shared test keychain is in this file, so they run one after another:
// keyrot names Kubeadapt's account "org" in every sandbox, and `status --prune` here removes the entries of every
// Kubeadapt key this test's sandbox does not list (another file's, running at the same time).
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { keychainDelete, keychainSet } from '../helpers/consumer.js';
import { HAS_KEYCHAIN, collect, harness, json, keychainGet } from '../helpers/e2e.js';
import { atPhase, killAt, platformAccount, platformSetup, type KillPoint, type PlatformSetup } from '../helpers/platform.js';
import { identifyKubeadaptKey } from '../../src/providers/kubeadapt/provider.js';
import { HAS_TMUX, startTerminal, type Terminal } from '../helpers/tmux.js';

/** keyrot's keychain entry for a Kubeadapt key (its id is a digest of the plaintext). */
const entryOf = (plaintext: string) => platformAccount('kubeadapt', 'org', identifyKubeadaptKey(plaintext, '').id);

const NEW = 'prod-exporter-v2';
/** The old key's scopes: the current Mint guide's "read-only Grafana / BI exporter" recipe (the sandbox's fixture). */
const SCOPES = ['clusters:read', 'namespaces:read', 'nodes:read', 'organization:read', 'workloads:read'];
const FAST = ['--poll-interval', '200ms', '--wait-timeout', '15s'];

function events(stdout: string): any[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** Revokes `keyId` in "the dashboard" once the journal says keyrot asked for it. */
async function revokeWhenAsked(s: PlatformSetup, keyId: string): Promise<void> {
  await s.waitForJournal((j) => j.awaiting === 'revoke');
  s.sandbox.revoke(keyId);
}

async function expectRotated(s: PlatformSetup, newKey: { id: string; plaintext: string }): Promise<void> {
  expect(await s.journal()).toBeNull();
  expect(
    s
      .keys()
      .map((k) => k.name)
      .sort(),
  ).toEqual(['ci-readonly', NEW]);
  expect(await s.held()).toEqual([entryOf(newKey.plaintext)]);
  expect(entryOf(newKey.plaintext)).toMatch(/^kubeadapt:org:ka-[0-9a-f]{12}$/);
  expect(await keychainGet(entryOf(newKey.plaintext))).toBe(newKey.plaintext);
  expect(await s.status(newKey.plaintext)).toBe(200);
  expect(await s.status(s.oldKey.plaintext)).toBe(401);
  expect(await s.leaks()).toEqual([]);
}

describe.skipIf(!HAS_KEYCHAIN)('keyrot --provider kubeadapt rotate (assisted)', () => {
  it('takes the minted key from stdin, stores and proves it, hands it over, and finishes once the old key gets 401; the consumer never sees a 401', async () => {
    const s = await platformSetup('kubeadapt');
    const minted = s.sandbox.mint({ name: NEW, scopes: SCOPES });
    const consumer = s.consumer();
    const child = s.spawn(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes', '--events'], { stdin: `${minted.plaintext}\n` });
    const done = collect(child, 60_000);
    await revokeWhenAsked(s, s.oldKey.id);
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    expect((await consumer.stop()).byStatus[401] ?? 0).toBe(0);
    const all = events(r.stdout);
    const ask = all.find((e) => e.type === 'operator.action');
    expect(ask).toMatchObject({ action: 'revoke', name: 'prod-exporter' });
    expect(ask.instructions).toMatch(/Settings → API Keys\) revoke prod-exporter \(the key ending .{5}\)/);
    const doneEvent = all.find((e) => e.type === 'rotation.done');
    expect(doneEvent.steps.map((st: any) => st.phase)).toEqual(['create', 'verify-new', 'hand-over', 'wait', 'revoke', 'verify-old', 'finish']);
    expect(doneEvent.steps.find((st: any) => st.phase === 'create').detail).toMatch(/minted in the dashboard/);
    expect(doneEvent.steps.find((st: any) => st.phase === 'verify-old').detail).toBe('rejected (401): revoked in the dashboard');
    await expectRotated(s, minted);
  });

  it('after a rotation keyrot runs with the old, revoked key from KUBEADAPT_API_KEY: it says so before the revoke, and get, list-keys and status find the new key by testing what it holds', async () => {
    const s = await platformSetup('kubeadapt');
    const minted = s.sandbox.mint({ name: NEW, scopes: SCOPES });
    const done = collect(s.spawn(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes'], { stdin: minted.plaintext }), 60_000);
    await s.waitForJournal((j) => j.awaiting === 'revoke');
    // While the person is asked to revoke the old key, consumers that follow keyrot already get the new, proven key.
    const during = await collect(s.spawn(['get']), 30_000);
    expect(during.code, during.stderr).toBe(0);
    expect(during.stdout).toBe(minted.plaintext);
    s.sandbox.revoke(s.oldKey.id);
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /keyrot runs with prod-exporter from KUBEADAPT_API_KEY, and that key is revoked next: point KUBEADAPT_API_KEY at prod-exporter-v2 \(e\.g\. KUBEADAPT_API_KEY="\$\(keyrot --provider kubeadapt get\)"\)/,
    );
    expect(s.env['KUBEADAPT_API_KEY']).toBe(s.oldKey.plaintext);
    // The environment still holds the revoked key: get gives the new one all the same, and nothing else.
    // (Spawned, not run: the leak scan reads what run() records, and get prints the key on purpose.)
    const got = await collect(s.spawn(['get']), 30_000);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toBe(minted.plaintext);
    const listed = await s.main(['list-keys', '--json']);
    expect(json(listed)).toEqual([expect.objectContaining({ id: entryOf(minted.plaintext).split(':')[2], name: NEW, held: true })]);
    // status never offers the new key's entry for removal, and --prune keeps it.
    const status = await s.main(['status', '--prune', '--yes', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.stringify(json(status))).not.toContain(entryOf(minted.plaintext));
    expect(await keychainGet(entryOf(minted.plaintext))).toBe(minted.plaintext);
    // Pointed at the new key, keyrot works again.
    const whoami = await s.main(['whoami'], { env: { KUBEADAPT_API_KEY: got.stdout } });
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(await s.leaks()).toEqual([]);
  });

  it('an admin key stored with keyrot login follows the rotation: the entry holds the new key before the old one is revoked', async () => {
    const s = await platformSetup('kubeadapt');
    const profile = await s.profile();
    const adminEntry = profile.entry('kubeadapt:admin');
    const login = await s.main(['login', '--with-key-stdin'], { ...profile, stdin: s.oldKey.plaintext });
    expect(login.code, login.stderr).toBe(0);
    const minted = s.sandbox.mint({ name: NEW, scopes: SCOPES });
    const done = collect(s.spawn(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes', '--json'], { ...profile, stdin: minted.plaintext }), 60_000);
    // The operator is asked to revoke only after the hand-over: by then the entry holds the new key.
    for (let i = 0; i < 400 && (await keychainGet(adminEntry)) !== minted.plaintext; i++) await sleep(50);
    expect(await keychainGet(adminEntry)).toBe(minted.plaintext);
    s.sandbox.revoke(s.oldKey.id);
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).steps.find((st: any) => st.phase === 'hand-over').detail).toBe('the admin key entry now holds prod-exporter-v2; hook succeeded');
    expect(r.stderr).not.toMatch(/point .* at/);
    const whoami = await s.main(['whoami'], profile);
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(whoami.stdout + whoami.stderr).toContain(minted.plaintext.slice(-5));
  });

  it('--abort after the hand-over began gives the keyrot login entry back the old key, before the operator revokes the new one', async () => {
    const s = await platformSetup('kubeadapt');
    const profile = await s.profile();
    const adminEntry = profile.entry('kubeadapt:admin');
    expect((await s.main(['login', '--with-key-stdin'], { ...profile, stdin: s.oldKey.plaintext })).code).toBe(0);
    const minted = s.sandbox.mint({ name: NEW, scopes: SCOPES });
    const failed = await s.main(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', 'exit 3', ...FAST, '--yes'], { ...profile, stdin: minted.plaintext });
    expect(failed.code, failed.stderr).toBe(12);
    expect(await keychainGet(adminEntry)).toBe(minted.plaintext);
    const aborted = collect(s.spawn(['rotate', '--key', 'prod-exporter', '--abort', '--yes', ...FAST], profile), 60_000);
    // By the time the operator is asked to revoke the new key, the entry holds the old one again.
    for (let i = 0; i < 100 && (await keychainGet(adminEntry)) !== s.oldKey.plaintext; i++) await sleep(50);
    expect(await keychainGet(adminEntry)).toBe(s.oldKey.plaintext);
    s.sandbox.revoke(minted.id);
    const r = await aborted;
    expect(r.code, r.stderr).toBe(0);
    const whoami = await s.main(['whoami'], profile);
    expect(whoami.code, whoami.stderr).toBe(0);
  });

  it('without a terminal or --new-key-stdin it pauses for the mint (exit 18, an event, status paused), and --resume --new-key-stdin continues', async () => {
    const s = await platformSetup('kubeadapt');
    const paused = await s.main(['rotate', '--key', 'prod-exporter', '--on-new-key', s.hook, ...FAST, '--yes', '--events']);
    expect(paused.code, paused.stderr).toBe(18);
    const all = events(paused.stdout);
    const ask = all.find((e) => e.type === 'operator.action');
    expect(ask).toMatchObject({ action: 'mint', name: NEW });
    expect(ask.instructions).toMatch(/click \+ Create Key, name it prod-exporter-v2, and give it the same scopes and cluster allow-list as prod-exporter/);
    expect(all.find((e) => e.type === 'rotation.paused')).toMatchObject({ awaiting: 'mint', phase: 'create' });
    expect(all.at(-1)).toMatchObject({ type: 'error', error: { code: 'operator_step', exitCode: 18 } });
    expect(all.at(-1).error.hint).toMatch(/keyrot --provider kubeadapt rotate --user organization --resume --new-key-stdin/);
    expect(await s.journal()).toMatchObject({ status: 'paused', awaiting: 'mint', phase: 'create' });
    // Only the old key's own copy, kept so that it can be tested once revoked.
    expect(await s.held()).toEqual([entryOf(s.oldKey.plaintext)]);
    const whoami = await s.main(['whoami', '--json']);
    expect(json(whoami).unfinishedRotations).toEqual([expect.objectContaining({ status: 'paused', phase: 'create' })]);
    // status says what the pause waits for, and its commands carry --provider (pasted, they act on Kubeadapt).
    const status = await s.main(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/paused for a person: mint prod-exporter-v2 in the dashboard/);
    expect(status.stdout).not.toMatch(/--keep-old|grace/);
    expect(status.stdout).toContain('keyrot --provider kubeadapt rotate --user organization --resume');
    expect(status.stdout).not.toMatch(/keyrot rotate/);

    const minted = s.sandbox.mint({ name: NEW, scopes: SCOPES });
    const child = s.spawn(['rotate', '--resume', '--new-key-stdin', '--yes', ...FAST], { stdin: minted.plaintext });
    const done = collect(child, 60_000);
    await revokeWhenAsked(s, s.oldKey.id);
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    await expectRotated(s, minted);
  });

  it('a pasted text that is not a Kubeadapt key is refused (exit 2), naming the shape and never the text; nothing is stored', async () => {
    const s = await platformSetup('kubeadapt');
    const r = await s.main(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--no-wait', '--yes'], { stdin: 'sk_live_not-a-kubeadapt-key-0123456789\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/That is not a Kubeadapt API key: they are ka_live_ followed by 32 letters and digits/);
    expect(r.stderr).not.toMatch(/not-a-kubeadapt/);
    expect(await s.held()).toEqual([entryOf(s.oldKey.plaintext)]);
    expect(await s.status(s.oldKey.plaintext)).toBe(200);
  });

  it('a paused rotation stays paused when a wrong key is pasted (the old key, a typo): the next --resume --new-key-stdin with the minted key finishes', async () => {
    const s = await platformSetup('kubeadapt');
    const paused = await s.main(['rotate', '--key', 'prod-exporter', '--on-new-key', s.hook, ...FAST, '--yes']);
    expect(paused.code, paused.stderr).toBe(18);
    for (const wrong of [s.oldKey.plaintext, s.oldKey.plaintext.slice(0, -1)]) {
      const r = await s.main(['rotate', '--resume', '--new-key-stdin', '--yes', ...FAST], { stdin: wrong });
      expect(r.code, r.stderr).toBe(2);
      expect(await s.journal()).toMatchObject({ phase: 'create', awaiting: 'mint' });
    }
    const minted = s.sandbox.mint({ name: NEW, scopes: SCOPES });
    const done = collect(s.spawn(['rotate', '--resume', '--new-key-stdin', '--yes', ...FAST], { stdin: minted.plaintext }), 60_000);
    await revokeWhenAsked(s, s.oldKey.id);
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    await expectRotated(s, minted);
  });

  it('a minted key without a scope the old key has gets 403 where the old key gets 2xx: a scope mismatch (exit 19), both keys live', async () => {
    const s = await platformSetup('kubeadapt');
    const narrow = s.sandbox.mint({ name: NEW, scopes: ['organization:read'] });
    const r = await s.main(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes', '--json'], { stdin: narrow.plaintext });
    expect(r.code, r.stderr).toBe(19);
    const err = json(r).error;
    expect(err.code).toBe('scope_mismatch');
    // The message is the one in the answer's error envelope, not only the status.
    expect(err.message).toMatch(
      /Scope mismatch: \/clusters \(Missing required permission: clusters:read\) and \/namespaces \(Missing required permission: namespaces:read\) and \/workloads \(Missing required permission: workloads:read\) and \/nodes \(Missing required permission: nodes:read\) answer 403 to prod-exporter-v2 and 2xx to prod-exporter\./,
    );
    expect(err.hint).toMatch(/Revoke prod-exporter-v2 in the dashboard, roll back with --abort/);
    expect(await s.status(s.oldKey.plaintext)).toBe(200);
    // The hook never ran: consumers still have the old key.
    expect((await import('node:fs/promises').then((fs) => fs.readFile(s.keyFile, 'utf8'))).trim()).toBe(s.oldKey.plaintext);
    // Rolled back: the narrow key is live until someone revokes it, so keyrot keeps holding it and says so.
    const abort = await s.main(['rotate', '--abort', '--yes']);
    expect(abort.code, abort.stderr).toBe(0);
    expect(abort.stderr).toMatch(/The new key prod-exporter-v2 still authenticates, and only a person can revoke it: In Kubeadapt's dashboard \(Settings → API Keys\) revoke prod-exporter-v2/);
    expect(abort.stderr).toMatch(/keyrot keeps its plaintext in the keychain \(service "keyrot", account "kubeadapt:org:ka-[0-9a-f]{12}"\) until then/);
    expect(await s.held()).toContain(entryOf(narrow.plaintext));
    expect(await s.journal()).toBeNull();
  });

  it("a replacement minted without organization:read (the old key has it) is a scope mismatch too: every documented scope's endpoint is probed (exit 19), both keys live", async () => {
    const s = await platformSetup('kubeadapt');
    const narrow = s.sandbox.mint({ name: NEW, scopes: SCOPES.filter((scope) => scope !== 'organization:read') });
    const r = await s.main(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes', '--json'], { stdin: narrow.plaintext });
    expect(r.code, r.stderr).toBe(19);
    expect(json(r).error.message).toMatch(/Scope mismatch: \/organization \(Missing required permission: organization:read\) answers 403 to prod-exporter-v2 and 2xx to prod-exporter\./);
    expect(await s.status(s.oldKey.plaintext)).toBe(200);
    expect(await readFile(s.keyFile, 'utf8')).toBe(s.oldKey.plaintext);
  });

  it("a key of another organization pasted as the replacement is refused before the hand-over: it does not reach the old key's clusters (exit 19)", async () => {
    const s = await platformSetup('kubeadapt');
    const other = s.sandbox.mint({ name: NEW, scopes: SCOPES, account: 'staging' });
    const r = await s.main(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes', '--json'], { stdin: other.plaintext });
    expect(r.code, r.stderr).toBe(19);
    expect(json(r).error.message).toMatch(/prod-exporter-v2 does not reach cl-prod-eu, cl-prod-us, which prod-exporter reaches: a key of another organization, or one with a narrower allow-list/);
    expect(await s.status(s.oldKey.plaintext)).toBe(200);
    expect(await readFile(s.keyFile, 'utf8')).toBe(s.oldKey.plaintext);
  });

  it('a replacement with a narrower cluster allow-list than the old key is refused before the hand-over (exit 19)', async () => {
    const s = await platformSetup('kubeadapt');
    const narrow = s.sandbox.mint({ name: NEW, scopes: SCOPES, allowedClusters: ['cl-prod-eu'] });
    const r = await s.main(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes', '--json'], { stdin: narrow.plaintext });
    expect(r.code, r.stderr).toBe(19);
    expect(json(r).error.message).toMatch(/prod-exporter-v2 does not reach cl-prod-us, which prod-exporter reaches/);
    expect(await readFile(s.keyFile, 'utf8')).toBe(s.oldKey.plaintext);
  });

  it("list-keys and a rotation prove keys with documented endpoints only: no request outside the docs' GET endpoints", async () => {
    const s = await platformSetup('kubeadapt');
    const listed = await s.main(['list-keys', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const minted = s.sandbox.mint({ name: NEW, scopes: SCOPES });
    const done = collect(s.spawn(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes'], { stdin: minted.plaintext }), 60_000);
    await revokeWhenAsked(s, s.oldKey.id);
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    const documented = new Set([
      '/v1/clusters',
      '/v1/namespaces',
      '/v1/workloads',
      '/v1/nodes',
      '/v1/recommendations',
      '/v1/organization',
      '/v1/teams',
      '/v1/departments',
      '/v1/node-groups',
      '/v1/persistent-volumes',
      '/v1/costs/teams',
      '/v1/costs/departments',
      '/v1/overview',
    ]);
    const paths = new Set(s.sandbox.requests().map((q) => `${q.method} ${q.path}`));
    expect([...paths].filter((p) => !documented.has(p.replace(/^GET /, '')))).toEqual([]);
  });

  it("a key without the probe's scope is valid all the same (403 is not 401): rotating it says so", async () => {
    const s = await platformSetup('kubeadapt');
    const old = s.sandbox.snapshot()[0]!.keys.find((k) => k.name === 'ci-readonly')!;
    const minted = s.sandbox.mint({ name: 'ci-readonly-v2', scopes: old.scopes });
    const child = s.spawn(['rotate', '--key', 'ci-readonly', '--new-key-stdin', '--no-wait', ...FAST, '--yes', '--json'], { stdin: minted.plaintext, env: { KUBEADAPT_API_KEY: old.plaintext } });
    const done = collect(child, 60_000);
    await revokeWhenAsked(s, old.id);
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).steps.find((st: any) => st.phase === 'verify-new').detail).toBe('valid: the probe answers 403 (Missing required permission: clusters:read), as it does for ci-readonly');
  });

  it('an old key still accepted after the revoke step: keyrot keeps polling, then pauses (exit 18) saying it still authenticates; --resume finishes once it is revoked', async () => {
    const s = await platformSetup('kubeadapt');
    s.sandbox.setRevokeIneffective(true);
    const minted = s.sandbox.mint({ name: NEW, scopes: SCOPES });
    const child = s.spawn(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, '--poll-interval', '200ms', '--wait-timeout', '3s', '--yes'], { stdin: minted.plaintext });
    const done = collect(child, 60_000);
    await revokeWhenAsked(s, s.oldKey.id);
    const r = await done;
    expect(r.code, r.stderr).toBe(18);
    expect(r.stderr).toMatch(/prod-exporter still authenticates after 3\.0 s: it has not been revoked yet \(or the revoke has not taken effect\)/);
    expect(await s.journal()).toMatchObject({ status: 'paused', awaiting: 'revoke', phase: 'verify-old' });
    s.sandbox.setRevokeIneffective(false);
    s.sandbox.revoke(s.oldKey.id);
    const resumed = await s.main(['rotate', '--resume', '--yes']);
    expect(resumed.code, resumed.stderr).toBe(0);
    await expectRotated(s, minted);
  });

  it('--emergency follows the rotation guide\'s "revoke immediately": the old key is revoked before the hand-over', async () => {
    const s = await platformSetup('kubeadapt');
    const minted = s.sandbox.mint({ name: NEW, scopes: SCOPES });
    const child = s.spawn(['rotate', '--key', 'prod-exporter', '--emergency', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes', '--json'], { stdin: minted.plaintext });
    const done = collect(child, 60_000);
    const asked = await s.waitForJournal((j) => j.awaiting === 'revoke');
    expect(asked.handedOverAt).toBeNull();
    s.sandbox.revoke(s.oldKey.id);
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).steps.map((st: any) => st.phase)).toEqual(['create', 'verify-new', 'revoke', 'verify-old', 'hand-over', 'finish']);
    await expectRotated(s, minted);
  });
});

/** The old key's scopes under the earlier docs (their names for the same reads; the sandbox's fixture). */
const EARLIER_SCOPES = ['clusters:read', 'namespaces:read', 'nodes:read', 'overview:read', 'workloads:read'];

describe.skipIf(!HAS_KEYCHAIN)('keyrot --provider kubeadapt against the earlier generation of its docs (bare lists, {"detail"} errors)', () => {
  it('rotates: proves the minted key, reads the bare {"clusters": [...]} list to compare reach, finishes once the old key gets 401', async () => {
    const s = await platformSetup('kubeadapt', { kubeadaptDocs: 'earlier' });
    const minted = s.sandbox.mint({ name: NEW, scopes: EARLIER_SCOPES });
    const done = collect(s.spawn(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes', '--json'], { stdin: minted.plaintext }), 60_000);
    await revokeWhenAsked(s, s.oldKey.id);
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    // Both keys lack recommendations:read: the same 403 for both is no mismatch.
    expect(json(r).steps.find((st: any) => st.phase === 'verify-new').detail).toBe('valid: the probe answers 403 (Missing required permission: recommendations:read), as it does for prod-exporter');
    await expectRotated(s, minted);
  });

  it('a replacement without overview:read is a scope mismatch, its message read from {"detail": ...} (exit 19)', async () => {
    const s = await platformSetup('kubeadapt', { kubeadaptDocs: 'earlier' });
    const narrow = s.sandbox.mint({ name: NEW, scopes: EARLIER_SCOPES.filter((scope) => scope !== 'overview:read') });
    const r = await s.main(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes', '--json'], { stdin: narrow.plaintext });
    expect(r.code, r.stderr).toBe(19);
    expect(json(r).error.message).toMatch(/Scope mismatch: \/overview \(Missing required permission: overview:read\) answers 403 to prod-exporter-v2 and 2xx to prod-exporter\./);
    expect(await readFile(s.keyFile, 'utf8')).toBe(s.oldKey.plaintext);
  });

  it('keyrot --provider kubeadapt sandbox --docs earlier serves the earlier shapes; the default serves the envelope', async () => {
    const s = await platformSetup('kubeadapt');
    for (const [args, shape] of [
      [['--docs', 'earlier'], 'clusters'],
      [[], 'data'],
    ] as const) {
      const child = s.spawn(['sandbox', '--port', '0', '--json', ...args]);
      const started = await new Promise<{ url: string; adminKey: string }>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()))));
      const answer = await fetch(`${started.url}/clusters`, { headers: { Authorization: `Bearer ${started.adminKey}` } });
      expect(Object.keys((await answer.json()) as object)).toContain(shape);
      child.kill('SIGINT');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  it("an old key revoked to 403 (the earlier error page) is recognised as revoked: it answered 2xx before, and a key's scopes never change", async () => {
    const s = await platformSetup('kubeadapt', { kubeadaptDocs: 'earlier', kubeadaptRevokedStatus: 403 });
    const minted = s.sandbox.mint({ name: NEW, scopes: EARLIER_SCOPES });
    const done = collect(s.spawn(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes', '--json'], { stdin: minted.plaintext }), 60_000);
    await revokeWhenAsked(s, s.oldKey.id);
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    // Without the rule the revoked key's 403s would read as "valid, without a scope": keyrot would poll to the timeout.
    expect(json(r).steps.map((st: any) => st.phase)).toEqual(['create', 'verify-new', 'hand-over', 'wait', 'revoke', 'verify-old', 'finish']);
    expect(await s.status(s.oldKey.plaintext)).toBe(403);
    expect(await s.status(minted.plaintext)).toBe(200);
    expect(await s.journal()).toBeNull();
  });

  it('a key of another organization is refused before the hand-over (exit 19)', async () => {
    const s = await platformSetup('kubeadapt', { kubeadaptDocs: 'earlier' });
    const other = s.sandbox.mint({ name: NEW, scopes: EARLIER_SCOPES, account: 'staging' });
    const r = await s.main(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes', '--json'], { stdin: other.plaintext });
    expect(r.code, r.stderr).toBe(19);
    expect(json(r).error.message).toMatch(/does not reach cl-prod-eu, cl-prod-us/);
  });

  it("a revoked admin key: a rotation stops at once with the answer's own words (exit 3), and changes nothing", async () => {
    const s = await platformSetup('kubeadapt', { kubeadaptDocs: 'earlier' });
    const minted = s.sandbox.mint({ name: NEW, scopes: EARLIER_SCOPES });
    s.sandbox.revoke(s.oldKey.id);
    const r = await s.main(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes'], { stdin: minted.plaintext });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/Invalid API key/);
    expect(await readFile(s.keyFile, 'utf8')).toBe(s.oldKey.plaintext);
    expect(await s.journal()).toBeNull();
  });
});

const KILL_POINTS: KillPoint[] = [
  {
    name: 'after the minted key is stored, while it is proven',
    faults: [{ method: 'GET', path: '/clusters', action: 'delay', delayMs: 8_000, times: 0 }],
    until: atPhase('verify-new'),
  },
  { name: 'during the hand-over (the hook hangs)', hang: true, until: atPhase('hand-over', 'started') },
  { name: 'while polling for the revoke', until: atPhase('verify-old') },
];

describe.skipIf(!HAS_KEYCHAIN)('keyrot --provider kubeadapt rotate survives kill -9 at every step', () => {
  it.each(KILL_POINTS)('$name, then --resume', async (point) => {
    const s = await platformSetup('kubeadapt');
    const minted = s.sandbox.mint({ name: NEW, scopes: SCOPES });
    await killAt(s, ['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, ...FAST, '--yes'], point, { stdin: minted.plaintext });
    // The minted key is in the keychain: the resume never asks for it again.
    const done = collect(s.spawn(['rotate', '--resume', '--yes', ...FAST]), 60_000);
    await revokeWhenAsked(s, s.oldKey.id);
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    await expectRotated(s, minted);
  });
});

// Kubeadapt's revoked-as-403 rule (earlier docs) holds across --resume: the journal keeps what the old key reached.

describe.skipIf(!HAS_KEYCHAIN)('Kubeadapt revoked-as-403 across --resume', () => {
  it('a rotation paused at verify-old, whose old key is then revoked to 403, finishes on --resume (a new process)', async () => {
    const s = await platformSetup('kubeadapt', { kubeadaptDocs: 'earlier', kubeadaptRevokedStatus: 403 });
    s.sandbox.setRevokeIneffective(true);
    const minted = s.sandbox.mint({ name: NEW, scopes: EARLIER_SCOPES });
    const child = s.spawn(['rotate', '--key', 'prod-exporter', '--new-key-stdin', '--on-new-key', s.hook, '--poll-interval', '200ms', '--wait-timeout', '3s', '--yes'], { stdin: minted.plaintext });
    const done = collect(child, 60_000);
    await s.waitForJournal((j) => j.awaiting === 'revoke');
    s.sandbox.revoke(s.oldKey.id);
    const r = await done;
    expect(r.code, r.stderr).toBe(18);
    s.sandbox.setRevokeIneffective(false);
    s.sandbox.revoke(s.oldKey.id);
    expect(await s.status(s.oldKey.plaintext)).toBe(403);
    const resumed = await s.run(['rotate', '--resume', '--yes', '--poll-interval', '200ms', '--wait-timeout', '3s']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await s.journal()).toBeNull();
  });
});

// The assisted rotation as a person meets it in a terminal: keyrot says what to click, asks for the minted key at a
// hidden prompt (never echoed), asks to confirm the hand-over, then says what to revoke and notices the revoke.
const terminals: Terminal[] = [];
afterEach(() => {
  while (terminals.length) terminals.pop()?.kill();
});

describe.skipIf(!HAS_KEYCHAIN || !HAS_TMUX)('keyrot --provider kubeadapt rotate in a terminal', () => {
  it('shows what to click, takes the key at a hidden prompt, and finishes once the old key is revoked in the dashboard', async () => {
    const s = await platformSetup('kubeadapt');
    const { CI: _ci, NO_COLOR: _noColor, ...env } = s.env;
    const t = startTerminal(['--provider', 'kubeadapt', 'rotate', '--key', 'prod-exporter', '--poll-interval', '200ms'], env, s.dir);
    terminals.push(t);
    await t.waitFor(/Rotate prod-exporter of organization\?/);
    expect(t.screen()).toMatch(/ask you to mint prod-exporter-v2 in Kubeadapt's dashboard with prod-exporter's scopes/);
    t.send('y', true);
    t.send('Enter');
    await t.waitFor(/Paste the new key prod-exporter-v2 \(input hidden\)/);
    expect(t.screen()).toMatch(/click \+ Create Key, name it prod-exporter-v2, and give it the same scopes/);
    const minted = s.sandbox.mint({ name: 'prod-exporter-v2', scopes: ['clusters:read', 'namespaces:read', 'nodes:read', 'organization:read', 'workloads:read'] });
    t.send(minted.plaintext, true);
    t.send('Enter');
    await t.waitFor(/Update every consumer of prod-exporter to the new key prod-exporter-v2 .*Done\?/s);
    t.send('y', true);
    t.send('Enter');
    await t.waitFor(/revoke prod-exporter \(the key ending .{5}\)/);
    s.sandbox.revoke(s.oldKey.id);
    const screen = await t.waitFor(/KEYROT-EXIT=\d+/, 30_000);
    expect(t.exitCode(), screen).toBe(0);
    expect(screen).toMatch(/✔ Verify the old key is rejected · rejected \(401\): revoked in the dashboard/);
    expect(screen).toMatch(/Rotated organization: prod-exporter-v2 replaces prod-exporter/);
    expect(screen).not.toContain(minted.plaintext);
    expect(screen).not.toContain(s.oldKey.plaintext);
  });
});

describe('keyrot --provider kubeadapt demo', () => {
  it('--provider kubeadapt plays the person at the dashboard: mints, pipes the key in, revokes when asked', async () => {
    const h = await harness();
    const r = await h.run(['--provider', 'kubeadapt', 'demo'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/printf %s '<the minted key>' \| keyrot --provider kubeadapt rotate --key prod-exporter --new-key-stdin/);
    expect(r.stderr).toMatch(/Verify the old key is rejected · rejected \(401\): revoked in the dashboard/);
    expect(r.stderr).toMatch(/0 rejected\./);
  });

  // The demo stores its keys in the OS keychain when there is one, and removes them at the end: only its own. A real
  // Kubeadapt key's entry has the same account ("org" everywhere), and its plaintext may be the only copy.
  it.skipIf(!HAS_KEYCHAIN)('--provider kubeadapt leaves the keychain entry of a real Kubeadapt key alone', async () => {
    const h = await harness();
    const real = 'kubeadapt:org:ka-0123456789ab';
    await keychainSet(real, 'the plaintext of a real Kubeadapt key');
    try {
      const r = await h.run(['--provider', 'kubeadapt', 'demo'], { timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(await keychainGet(real)).toBe('the plaintext of a real Kubeadapt key');
    } finally {
      await keychainDelete(real);
    }
  });
});
