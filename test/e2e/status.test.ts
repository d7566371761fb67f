// keyrot status as an operator reads it the morning after: which rotations are unfinished, paused (--keep-old, with
// the grace period left) or failed, what is live and the command that goes on; what finished recently; and keychain
// entries of keys that no longer exist, removed only with consent.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, collect, json, keychainAccounts, keychainGet } from '../helpers/e2e.js';
import { accountOf, journalPath, keychainDelete, keychainSet, readJournal, rotationSetup as setup, waitForJournal } from '../helpers/consumer.js';
import { HAS_TMUX, startTerminal, type Terminal } from '../helpers/tmux.js';

const terminals: Terminal[] = [];
afterEach(() => {
  while (terminals.length) terminals.pop()?.kill();
});

const OPS = 'ops@example.com';
const DAY = 86_400_000;

describe.skipIf(!HAS_KEYCHAIN)('keyrot status', () => {
  it('nothing under way: says so, exit 0; --json is one document', async () => {
    const s = await setup({ holdOldKey: false });
    const r = await s.main('status', ['status']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/No unfinished rotation\./);
    expect(r.stdout).toMatch(/No finished rotation yet\./);
    const j = await s.main('status json', ['status', '--json']);
    expect(j.code, j.stderr).toBe(0);
    expect(json(j)).toMatchObject({ rotations: [], damagedJournals: [], recent: [], keychain: { checked: true, stale: [] } });
  });

  it('a paused --keep-old rotation: both keys live, the grace period left, the command to finish; overdue once it ends', async () => {
    const s = await setup();
    const paused = await s.main('keep-old', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', '--keep-old', '3d', '--yes']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toMatch(/Both keys are live \(--keep-old\) for the grace period, until \d{4}-\d\d-\d\dT.*keyrot status shows the time left/);
    const newKey = s.keys().find((k) => k.name === 'ops-deploy-v2')!;
    const j = await s.main('status json', ['status', '--json']);
    expect(j.code, j.stderr).toBe(0);
    const [rotation] = json(j).rotations;
    expect(rotation).toMatchObject({
      userEmail: OPS,
      state: 'paused',
      oldKey: { id: s.oldKey.id, name: 'ops-deploy', state: 'live' },
      newKey: { id: newKey.id, name: 'ops-deploy-v2', state: 'live' },
      grace: { overdue: false },
      next: [
        { command: 'keyrot rotate --user ops@example.com --resume', does: 'ends the grace period; revokes ops-deploy at the end' },
        { command: 'keyrot rotate --user ops@example.com --abort', does: expect.stringMatching(/rolls back/) },
      ],
    });
    expect(rotation.grace.remainingMs).toBeGreaterThan(2 * DAY);
    expect(rotation.grace.remainingMs).toBeLessThanOrEqual(3 * DAY);
    const human = await s.main('status', ['status']);
    expect(human.stdout).toMatch(/ops@example\.com {2}ops-deploy → ops-deploy-v2 {2}paused with both keys live \(--keep-old\)/);
    expect(human.stdout).toMatch(/grace {2}(2d 23h|3d 00h) left \(ends \d{4}-/);
    expect(human.stdout).toMatch(/next {3}keyrot rotate --user ops@example\.com --resume/);
    // The grace period is over: status says so, loudly.
    const record = await readJournal(s.h, s.user.id);
    await writeFile(journalPath(s.h, s.user.id), JSON.stringify({ ...record, graceUntil: new Date(Date.now() - 2 * 3_600_000).toISOString() }));
    const over = await s.main('status over', ['status']);
    expect(over.stdout).toMatch(/grace {2}OVER by 2h 0\dm .*finish it now/);
    expect(json(await s.main('status over json', ['status', '--json'])).rotations[0].grace).toMatchObject({ remainingMs: 0, overdue: true });
    // The command status gives finishes it; the rotation then shows under recent ones.
    const finished = await s.main('resume', ['rotate', '--user', OPS, '--resume', '--yes']);
    expect(finished.code, finished.stderr).toBe(0);
    const after = json(await s.main('status after', ['status', '--json']));
    expect(after.rotations).toEqual([]);
    expect(after.recent).toMatchObject([{ userEmail: OPS, status: 'done', oldKey: { name: 'ops-deploy' }, newKey: { name: 'ops-deploy-v2' } }]);
    expect((await s.main('status after human', ['status'])).stdout).toMatch(/Recent rotations \(1\)\n {2}\d{4}-\d\d-\d\d \d\d:\d\d {2}ops@example\.com {2}ops-deploy → ops-deploy-v2 {2}done/);
    expect(await s.sc.leaks()).toEqual([]);
  });

  it('the commands it prints are safe to paste: an e-mail with shell metacharacters is quoted, and runs nothing', async () => {
    const s = await setup();
    const canary = join(s.dir, 'pwned');
    const email = `ops&touch\${IFS}${canary}&\`touch\${IFS}${canary}\`@example.com`;
    await fetch(`${s.h.sandbox.controlUrl}/users/${s.user.id}`, { method: 'POST', body: JSON.stringify({ email }) });
    const paused = await s.main('keep-old', ['rotate', '--user', s.user.id, '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes']);
    expect(paused.code, paused.stderr).toBe(0);
    const [rotation] = json(await s.main('status json', ['status', '--json'])).rotations;
    for (const { command } of rotation.next as Array<{ command: string }>) {
      // The pasted line, with keyrot swapped for printf: one argument per line, exactly as keyrot would get them.
      const pasted = spawnSync('sh', ['-c', command.replace(/^keyrot /, "printf '%s\\n' ")], { encoding: 'utf8' });
      expect(pasted.stdout.split('\n')).toContain(email);
    }
    expect(existsSync(canary)).toBe(false);
  });

  it('--keep-old without a period: 7 days, as the plan says', async () => {
    const s = await setup();
    const paused = await s.main('keep-old', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes', '--json']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(json(paused)).toMatchObject({ status: 'paused', graceUntil: expect.stringMatching(/^\d{4}-/) });
    const { grace } = json(await s.main('status', ['status', '--json'])).rotations[0];
    expect(grace.until).toBe(json(paused).graceUntil);
    expect(grace.remainingMs).toBeGreaterThan(6 * DAY);
    expect(grace.remainingMs).toBeLessThanOrEqual(7 * DAY);
    const bad = await s.main('bad grace', ['rotate', '--user', 'ci@example.com', '--keep-old', 'soon', '--no-wait', '--yes']);
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(/--keep-old: "soon" is not a duration/);
  });

  it('a failed rotation: what stopped it, what is live, --resume or --abort', async () => {
    const s = await setup();
    await writeFile(join(s.dir, 'hook-fail'), '');
    const failed = await s.main('rotate', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(failed.code, failed.stderr).toBe(12);
    const [rotation] = json(await s.main('status', ['status', '--json'])).rotations;
    expect(rotation).toMatchObject({ state: 'failed', phase: 'hand-over', error: { code: 'hook_failed' }, oldKey: { state: 'live' }, newKey: { state: 'live' } });
    expect(rotation.next.map((n: { command: string }) => n.command)).toEqual(['keyrot rotate --user ops@example.com --resume', 'keyrot rotate --user ops@example.com --abort']);
    expect(rotation.next[0].does).toBe('continues from "Hand the new key to consumers"; revokes ops-deploy at the end');
    const human = await s.main('status human', ['status']);
    expect(human.stdout).toMatch(/failed at "Hand the new key to consumers": --on-new-key exited with code 3.*\(hook failed\)/);
    expect(human.stdout).toMatch(/live {3}ops-deploy \(.*\) and ops-deploy-v2 \(/);
    expect(await s.sc.leaks()).toEqual([]);
  });

  it('a rotation whose keyrot runs now is "in progress" (pid, no command); killed, it is "interrupted" with --resume', async () => {
    const s = await setup();
    await writeFile(join(s.dir, 'hook-hang'), '');
    const child = s.h.spawn(['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', '--yes', '--hook-timeout', '60s']);
    const ended = collect(child, 60_000);
    await waitForJournal(s.h, s.user.id, (r) => r.phase === 'hand-over' && r.phaseStatus === 'started');
    const running = json(await s.main('status running', ['status', '--json'])).rotations[0];
    expect(running).toMatchObject({ state: 'in-progress', pid: child.pid, next: [] });
    expect((await s.main('status running human', ['status'])).stdout).toMatch(new RegExp(`in progress at "Hand the new key to consumers" \\(keyrot pid ${child.pid}`));
    child.kill('SIGKILL');
    await ended;
    const killed = json(await s.main('status killed', ['status', '--json'])).rotations[0];
    expect(killed).toMatchObject({ state: 'interrupted', pid: null });
    expect(killed.next[0].command).toBe('keyrot rotate --user ops@example.com --resume');
  });

  it('a damaged journal is named, with the way out', async () => {
    const s = await setup();
    await s.h.run(['list-users']);
    const path = journalPath(s.h, s.user.id);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, '{"version": 1, "id": "trunc');
    const r = await s.main('status', ['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).damagedJournals).toEqual([path]);
    expect((await s.main('status human', ['status'])).stdout).toContain(`mv '${path}' '${path}.damaged'`);
  });

  it("--profile: status shows that profile's rotations with --profile in its commands; get reads that profile's keychain entries", async () => {
    const s = await setup({ holdOldKey: false });
    const config = join(s.dir, 'config');
    await mkdir(join(config, 'keyrot'), { recursive: true });
    await writeFile(join(config, 'keyrot', 'config'), `[alpha]\napi-url = ${s.h.sandbox.url}\n`);
    const env = { env: { XDG_CONFIG_HOME: config } };
    try {
      const paused = await s.main('keep-old', ['--profile', 'alpha', 'rotate', '--user', OPS, '--no-wait', '--keep-old', '--yes', '--json'], env);
      expect(paused.code, paused.stderr).toBe(0);
      const newKey = s.keys().find((k) => k.name === 'ops-deploy-v2')!;
      expect(json(await s.main('status default', ['status', '--json'], env)).rotations).toEqual([]);
      const [rotation] = json(await s.main('status alpha', ['--profile', 'alpha', 'status', '--json'], env)).rotations;
      expect(rotation.next[0].command).toBe('keyrot --profile alpha rotate --user ops@example.com --resume');
      const got = await s.h.run(['--profile', 'alpha', 'get', '--user', OPS], env);
      expect(got.code, got.stderr).toBe(0);
      expect(got.stdout).toBe(newKey.plaintext);
      expect((await s.h.run(['get', '--user', OPS], env)).code).toBe(5);
      // A key of alpha's deleted behind keyrot's back: named as the keychain has it, and pruned there.
      const created = await s.main('create', ['--profile', 'alpha', 'create', '--user', OPS, '--name', 'gone-soon', '--force', '--json'], env);
      expect(created.code, created.stderr).toBe(0);
      const id = json(created).id as string;
      await fetch(`${s.h.sandbox.url}/users/${s.user.id}/apikeys/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${s.h.sandbox.adminKey}` } });
      const stale = json(await s.main('status stale', ['--profile', 'alpha', 'status', '--json'], env)).keychain.stale;
      expect(stale).toMatchObject([{ account: `alpha/${accountOf(s.user.id, id)}`, keyId: id }]);
      expect((await s.main('prune', ['--profile', 'alpha', 'status', '--prune', '--yes'], env)).code).toBe(0);
      expect(await keychainAccounts()).not.toContain(`alpha/${accountOf(s.user.id, id)}`);
    } finally {
      for (const account of (await keychainAccounts()).filter((a) => a.startsWith(`alpha/vultr:${s.user.id}:`))) {
        const { AsyncEntry } = await import('@napi-rs/keyring');
        await new AsyncEntry('keyrot', account, { linux: { store: 'secret-service' } }).deleteCredential();
      }
    }
  });

  it('--state-dir: the commands status prints carry it, so they find the same journals', async () => {
    const s = await setup();
    const dir = join(s.h.stateDir, 'elsewhere');
    const paused = await s.main('keep-old', ['--state-dir', dir, 'rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(json(await s.main('status default dir', ['status', '--json'])).rotations).toEqual([]);
    const [rotation] = json(await s.main('status', ['--state-dir', dir, 'status', '--json'])).rotations;
    expect(rotation.next[0].command).toBe(`keyrot --state-dir ${dir} rotate --user ops@example.com --resume`);
    const viaEnv = json(await s.main('status env', ['status', '--json'], { env: { KEYROT_STATE_DIR: dir } })).rotations[0];
    expect(viaEnv.next[0].command).toBe('keyrot rotate --user ops@example.com --resume');
  });
});

describe.skipIf(!HAS_KEYCHAIN)('keyrot status: keychain entries of keys that no longer exist', () => {
  /** A key keyrot holds that is then deleted at the provider behind keyrot's back (the console, another tool). */
  async function deletedBehindItsBack() {
    const s = await setup({ holdOldKey: false });
    const created = await s.main('create', ['create', '--user', OPS, '--name', 'gone-soon', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const id = json(created).id as string;
    const res = await fetch(`${s.h.sandbox.url}/users/${s.user.id}/apikeys/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${s.h.sandbox.adminKey}` } });
    expect(res.status).toBeLessThan(300);
    return { s, id, account: accountOf(s.user.id, id) };
  }

  it('are listed, not removed without consent: without a terminal --prune needs --yes', async () => {
    const { s, id, account } = await deletedBehindItsBack();
    const r = await s.main('status', ['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).keychain).toMatchObject({ checked: true, stale: [{ account, userId: s.user.id, userEmail: OPS, keyId: id }], removed: [] });
    const human = await s.main('status human', ['status']);
    expect(human.stdout).toMatch(/Keychain: 1 entry of keys that no longer exist/);
    expect(human.stdout).toMatch(/Remove them: keyrot status --prune/);
    const refused = await s.main('prune refused', ['status', '--prune']);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/--yes/);
    expect(await s.held()).toContain(account);

    const pruned = await s.main('prune', ['status', '--prune', '--yes', '--json']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(json(pruned).keychain.removed).toEqual([account]);
    expect(await s.held()).not.toContain(account);
    expect(json(await s.main('status after', ['status', '--json'])).keychain.stale).toEqual([]);
    expect(await s.sc.leaks()).toEqual([]);
  });

  it("an admin key's own-key entry (rotate --self) is never pruned: it may be another account's live admin key", async () => {
    const { s } = await deletedBehindItsBack();
    const account = `vultr:self:${randomUUID()}`;
    await keychainSet(account, 'ADMINKEYOFANOTHERACCOUNT0123456789AB');
    try {
      const pruned = await s.main('prune', ['status', '--prune', '--yes', '--json']);
      expect(pruned.code, pruned.stderr).toBe(0);
      expect(json(pruned).keychain.removed).not.toContain(account);
      expect(json(pruned).keychain.unknownUsers.map((e: { account: string }) => e.account)).toContain(account);
      expect(await keychainGet(account)).toBe('ADMINKEYOFANOTHERACCOUNT0123456789AB');
    } finally {
      await keychainDelete(account);
    }
  });

  it('keys an unfinished rotation names are never stale (its finish drops them), and live keys never are', async () => {
    const s = await setup();
    const paused = await s.main('keep-old', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes']);
    expect(paused.code, paused.stderr).toBe(0);
    const r = json(await s.main('status', ['status', '--json']));
    expect(r.keychain).toMatchObject({ checked: true, stale: [] });
    expect(r.keychain.entries).toBeGreaterThanOrEqual(2);
  });

  it('without an admin key the rotations are still shown; the keychain check says why it was skipped', async () => {
    const { s } = await deletedBehindItsBack();
    const r = await s.main('status', ['status', '--json'], { env: { VULTR_API_KEY: undefined } });
    expect(r.code, r.stderr).toBe(0);
    // (Another test's stored admin key, if any, belongs to another sandbox: rejected here, so not checked either.)
    expect(json(r).keychain).toMatchObject({ checked: false, reason: expect.any(String) });
    expect(json(r).rotations).toEqual([]);
  });
});

describe.skipIf(!HAS_KEYCHAIN || !HAS_TMUX)('keyrot status in a terminal', () => {
  it('offers to remove entries of deleted keys: No (the default) keeps them, Yes removes them', async () => {
    const s = await setup({ holdOldKey: false });
    const created = await s.main('create', ['create', '--user', OPS, '--name', 'gone-soon', '--json']);
    const id = json(created).id as string;
    await fetch(`${s.h.sandbox.url}/users/${s.user.id}/apikeys/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${s.h.sandbox.adminKey}` } });
    const open = () => {
      const { CI: _ci, ...env } = s.h.env;
      const t = startTerminal(['status'], env, s.dir);
      terminals.push(t);
      return t;
    };
    const no = open();
    await no.waitFor(/Remove 1 keychain entry of keys that no longer exist at Vultr\?/);
    expect(no.screen()).toContain(accountOf(s.user.id, id));
    no.send('Enter');
    const kept = await no.waitFor(/KEYROT-EXIT=\d+/);
    expect(no.exitCode(), kept).toBe(0);
    expect(await s.held()).toContain(accountOf(s.user.id, id));

    const yes = open();
    await yes.waitFor(/Remove 1 keychain entry/);
    yes.send('y', true);
    yes.send('Enter');
    const removed = await yes.waitFor(/KEYROT-EXIT=\d+/);
    expect(yes.exitCode(), removed).toBe(0);
    expect(removed).toMatch(/Removed 1 keychain entry of keys that no longer exist/);
    expect(await s.held()).not.toContain(accountOf(s.user.id, id));
  });
});
