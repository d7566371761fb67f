// Crash safety of keyrot rotate: kill -9 at every step boundary, then --resume. Each kill is made
// deterministic by holding keyrot at a known point with a sandbox fault (a delay before or after the provider
// acts, or a hook that hangs), polling the journal until it records the expected phase, and only then sending
// SIGKILL. Whatever the point, the resumed rotation must end with exactly one live key for the user, the one
// whose plaintext is in the keychain, without a second new key ever being kept.
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, collect, json, keychainGet } from '../helpers/e2e.js';
import type { FaultSpec } from '../../src/sandbox/server.js';
import { accountOf, authStatus, createsFor, journalPath, killHangingHook, readJournal, requestsTo, rotationSetup, waitForJournal, type RotationSetup } from '../helpers/consumer.js';

const HOLD = 20_000;
const CREATE: FaultSpec = { method: 'POST', path: '/users/*/apikeys', action: 'delay-after', delayMs: HOLD };
const NEW_NAME = 'ops-deploy-v2';

interface KillPlan {
  /** Faults in force from the start. */
  faults?: FaultSpec[];
  /** A fault added once the journal satisfies `when` (to hold a later call to a route used earlier too). */
  arm?: { when: (j: any) => boolean; fault: FaultSpec };
  /** Kill once the journal (and, if given, the sandbox) show this. */
  until: (j: any) => boolean;
  untilSandbox?: (s: RotationSetup) => boolean;
}

/** Starts a rotation, kills it with SIGKILL at the planned point; returns the journal it left. */
async function killDuring(s: RotationSetup, args: string[], plan: KillPlan): Promise<any> {
  for (const fault of plan.faults ?? []) s.h.sandbox.addFault(fault);
  const child = s.h.spawn(['rotate', '--user', s.user.email, ...args]);
  const done = collect(child, 60_000);
  try {
    if (plan.arm) {
      await waitForJournal(s.h, s.user.id, plan.arm.when);
      s.h.sandbox.addFault(plan.arm.fault);
    }
    const journal = await waitForJournal(s.h, s.user.id, (j) => plan.until(j) && (plan.untilSandbox?.(s) ?? true));
    child.kill('SIGKILL');
    const killed = s.sc.output('killed', await done);
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    return journal;
  } finally {
    child.kill('SIGKILL');
    s.h.sandbox.clearFaults();
    await s.sc.state('after kill -9');
  }
}

/**
 * --resume, then the invariants of a finished rotation. `creates`: the key creations the sandbox logged (a
 * create held by a fault when keyrot was killed is not among them: its key is checked apart).
 */
async function resumeAndCheck(s: RotationSetup, expect_: { creates: number }) {
  // A kill -9 leaves the lock of a dead process behind: --resume must take it over, not wait on it.
  expect((await s.h.stateFiles()).some((f) => f.path.endsWith('.lock'))).toBe(true);
  const r = await s.run('resume', ['rotate', '--user', s.user.email, '--resume', '--yes', '--json']);
  expect(r.code, r.stderr).toBe(0);
  const out = json(r);
  expect(out.status).toBe('done');
  const keys = s.keys();
  expect(keys.map((k) => k.name)).toEqual([NEW_NAME]);
  const live = keys[0]!;
  expect(out.newKey.id).toBe(live.id);
  expect(await keychainGet(accountOf(s.user.id, live.id))).toBe(live.plaintext);
  expect(await s.held()).toEqual([accountOf(s.user.id, live.id)]);
  expect(await authStatus(s.h, live.plaintext)).toBe(200);
  expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(401);
  expect(createsFor(s.h, s.user.id)).toHaveLength(expect_.creates);
  expect(await readJournal(s.h, s.user.id)).toBeNull();
  expect((await s.h.stateFiles()).filter((f) => f.path.endsWith('.lock'))).toEqual([]);
  expect(await s.sc.leaks()).toEqual([]);
  return { out, live, stderr: r.stderr };
}

function phaseIs(phase: string, status?: 'pending' | 'started'): (j: any) => boolean {
  return (j) => j.phase === phase && (status === undefined || j.phaseStatus === status);
}
// The create answers late enough for the verification call (GET /account, as the preflight's whoami was) to
// be held once the create is in flight.
const HOLD_AT_VERIFY_NEW: KillPlan = {
  faults: [{ ...CREATE, delayMs: 500 }],
  arm: { when: phaseIs('create', 'started'), fault: { method: 'GET', path: '/account', action: 'delay', delayMs: HOLD } },
  until: phaseIs('verify-new'),
};
const hasNewKey = (s: RotationSetup) => s.keys().some((k) => k.name === NEW_NAME);
const oldKeyGone = (s: RotationSetup) => !s.keys().some((k) => k.id === s.oldKey.id);

describe.skipIf(!HAS_KEYCHAIN)('keyrot rotate survives kill -9 at every step', () => {
  it('during the create, after the provider made the key (its answer never read): the orphan is deleted, one new key made', async () => {
    const s = await rotationSetup();
    const journal = await killDuring(s, ['--on-new-key', s.hook, '--no-wait', '--yes'], {
      faults: [CREATE],
      until: phaseIs('create', 'started'),
      untilSandbox: hasNewKey,
    });
    expect(journal.newKey.id).toBeNull();
    const orphan = s.keys().find((k) => k.name === NEW_NAME)!;
    expect(await s.held()).toEqual([accountOf(s.user.id, s.oldKey.id)]);
    const { live, stderr } = await resumeAndCheck(s, { creates: 1 });
    expect(live.id).not.toBe(orphan.id);
    expect(requestsTo(s.h, 'DELETE', `/users/*/apikeys/${orphan.id}`).map((q) => q.status)).toEqual([204]);
    expect(stderr).toMatch(/its plaintext never reached keyrot/);
  });

  it('--abort after a kill during the create deletes the key the lost answer made, and keeps the old one', async () => {
    const s = await rotationSetup();
    await killDuring(s, ['--on-new-key', s.hook, '--no-wait', '--yes'], {
      faults: [CREATE],
      until: phaseIs('create', 'started'),
      untilSandbox: hasNewKey,
    });
    const r = await s.run('abort', ['rotate', '--user', s.user.email, '--abort', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(s.keys().map((k) => k.id)).toEqual([s.oldKey.id]);
    expect(await s.held()).toEqual([accountOf(s.user.id, s.oldKey.id)]);
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
    expect(await readJournal(s.h, s.user.id)).toBeNull();
    expect(await s.sc.leaks()).toEqual([]);
  });

  it('during the create, after the keychain write but before the journal named the key: the held key is adopted', async () => {
    const s = await rotationSetup();
    // Stop right after the create (the key is stored and journaled), then put the journal back to the state a
    // kill between the keychain write and the journal write leaves: create started, no key id.
    await killDuring(s, ['--on-new-key', s.hook, '--no-wait', '--yes'], HOLD_AT_VERIFY_NEW);
    const path = journalPath(s.h, s.user.id);
    const record = JSON.parse(await readFile(path, 'utf8'));
    const created = record.newKey.id as string;
    Object.assign(record, { phase: 'create', phaseStatus: 'started', status: 'running', steps: [] });
    Object.assign(record.newKey, { id: null, lastChars: null });
    await writeFile(path, JSON.stringify(record));
    const { out, live } = await resumeAndCheck(s, { creates: 1 });
    expect(live.id).toBe(created);
    expect(out.steps[0].detail).toMatch(/recovered from the keychain/);
  });

  it('after the create, before the new key is verified', async () => {
    const s = await rotationSetup();
    const journal = await killDuring(s, ['--on-new-key', s.hook, '--no-wait', '--yes'], HOLD_AT_VERIFY_NEW);
    expect(journal.newKey.id).toEqual(expect.any(String));
    const { live } = await resumeAndCheck(s, { creates: 1 });
    expect(live.id).toBe(journal.newKey.id);
  });

  it('during the hook', async () => {
    const s = await rotationSetup();
    await writeFile(join(s.dir, 'hook-hang'), '');
    const journal = await killDuring(s, ['--on-new-key', s.hook, '--no-wait', '--yes'], {
      until: phaseIs('hand-over', 'started'),
      untilSandbox: () => existsSync(join(s.dir, 'hook.pid')),
    });
    // The hook keyrot started is on its own now: end it, and let the next run of the hook succeed.
    await killHangingHook(s.dir);
    await rm(join(s.dir, 'hook-hang'));
    const { live } = await resumeAndCheck(s, { creates: 1 });
    expect(live.id).toBe(journal.newKey.id);
    expect((await readFile(s.keyFile, 'utf8')).trim()).toBe(live.plaintext);
  });

  it('during the wait', async () => {
    const s = await rotationSetup();
    // The consumers' check passes only once the test says so: keyrot is killed while it keeps failing.
    const go = join(s.dir, 'go');
    await killDuring(s, ['--on-new-key', s.hook, '--check', `test -f '${go}'`, '--wait-timeout', '30s', '--poll-interval', '200ms', '--yes'], {
      until: phaseIs('wait'),
    });
    // The consumers work with the new key (the hook gave it) after keyrot died; the resumed wait's check says so.
    const fresh = s.keys().find((k) => k.name === NEW_NAME)!;
    await writeFile(go, '');
    const { live } = await resumeAndCheck(s, { creates: 1 });
    expect(live.id).toBe(fresh.id);
  });

  it('during the revoke, before the provider acted', async () => {
    const s = await rotationSetup();
    await killDuring(s, ['--on-new-key', s.hook, '--no-wait', '--yes'], {
      faults: [{ method: 'DELETE', path: '/users/*/apikeys/*', action: 'delay', delayMs: HOLD }],
      until: phaseIs('revoke', 'started'),
    });
    expect(s.keys()).toHaveLength(2);
    await resumeAndCheck(s, { creates: 1 });
  });

  it('during the revoke, after the provider acted (the retry meets a 404: done)', async () => {
    const s = await rotationSetup();
    await killDuring(s, ['--on-new-key', s.hook, '--no-wait', '--yes'], {
      faults: [{ method: 'DELETE', path: '/users/*/apikeys/*', action: 'delay-after', delayMs: HOLD }],
      until: phaseIs('revoke', 'started'),
      untilSandbox: oldKeyGone,
    });
    const { out } = await resumeAndCheck(s, { creates: 1 });
    expect(out.steps.find((st: { phase: string }) => st.phase === 'revoke').detail).toMatch(/already gone/);
  });

  it('after the revoke, while the old key is being verified as rejected', async () => {
    const s = await rotationSetup();
    await killDuring(s, ['--on-new-key', s.hook, '--no-wait', '--yes'], {
      faults: [{ method: 'DELETE', path: '/users/*/apikeys/*', action: 'delay-after', delayMs: 500 }],
      // keyrot holds the old key, so the revoke's delete-and-confirm tests it with GET /account (verify-old reuses that 401).
      arm: { when: phaseIs('revoke', 'started'), fault: { method: 'GET', path: '/account', action: 'delay', delayMs: HOLD } },
      until: phaseIs('revoke', 'started'),
    });
    const { out } = await resumeAndCheck(s, { creates: 1 });
    expect(out.steps.find((st: { phase: string }) => st.phase === 'verify-old').detail).toMatch(/rejected/);
  });

  it('--emergency: during the create, after the provider made the new key (the exposed key is still there)', async () => {
    const s = await rotationSetup();
    await killDuring(s, ['--emergency', '--on-new-key', s.hook, '--yes'], {
      faults: [CREATE],
      until: phaseIs('create', 'started'),
      untilSandbox: hasNewKey,
    });
    // Emergency creates first: killed during the create, the exposed key has not been touched yet.
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
    const orphan = s.keys().find((k) => k.name === NEW_NAME)!;
    const { live } = await resumeAndCheck(s, { creates: 1 });
    expect(live.id).not.toBe(orphan.id);
    expect(requestsTo(s.h, 'DELETE', `/users/*/apikeys/${orphan.id}`).map((q) => q.status)).toEqual([204]);
    expect((await readFile(s.keyFile, 'utf8')).trim()).toBe(live.plaintext);
  });

  it('--emergency: during the revoke, after the provider acted', async () => {
    const s = await rotationSetup();
    await killDuring(s, ['--emergency', '--on-new-key', s.hook, '--yes'], {
      faults: [{ method: 'DELETE', path: '/users/*/apikeys/*', action: 'delay-after', delayMs: HOLD }],
      until: phaseIs('revoke', 'started'),
      untilSandbox: oldKeyGone,
    });
    // The new key was made, stored and proven before the revoke: the user still has a working key.
    expect(s.keys().map((k) => k.name)).toEqual([NEW_NAME]);
    await resumeAndCheck(s, { creates: 1 });
  });
});
