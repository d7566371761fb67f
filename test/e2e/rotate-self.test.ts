// keyrot rotate --self: the admin key itself, rotated with the guarantees of any rotation. Each test runs under a
// profile of its own, so its admin key entry ("<profile>/vultr:admin") never meets another test's.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, collect, harness, json, keychainGet, type Harness, type RunOptions, type RunResult } from '../helpers/e2e.js';
import { authStatus, findLeaks } from '../helpers/consumer.js';
import { inProcess } from '../helpers/in-process.js';
import type { FaultSpec } from '../../src/sandbox/server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length)
    await cleanups
      .pop()?.()
      .catch(() => undefined);
});

interface SelfSetup {
  h: Harness;
  profile: string;
  dir: string;
  run(args: string[], opts?: RunOptions): ReturnType<Harness['run']>;
  /** The same through keyrot's main() in this process: for what needs no process of its own. */
  main(args: string[], opts?: RunOptions): ReturnType<Harness['run']>;
  /** The admin user's own keys at the provider. */
  ownKeys(): Array<{ id: string; name: string; plaintext: string }>;
  adminEntry(): Promise<string | null>;
  journal(): Promise<any | null>;
  outputs: string[];
}

/** A sandbox, a profile pointing at it, and the admin key stored by keyrot login (unless `login` is false). */
async function selfSetup(login = true): Promise<SelfSetup> {
  const h = await harness();
  const profile = `self-${randomBytes(4).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'keyrot-self-'));
  await mkdir(join(dir, 'config', 'keyrot'), { recursive: true });
  await writeFile(join(dir, 'config', 'keyrot', 'config'), `[${profile}]\napi-url = ${h.sandbox.url}\n`);
  const outputs: string[] = [];
  const base = { XDG_CONFIG_HOME: join(dir, 'config'), KEYROT_PROFILE: profile, VULTR_API_URL: undefined, VULTR_API_KEY: undefined };
  const record = (r: RunResult) => {
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const run = async (args: string[], opts: RunOptions = {}) => record(await h.run(args, { ...opts, env: { ...base, ...opts.env } }));
  const main = async (args: string[], opts: RunOptions = {}) => record(await inProcess(h, args, { ...opts, env: { ...base, ...opts.env } }));
  cleanups.push(async () => {
    await main(['logout', '--yes']);
    await rm(dir, { recursive: true, force: true });
  });
  if (login) expect((await main(['login', '--with-key-stdin'], { stdin: `${h.sandbox.adminKey}\n` })).code).toBe(0);
  const journalFile = join(h.stateDir, 'keyrot', 'profiles', profile, 'rotations', 'vultr-self.json');
  return {
    h,
    profile,
    dir,
    run,
    main,
    outputs,
    ownKeys: () => h.keysOf('admin@example.com'),
    adminEntry: () => keychainGet(`${profile}/vultr:admin`),
    journal: async () => JSON.parse(await readFile(journalFile, 'utf8').catch(() => 'null')),
  };
}

/** The end state of every self-rotation: one own key, held as the admin key, working; the old key rejected. */
async function expectSelfRotated(s: SelfSetup): Promise<void> {
  const keys = s.ownKeys();
  expect(keys.map((k) => k.name)).toEqual(['keyrot-sandbox-admin-v2']);
  expect(await s.adminEntry()).toBe(keys[0]!.plaintext);
  expect(await authStatus(s.h, keys[0]!.plaintext)).toBe(200);
  expect(await authStatus(s.h, s.h.sandbox.adminKey)).toBe(401);
  const who = await s.main(['whoami', '--json']);
  expect(json(who)).toMatchObject({ source: 'keychain', maskedKey: `****${keys[0]!.plaintext.slice(-5)}` });
  const secrets = [s.h.sandbox.adminKey, ...keys.map((k) => k.plaintext)];
  expect(findLeaks(secrets, Object.fromEntries(s.outputs.map((o, i) => [`output ${i}`, o])))).toEqual([]);
}

describe.skipIf(!HAS_KEYCHAIN)('keyrot rotate --self', () => {
  it('keyrot login with the old key during a --keep-old grace period: --resume puts the new key back in the entry before revoking', async () => {
    const s = await selfSetup();
    expect((await s.main(['rotate', '--self', '--keep-old', '--yes'])).code).toBe(0);
    // The old key still works, so login proves it and stores it again.
    expect((await s.main(['login', '--with-key-stdin'], { stdin: `${s.h.sandbox.adminKey}\n` })).code).toBe(0);
    expect(await s.adminEntry()).toBe(s.h.sandbox.adminKey);
    const r = await s.main(['rotate', '--self', '--resume', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/held the old key keyrot-sandbox-admin again/);
    await expectSelfRotated(s);
  });

  it('rotates the stored admin key: the new key is installed before the old one is deleted with it, and proven rejected', async () => {
    const s = await selfSetup();
    const r = await s.run(['rotate', '--self', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = json(r);
    expect(out.steps.find((st: { phase: string }) => st.phase === 'verify-old').detail).toMatch(/rejected \(401\)/);
    // The delete of the old key was made with the new key.
    const del = s.h.sandbox.requests().find((q) => q.method === 'DELETE');
    expect(del?.path).toMatch(/^\/v2\/apikeys\//);
    expect(del?.userEmail).toBe('admin@example.com');
    await expectSelfRotated(s);
  });

  it('an admin key from the environment needs --on-new-key: refused before any change, then done with a hook', async () => {
    const s = await selfSetup(false);
    const env = { VULTR_API_KEY: s.h.sandbox.adminKey };
    const refused = await s.main(['rotate', '--self', '--yes'], { env });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/comes from VULTR_API_KEY/);
    expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
    const secretFile = join(s.dir, 'ci-secret');
    const hook = `cat > '${secretFile}'`;
    const r = await s.main(['rotate', '--self', '--on-new-key', hook, '--store', 'none', '--yes'], { env });
    expect(r.code, r.stderr).toBe(0);
    const keys = s.ownKeys();
    expect(keys.map((k) => k.name)).toEqual(['keyrot-sandbox-admin-v2']);
    expect((await readFile(secretFile, 'utf8')).trim()).toBe(keys[0]!.plaintext);
    expect(await authStatus(s.h, s.h.sandbox.adminKey)).toBe(401);
  });

  it('a failing --on-new-key stops before the old key is touched (exit 12); --abort puts everything back', async () => {
    const s = await selfSetup();
    const r = await s.main(['rotate', '--self', '--on-new-key', 'exit 3', '--yes']);
    expect(r.code, r.stderr).toBe(12);
    expect(s.ownKeys()).toHaveLength(2);
    expect(await authStatus(s.h, s.h.sandbox.adminKey)).toBe(200);
    const aborted = await s.main(['rotate', '--self', '--abort', '--yes']);
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(s.ownKeys().map((k) => k.plaintext)).toEqual([s.h.sandbox.adminKey]);
    // The admin entry holds a working key again: the old one.
    expect(await s.adminEntry()).toBe(s.h.sandbox.adminKey);
    expect((await s.main(['whoami'])).code).toBe(0);
  });

  it('an own-key create answered without a key (POST /apikeys, 202 and no body): deleted, exit 6, the admin key unchanged', async () => {
    const s = await selfSetup();
    s.h.sandbox.addFault({ method: 'POST', path: '/apikeys', action: 'empty-answer' });
    const r = await s.main(['rotate', '--self', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(6);
    expect(json(r).error.hint).not.toMatch(/--user|--resume/);
    expect(s.ownKeys().map((k) => k.plaintext)).toEqual([s.h.sandbox.adminKey]);
    expect(await s.adminEntry()).toBe(s.h.sandbox.adminKey);
  });

  const HOLD = 20_000;
  const points: Array<[string, FaultSpec[], (j: any) => boolean]> = [
    ['the create, after the provider made the key', [{ method: 'POST', path: '/apikeys', action: 'delay-after', delayMs: HOLD }], (j) => j.phase === 'create' && j.phaseStatus === 'started'],
    // The first GET /account is keyrot's own whoami (let through); the second tests the new key.
    [
      'verifying the new key',
      [
        { method: 'GET', path: '/account', action: 'delay', delayMs: 0 },
        { method: 'GET', path: '/account', action: 'delay', delayMs: HOLD },
      ],
      (j) => j.phase === 'verify-new',
    ],
    ['the revoke, after the provider acted', [{ method: 'DELETE', path: '/apikeys/*', action: 'delay-after', delayMs: HOLD }], (j) => j.phase === 'revoke' && j.phaseStatus === 'started'],
    // GET /account: whoami, the new key verified, its ACLs compared (the new key, proven seconds ago by this run, is not
    // asked again before the revoke); then the old key tested by the revoke's delete-and-confirm.
    [
      'confirming the old key is rejected',
      [
        { method: 'GET', path: '/account', action: 'delay', delayMs: 0, times: 3 },
        { method: 'GET', path: '/account', action: 'delay', delayMs: HOLD },
      ],
      (j) => j.phase === 'revoke' && j.phaseStatus === 'started',
    ],
  ];
  it.each(points)('kill -9 during %s, then --resume: one working admin key, always held', async (_label, faults, until) => {
    const s = await selfSetup();
    for (const fault of faults) s.h.sandbox.addFault(fault);
    const child = s.h.spawn(['rotate', '--self', '--yes'], { env: { XDG_CONFIG_HOME: join(s.dir, 'config'), KEYROT_PROFILE: s.profile, VULTR_API_URL: undefined, VULTR_API_KEY: undefined } });
    const done = collect(child, 60_000);
    for (let i = 0; i < 1000 && !until((await s.journal()) ?? {}); i++) await sleep(15);
    expect(until((await s.journal()) ?? {})).toBe(true);
    child.kill('SIGKILL');
    await done;
    s.h.sandbox.clearFaults();
    // Whatever the point, the keychain holds a working admin key.
    const entry = await s.adminEntry();
    expect(entry).not.toBeNull();
    expect(await authStatus(s.h, entry!)).toBe(200);
    const resumed = await s.run(['rotate', '--self', '--resume', '--yes']);
    expect(resumed.code, resumed.stderr).toBe(0);
    await expectSelfRotated(s);
  });

  it('kill -9 during the hand-over hook (the admin entry already switched), then --resume', async () => {
    const s = await selfSetup();
    const flag = join(s.dir, 'hang');
    await writeFile(flag, '');
    const running = join(s.dir, 'running');
    const hook = `: > '${running}'; if [ -f '${flag}' ]; then sleep 30; fi; cat >/dev/null`;
    const child = s.h.spawn(['rotate', '--self', '--on-new-key', hook, '--yes'], {
      env: { XDG_CONFIG_HOME: join(s.dir, 'config'), KEYROT_PROFILE: s.profile, VULTR_API_URL: undefined, VULTR_API_KEY: undefined },
    });
    const done = collect(child, 60_000);
    for (let i = 0; i < 1000 && (await s.journal())?.phase !== 'hand-over'; i++) await sleep(15);
    for (let i = 0; i < 200 && (await s.adminEntry()) === s.h.sandbox.adminKey; i++) await sleep(15);
    // The hook's process group is journaled while it runs, as for any hand-over.
    for (let i = 0; i < 200 && !(await s.journal())?.hookProcess; i++) await sleep(15);
    expect((await s.journal())?.hookProcess?.pid).toBeGreaterThan(0);
    // ...and its command starts once that is journaled (runShell's go line): the kill lands while it sleeps.
    for (let i = 0; i < 200 && !existsSync(running); i++) await sleep(15);
    child.kill('SIGKILL');
    await done;
    await rm(flag);
    const entry = await s.adminEntry();
    expect(await authStatus(s.h, entry!)).toBe(200);
    const resumed = await s.run(['rotate', '--self', '--resume', '--yes']);
    expect(resumed.code, resumed.stderr).toBe(0);
    // The hook the killed run left sleeping is stopped before --resume hands the key over again.
    expect(resumed.stderr).toMatch(/Stopped the --on-new-key hook an interrupted run left running/);
    await expectSelfRotated(s);
  });

  it('--store none with the admin key from a CI secret: kill -9 after the hook stored the new key, then the next job resumes with it', async () => {
    const s = await selfSetup(false);
    const secretFile = join(s.dir, 'ci-secret');
    await writeFile(secretFile, s.h.sandbox.adminKey);
    const flag = join(s.dir, 'hang');
    await writeFile(flag, '');
    // The hook stores the key as the CI secret, then hangs: the job is killed before keyrot hears back.
    const hook = `cat > '${secretFile}.tmp' && mv '${secretFile}.tmp' '${secretFile}'; if [ -f '${flag}' ]; then sleep 30; fi`;
    const env = { XDG_CONFIG_HOME: join(s.dir, 'config'), KEYROT_PROFILE: s.profile, VULTR_API_URL: undefined, VULTR_API_KEY: s.h.sandbox.adminKey };
    const child = s.h.spawn(['rotate', '--self', '--store', 'none', '--on-new-key', hook, '--yes'], { env });
    const done = collect(child, 60_000);
    const secret = async () => (await readFile(secretFile, 'utf8')).trim();
    for (let i = 0; i < 1000 && (await secret()) === s.h.sandbox.adminKey; i++) await sleep(15);
    child.kill('SIGKILL');
    await done;
    await rm(flag);
    const stored = await secret();
    expect(stored).not.toBe(s.h.sandbox.adminKey);
    // The next job runs with what the CI secret holds now: the new key.
    const resumed = await s.run(['rotate', '--self', '--store', 'none', '--resume', '--on-new-key', hook, '--yes'], { env: { VULTR_API_KEY: stored } });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(s.ownKeys().map((k) => k.plaintext)).toEqual([stored]);
    expect(await secret()).toBe(stored);
    expect(await authStatus(s.h, stored)).toBe(200);
    expect(await authStatus(s.h, s.h.sandbox.adminKey)).toBe(401);
  });

  it('--store none cancelled (SIGTERM) while the own-key create is in flight: the new admin key is deleted through /apikeys', async () => {
    const s = await selfSetup(false);
    s.h.sandbox.addFault({ method: 'POST', path: '/apikeys', action: 'delay-after', delayMs: 20_000 });
    const env = { XDG_CONFIG_HOME: join(s.dir, 'config'), KEYROT_PROFILE: s.profile, VULTR_API_URL: undefined, VULTR_API_KEY: s.h.sandbox.adminKey };
    const child = s.h.spawn(['rotate', '--self', '--store', 'none', '--on-new-key', 'cat >/dev/null', '--yes'], { env });
    const done = collect(child, 60_000);
    for (let i = 0; i < 1000 && s.ownKeys().length < 2; i++) await sleep(15);
    expect(s.ownKeys()).toHaveLength(2);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).not.toMatch(/could not be cleaned up/);
    expect(s.ownKeys().map((k) => k.plaintext)).toEqual([s.h.sandbox.adminKey]);
  });
});
