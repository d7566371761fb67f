// The edges of the never-lose-a-key promise, as an adversarial review found them: the old key is revoked only
// while the new key still works; commands that are not the rotation respect it; destructive modes need consent;
// --store none is remembered and cleaned up after a cancel; a stray next-generation key (another machine, a lost
// CI runner's state) stops a fresh rotation instead of making a third key.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, collect, json, keychainGet } from '../helpers/e2e.js';
import { accountOf, authStatus, keychainDelete, readJournal, requestsTo, rotationSetup, waitForJournal } from '../helpers/consumer.js';

const NO_KEYCHAIN = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus' };
const NEW_NAME = 'ops-deploy-v2';

/** A --check that proves what consumers would: the key they were handed authenticates at the provider. */
function consumerCheck(s: { h: { sandbox: { url: string } }; keyFile: string }): string {
  const script = `fetch(process.argv[1] + '/account', { headers: { authorization: 'Bearer ' + require('fs').readFileSync(process.argv[2], 'utf8').trim() } }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
  return `'${process.execPath}' -e "${script}" '${s.h.sandbox.url}' '${s.keyFile}'`;
}

describe.skipIf(!HAS_KEYCHAIN)('the old key is revoked only while the new key works', () => {
  it('the new key deleted during a --keep-old grace period (with keyrot revoke --force): --resume stops, exit 7, old key kept', async () => {
    const s = await rotationSetup();
    const paused = await s.main('keep-old', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes', '--json']);
    expect(paused.code, paused.stderr).toBe(0);
    const newKey = s.keys().find((k) => k.name === NEW_NAME)!;
    // Without --force, revoke respects the unfinished rotation.
    const refused = await s.main('revoke refused', ['revoke', '--user', s.user.email, '--key', NEW_NAME, '--yes']);
    expect(refused.code, refused.stderr).toBe(9);
    expect(refused.stderr).toMatch(/unfinished rotation/);
    expect(refused.stderr).toMatch(/--force/);
    expect(s.keys().map((k) => k.name)).toContain(NEW_NAME);
    const forced = await s.main('revoke forced', ['revoke', '--user', s.user.email, '--key', NEW_NAME, '--yes', '--force']);
    expect(forced.code, forced.stderr).toBe(0);

    const resumed = await s.main('resume', ['rotate', '--user', s.user.email, '--resume', '--yes', '--json']);
    expect(resumed.code, resumed.stderr).toBe(7);
    const err = json(resumed).error;
    expect(err.message).toMatch(/no longer listed/);
    expect(err.message).toMatch(/was NOT revoked/);
    expect(err.hint).toMatch(/--abort/);
    expect(resumed.stdout + resumed.stderr).not.toMatch(/Rotated|keychain holds only/);
    expect(s.keys().map((k) => k.id)).toEqual([s.oldKey.id]);
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
    expect(requestsTo(s.h, 'DELETE', `/users/*/apikeys/${s.oldKey.id}`)).toEqual([]);
    // --abort cleans up what is left; a fresh rotation then works.
    const aborted = await s.main('abort', ['rotate', '--user', s.user.email, '--abort', '--yes', '--json']);
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(await s.held()).not.toContain(accountOf(s.user.id, newKey.id));
    expect(await s.sc.leaks()).toEqual([]);
  });

  it("the new key's keychain entry removed during the wait: written back from memory before the revoke, never a key nobody holds", async () => {
    const s = await rotationSetup();
    // The check passes once the test says so: the entry is removed while the rotation waits for it.
    const go = join(s.dir, 'go');
    const child = s.h.spawn(['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--check', `test -f '${go}'`, '--poll-interval', '200ms', '--wait-timeout', '1m', '--yes']);
    const done = collect(child, 60_000);
    const waiting = await waitForJournal(s.h, s.user.id, (j) => j.phase === 'wait');
    await keychainDelete(accountOf(s.user.id, waiting.newKey.id));
    await s.consumer();
    await writeFile(go, '');
    const r = s.sc.output('rotate', await done);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/lost the entry of the new key[^]*wrote it back/);
    const [only] = s.keys();
    expect(only!.name).toBe(NEW_NAME);
    expect(await keychainGet(accountOf(s.user.id, only!.id))).toBe(only!.plaintext);
  });

  it('the new key expired during the grace period: --resume stops, old key kept', async () => {
    const s = await rotationSetup();
    const paused = await s.main('keep-old', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes']);
    expect(paused.code, paused.stderr).toBe(0);
    const newKey = s.keys().find((k) => k.name === NEW_NAME)!;
    await fetch(`${s.h.sandbox.controlUrl}/keys/${newKey.id}`, { method: 'POST', body: JSON.stringify({ date_expire: '2020-01-01T00:00:00Z' }) });
    const resumed = await s.main('resume', ['rotate', '--user', s.user.email, '--resume', '--yes']);
    expect(resumed.code, resumed.stderr).toBe(7);
    expect(resumed.stderr).toMatch(/expired|no longer authenticates/);
    expect(s.keys().map((k) => k.id)).toContain(s.oldKey.id);
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('commands other than the rotation respect it', () => {
  it('create for a user with an unfinished rotation is refused (exit 9) unless --force', async () => {
    const s = await rotationSetup();
    expect((await s.main('keep-old', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes'])).code).toBe(0);
    const refused = await s.main('create', ['create', '--user', s.user.email, '--name', 'extra']);
    expect(refused.code, refused.stderr).toBe(9);
    expect(s.keys().map((k) => k.name)).not.toContain('extra');
    const forced = await s.main('create forced', ['create', '--user', s.user.email, '--name', 'extra', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('a refused create leaves nothing open', () => {
  it('an old name too long to bump (255 characters): exit 2 before any change, and again the next time (never exit 9)', async () => {
    const s = await rotationSetup();
    await fetch(`${s.h.sandbox.controlUrl}/keys/${s.oldKey.id}`, { method: 'POST', body: JSON.stringify({ name: 'a'.repeat(255) }) });
    for (const label of ['first', 'second']) {
      const r = await s.main(label, ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/258 characters[^]*--name/);
    }
    expect(requestsTo(s.h, 'POST', '/users/*/apikeys')).toEqual([]);
    expect(await readJournal(s.h, s.user.id)).toBeNull();
  });

  it('a create the provider refuses (400): exit 2, the rotation is closed, and the next run starts afresh', async () => {
    const s = await rotationSetup();
    s.h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'status', status: 400 });
    const refused = await s.main('refused', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).not.toMatch(/--resume/);
    const again = await s.main('again', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(s.keys().map((k) => k.name)).toEqual([NEW_NAME]);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('keyrot does not fool its own wait', () => {
  it('verify with a key of a user whose rotation waits for its consumers is refused (exit 9) unless --force', async () => {
    const s = await rotationSetup();
    const child = s.h.spawn(['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--check', 'exit 1', '--poll-interval', '200ms', '--wait-timeout', '1m', '--yes']);
    const done = collect(child, 60_000);
    await waitForJournal(s.h, s.user.id, (j) => j.phase === 'wait');
    const r = await s.main('verify during wait', ['verify', '--user', s.user.email, '--key', NEW_NAME]);
    expect(r.code, r.stderr).toBe(9);
    expect(r.stderr).toMatch(/waiting for its consumers[^]*--force/);
    // No call with the user's keys was made, so the wait goes on: the old key is still there.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await readJournal(s.h, s.user.id)).phase).toBe('wait');
    expect(
      s
        .keys()
        .map((k) => k.name)
        .sort(),
    ).toEqual(['ops-deploy', NEW_NAME]);
    child.kill('SIGTERM');
    expect((await done).code).toBe(130);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('destructive modes need consent', () => {
  it('--resume and --abort without --yes and without a terminal change nothing (exit 2); --abort names a hand-over already done', async () => {
    const s = await rotationSetup();
    expect((await s.main('keep-old', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes'])).code).toBe(0);
    const before = JSON.stringify(s.keys());
    const journal = await readJournal(s.h, s.user.id);
    for (const mode of ['--resume', '--abort']) {
      const r = await s.main(mode, ['rotate', '--user', s.user.email, mode]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--yes/);
      expect(JSON.stringify(s.keys())).toBe(before);
      expect(await readJournal(s.h, s.user.id)).toEqual(journal);
    }
    const abort = await s.main('abort', ['rotate', '--user', s.user.email, '--abort']);
    expect(abort.stderr).toMatch(/ops-deploy-v2, which consumers were given at/);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('--store none is remembered, and cleaned up after a cancel', () => {
  it('--resume and --abort follow the journal, not the flags: no keychain is needed or mentioned', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const paused = await s.run('keep-old', ['rotate', '--user', s.user.email, '--store', 'none', '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes'], { env: NO_KEYCHAIN });
    expect(paused.code, paused.stderr).toBe(0);
    // No --store flag now: the journal says none. The new key's plaintext is gone with the first process, so
    // keyrot cannot test it itself: without --check the resume is refused at once (exit 2, nothing changed),
    // never claiming a keychain.
    const unproven = await s.run('resume without --check', ['rotate', '--user', s.user.email, '--resume', '--yes'], { env: NO_KEYCHAIN });
    expect(unproven.code, unproven.stderr).toBe(2);
    expect(unproven.stderr).toMatch(/keeps no copy of ops-deploy-v2 \(--store none\): it cannot prove the new key works before revoking ops-deploy\.[^]*--check/);
    expect(unproven.stderr).not.toMatch(/keychain/i);
    expect(
      s
        .keys()
        .map((k) => k.name)
        .sort(),
    ).toEqual(['ops-deploy', NEW_NAME]);
    const resumed = await s.run('resume', ['rotate', '--user', s.user.email, '--resume', '--yes', '--check', consumerCheck(s)], { env: NO_KEYCHAIN });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toMatch(/keychain/i);
    expect(s.keys().map((k) => k.name)).toEqual([NEW_NAME]);
    expect(await s.sc.leaks()).toEqual([]);
  });

  it('--store none, resumed after the new key stopped authenticating: --check fails, the old key is kept (exit 7)', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const paused = await s.run('keep-old', ['rotate', '--user', s.user.email, '--store', 'none', '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes'], { env: NO_KEYCHAIN });
    expect(paused.code, paused.stderr).toBe(0);
    const newKey = s.keys().find((k) => k.name === NEW_NAME)!;
    // An IP allow-list the runner is not on: the key is listed and unexpired, and rejected.
    await fetch(`${s.h.sandbox.controlUrl}/keys/${newKey.id}`, { method: 'POST', body: JSON.stringify({ allowedIps: ['203.0.113.7/32'] }) });
    const resumed = await s.run('resume', ['rotate', '--user', s.user.email, '--resume', '--yes', '--check', consumerCheck(s)], { env: NO_KEYCHAIN });
    expect(resumed.code, resumed.stderr).toBe(7);
    expect(resumed.stderr).toMatch(/failed --check[^]*NOT revoked/);
    expect(resumed.stdout + resumed.stderr).not.toMatch(/Rotated/);
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
    expect(requestsTo(s.h, 'DELETE', `/users/*/apikeys/${s.oldKey.id}`)).toEqual([]);
  });

  it('--emergency with --store none is refused before any change (the only key would live in memory alone)', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const r = await s.run('emergency store none', ['rotate', '--user', s.user.email, '--emergency', '--store', 'none', '--on-new-key', s.hook, '--yes'], { env: NO_KEYCHAIN });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')[0]).toMatch(/--emergency[^]*--store none/);
    expect(r.stderr).toMatch(/--no-wait/);
    expect(requestsTo(s.h, 'POST', '/users/*/apikeys')).toEqual([]);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy']);
  });

  it('a --store none rotation cancelled before the hand-over (SIGTERM, as a cancelled CI job) deletes the new key and writes nothing to disk', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    await writeFile(join(s.dir, 'hook-hang'), '');
    const child = s.h.spawn(['rotate', '--user', s.user.email, '--store', 'none', '--on-new-key', s.hook, '--no-wait', '--yes'], { env: NO_KEYCHAIN });
    const done = collect(child, 30_000);
    await waitForJournal(s.h, s.user.id, (j) => j.phase === 'hand-over' && j.phaseStatus === 'started');
    for (let i = 0; i < 100 && !existsSync(join(s.dir, 'hook.pid')); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    const r = s.sc.output('cancelled', await done);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/deleted the new key ops-deploy-v2/);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy']);
    // Nothing said afterwards calls the deleted key live: the cancel's message, the journal, keyrot status.
    expect(r.stderr).not.toMatch(/ops-deploy-v2 is live/);
    const journal = await readJournal(s.h, s.user.id);
    expect(JSON.stringify(journal?.lastError ?? null)).not.toMatch(/is live/);
    for (const args of [['status', '--json'], ['status']]) {
      const status = await s.run('status', args, { env: NO_KEYCHAIN });
      expect(status.stdout + status.stderr).not.toMatch(/ops-deploy-v2 is live|new key[^\n"]*is live/);
    }
    const rescue = join(s.h.stateDir, 'keyrot', 'rescue');
    expect(existsSync(rescue) ? await readdir(rescue) : []).toEqual([]);
    expect(await s.sc.leaks()).toEqual([]);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('a stray next-generation key stops a fresh rotation', () => {
  it('no journal here but ops-deploy-v2 beside ops-deploy (a lost CI runner): explains the choices, never makes a third key; --resume adopts it when held', async () => {
    const s = await rotationSetup();
    // Another run made ops-deploy-v2 and stored it, then lost its state.
    const made = await s.main('create v2', ['create', '--user', s.user.email, '--name', NEW_NAME, '--json']);
    expect(made.code, made.stderr).toBe(0);
    const posts = () => requestsTo(s.h, 'POST', '/users/*/apikeys').length;
    const before = posts();
    for (const args of [[], ['--key', 'ops-deploy']]) {
      const r = await s.main('fresh', ['rotate', '--user', s.user.email, ...args, '--on-new-key', s.hook, '--no-wait', '--yes', '--json']);
      expect(r.code, r.stderr).toBe(9);
      expect(json(r).error.message).toMatch(/already has ops-deploy-v2/);
      expect(json(r).error.hint).toMatch(/--resume/);
      expect(json(r).error.hint).toMatch(/keyrot revoke/);
    }
    expect(posts()).toBe(before);
    const adopted = await s.main('adopt', ['rotate', '--user', s.user.email, '--resume', '--on-new-key', s.hook, '--no-wait', '--yes', '--json']);
    expect(adopted.code, adopted.stderr).toBe(0);
    expect(posts()).toBe(before);
    expect(s.keys().map((k) => k.name)).toEqual([NEW_NAME]);
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(401);
    expect(await s.sc.leaks()).toEqual([]);
  });

  it('a stray key whose plaintext is not held here cannot be adopted: it says how to go on', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const runner1 = await mkdtemp(join(tmpdir(), 'keyrot-runner1-'));
    try {
      // Runner 1 (--store none) hands the key over, then times out waiting; its state folder is then lost.
      const first = await s.run(
        'runner 1',
        ['rotate', '--user', s.user.email, '--store', 'none', '--on-new-key', s.hook, '--check', 'exit 1', '--wait-timeout', '1s', '--poll-interval', '200ms', '--yes'],
        {
          env: { ...NO_KEYCHAIN, XDG_STATE_HOME: runner1 },
        },
      );
      expect(first.code, first.stderr).toBe(11);
      const second = await s.run('runner 2', ['rotate', '--user', s.user.email, '--store', 'none', '--on-new-key', s.hook, '--no-wait', '--yes'], { env: NO_KEYCHAIN });
      expect(second.code, second.stderr).toBe(9);
      expect(
        s
          .keys()
          .map((k) => k.name)
          .sort(),
      ).toEqual(['ops-deploy', NEW_NAME]);
      const adopt = await s.run('adopt', ['rotate', '--user', s.user.email, '--store', 'none', '--resume', '--yes'], { env: NO_KEYCHAIN });
      expect(adopt.code, adopt.stderr).toBe(9);
      expect(adopt.stderr).toMatch(/does not hold the plaintext of ops-deploy-v2/);
      expect(
        s
          .keys()
          .map((k) => k.name)
          .sort(),
      ).toEqual(['ops-deploy', NEW_NAME]);
    } finally {
      await rm(runner1, { recursive: true, force: true });
    }
  });
});
