// keyrot rotate against a misbehaving provider: 429 and 503 on every route it calls (retried where safe), a
// lost create answer (reconciled: exactly one new key), failures that outlast the retries (a clear exit code,
// nothing lost, resumable), and a keychain that is not there (refused before any change).
import { describe, expect, it } from 'vitest';
import type { FaultSpec } from '../../src/sandbox/server.js';
import { HAS_KEYCHAIN, collect, json, keychainGet, type RunResult } from '../helpers/e2e.js';
import { accountOf, authStatus, consumerCheck, createsFor, readJournal, requestsTo, rotationSetup, waitForJournal, type RotationSetup } from '../helpers/consumer.js';

const NEW_NAME = 'ops-deploy-v2';
const QUICK = ['--poll-interval', '200ms', '--hook-timeout', '5s', '--yes', '--json'];

/** The rotation finished with exactly one live key, the new one, held in the keychain; no secret leaked. */
async function expectRotated(s: RotationSetup, r: RunResult): Promise<void> {
  expect(r.code, r.stderr).toBe(0);
  const keys = s.keys();
  expect(keys.map((k) => k.name)).toEqual([NEW_NAME]);
  expect(json(r).newKey.id).toBe(keys[0]!.id);
  expect(await keychainGet(accountOf(s.user.id, keys[0]!.id))).toBe(keys[0]!.plaintext);
  expect(await s.held()).toEqual([accountOf(s.user.id, keys[0]!.id)]);
  expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(401);
  expect(await s.sc.leaks()).toEqual([]);
}

interface RouteCase {
  /** Which call of the rotation the fault hits. */
  label: string;
  method: string;
  path: string;
  /** Add the fault only once the journal shows this (the route was used earlier for something else). */
  armWhen?: (j: any) => boolean;
  /** A fault in force from the start that makes arming in time certain (holds the call before). */
  hold?: FaultSpec;
  /** Run the wait (with a consumer) instead of --no-wait. */
  wait?: boolean;
  /** How many answers in a row fail: within the 4 attempts GET and DELETE get. */
  times: number;
}

const phase = (p: string, status?: string) => (j: any) => j.phase === p && (status === undefined || j.phaseStatus === status);

const ROUTES: RouteCase[] = [
  { label: 'the admin key check (GET /account)', method: 'GET', path: '/account', times: 2 },
  { label: 'finding the user (GET /users)', method: 'GET', path: '/users', times: 2 },
  { label: "listing the user's keys (GET /users/*/apikeys)", method: 'GET', path: '/users/*/apikeys', times: 2 },
  { label: 'the create (POST /users/*/apikeys)', method: 'POST', path: '/users/*/apikeys', times: 1 },
  {
    label: 'verifying the new key (GET /account)',
    method: 'GET',
    path: '/account',
    times: 2,
    hold: { method: 'POST', path: '/users/*/apikeys', action: 'delay-after', delayMs: 500 },
    armWhen: phase('create', 'started'),
  },
  { label: 'the usage signal (GET /users/*)', method: 'GET', path: '/users/*', times: 2, wait: true },
  { label: 'the revoke (DELETE /users/*/apikeys/*)', method: 'DELETE', path: '/users/*/apikeys/*', times: 2 },
  {
    label: 'verifying the old key is rejected (GET /account)',
    method: 'GET',
    path: '/account',
    times: 2,
    hold: { method: 'DELETE', path: '/users/*/apikeys/*', action: 'delay-after', delayMs: 500 },
    armWhen: phase('revoke', 'started'),
  },
];

describe.skipIf(!HAS_KEYCHAIN)('keyrot rotate under provider faults', () => {
  describe.each([429, 503])('HTTP %i', (status) => {
    it.each(ROUTES)('on $label is retried and the rotation completes', async (route) => {
      const s = await rotationSetup();
      const fault: FaultSpec = { method: route.method, path: route.path, action: 'status', status, times: route.times };
      if (route.hold) s.h.sandbox.addFault(route.hold);
      if (!route.armWhen) s.h.sandbox.addFault(fault);
      const args = ['rotate', '--user', s.user.email, '--on-new-key', s.hook, ...(route.wait ? ['--check', consumerCheck(s), '--wait-timeout', '20s'] : ['--no-wait']), ...QUICK];
      if (route.wait) await s.consumer();
      let r: RunResult;
      if (route.armWhen) {
        const child = s.h.spawn(args);
        const done = collect(child, 30_000);
        await waitForJournal(s.h, s.user.id, route.armWhen);
        s.h.sandbox.addFault(fault);
        r = s.sc.output('rotate', await done);
      } else {
        r = await s.main('rotate', args);
      }
      await expectRotated(s, r);
      // The fault really hit this route, as many times as planned, and a later attempt got through.
      const hits = requestsTo(s.h, route.method, route.path);
      expect(hits.filter((q) => q.fault === 'status').map((q) => q.status)).toEqual(Array(route.times).fill(status));
      expect(hits.at(-1)?.fault).toBeUndefined();
      // Never a second key: only one create was acted on.
      expect(createsFor(s.h, s.user.id)).toHaveLength(1);
    });
  });

  it('a 429 on the create is retried at once (the provider did not act): one POST answered, one key', async () => {
    const s = await rotationSetup();
    s.h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'status', status: 429, retryAfter: '0', times: 3 });
    const r = await s.main('rotate', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', ...QUICK]);
    await expectRotated(s, r);
    expect(requestsTo(s.h, 'POST', '/users/*/apikeys').map((q) => q.status)).toEqual([429, 429, 429, 202]);
    // A 429 proves nothing was created, so there was nothing to reconcile.
    expect(r.stderr).not.toMatch(/answer to the create was lost/);
  });

  it('a lost create answer (the key was made, the connection dropped) is reconciled: the orphan is deleted, exactly one new key', async () => {
    const s = await rotationSetup();
    s.h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'drop-after' });
    const r = await s.main('rotate', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', ...QUICK]);
    await expectRotated(s, r);
    const posts = requestsTo(s.h, 'POST', '/users/*/apikeys');
    expect(posts.map((q) => q.status)).toEqual([0, 202]);
    // The key the lost answer made was deleted; the one kept is the second.
    const deletes = requestsTo(s.h, 'DELETE', '/users/*/apikeys/*').filter((q) => !q.path.endsWith(s.oldKey.id));
    expect(deletes.map((q) => q.status)).toEqual([204]);
    expect(r.stderr).toMatch(/answer to the create was lost/);
    expect(r.stderr).toMatch(/its plaintext never reached keyrot/);
  });

  it('an unreadable create answer (200 that is not JSON) is an answer, not a loss: the key it made is deleted, never a second POST, exit 6, old key untouched', async () => {
    const s = await rotationSetup();
    s.h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'malformed' });
    const r = await s.main('rotate', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', ...QUICK]);
    expect(r.code, r.stderr).toBe(6);
    expect(requestsTo(s.h, 'POST', '/users/*/apikeys')).toHaveLength(1);
    expect(s.keys().map((k) => k.id)).toEqual([s.oldKey.id]);
    expect(json(r).error.code).toBe('key_not_returned');
    // Nothing is live but the old key: no rotation is left to resume or abort.
    const again = await s.main('rotate again', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', ...QUICK]);
    await expectRotated(s, again);
  });

  it('dropped connections on reads and on the revoke are retried (a revoke acted on before the drop counts as done)', async () => {
    const s = await rotationSetup();
    s.h.sandbox.addFault({ method: 'GET', path: '/users', action: 'drop-before' });
    s.h.sandbox.addFault({ method: 'GET', path: '/users/*/apikeys', action: 'drop-after' });
    s.h.sandbox.addFault({ method: 'DELETE', path: '/users/*/apikeys/*', action: 'drop-after' });
    const r = await s.main('rotate', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', ...QUICK]);
    await expectRotated(s, r);
    expect(requestsTo(s.h, 'DELETE', `/users/*/apikeys/${s.oldKey.id}`).map((q) => q.status)).toEqual([0, 404]);
    expect(json(r).steps.find((st: { phase: string }) => st.phase === 'revoke').detail).toMatch(/already gone/);
  });

  it('a create failing past every retry exits 6 with no key made and the old one live; --resume completes', async () => {
    const s = await rotationSetup();
    s.h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'status', status: 503, times: 0 });
    const r = await s.main('rotate', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', ...QUICK]);
    expect(r.code, r.stderr).toBe(6);
    expect(json(r).error).toMatchObject({ code: 'create_outcome_unknown', resumable: true });
    expect(s.keys().map((k) => k.id)).toEqual([s.oldKey.id]);
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
    expect(await readJournal(s.h, s.user.id)).toMatchObject({ phase: 'create', phaseStatus: 'started', status: 'failed' });
    s.h.sandbox.clearFaults();
    const resumed = await s.main('resume', ['rotate', '--user', s.user.email, '--resume', '--yes', '--json']);
    await expectRotated(s, resumed);
  });

  it('--abort after creates whose answers were lost, with more keys of the new name listed than those creates can have made: exit 9 naming them, none deleted; a later --abort says it deleted none of them', async () => {
    const s = await rotationSetup();
    // Two creates sent, neither acted on (503): the rotation stops at its create with two creates counted.
    s.h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'status', status: 503, times: 0 });
    expect((await s.main('rotate', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', ...QUICK])).code).toBe(6);
    s.h.sandbox.clearFaults();
    // Three keys of the new name appear, made elsewhere (another runner, a person): more than two creates can make.
    for (let i = 0; i < 3; i++) {
      await s.h.makeKey(s.user.id, 'ops-deploy-v2');
    }
    const made = s
      .keys()
      .filter((k) => k.name === 'ops-deploy-v2')
      .map((k) => k.id);
    expect(made).toHaveLength(3);
    const first = await s.main('abort', ['rotate', '--user', s.user.email, '--abort', '--yes']);
    expect(first.code, first.stderr).toBe(9);
    for (const id of made) expect(first.stderr).toContain(id);
    expect(first.stdout).not.toMatch(/Rolled back/);
    expect(
      s
        .keys()
        .filter((k) => k.name === 'ops-deploy-v2')
        .map((k) => k.id),
    ).toEqual(made);
    const status = await s.main('status', ['status']);
    expect(status.stdout).toMatch(/--abort\s.*rolls back: deletes none of .*\(named ops-deploy-v2: keyrot cannot tell its own\)/);
    const second = await s.main('abort again', ['rotate', '--user', s.user.email, '--abort', '--yes']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/Rolled back the rotation of .*: keyrot deleted none of .*\(named ops-deploy-v2: delete the one nobody holds\), ops-deploy kept\./);
    expect(second.stdout).not.toMatch(/ops-deploy-v2 deleted/);
    expect(second.stderr).toMatch(/Delete the new key ops-deploy-v2 .*deleted none: .* still listed/);
    expect(
      s
        .keys()
        .filter((k) => k.name === 'ops-deploy-v2')
        .map((k) => k.id),
    ).toEqual(made);
  });

  it('a revoke failing past every retry exits 6 with both keys live; --resume completes', async () => {
    const s = await rotationSetup();
    s.h.sandbox.addFault({ method: 'DELETE', path: '/users/*/apikeys/*', action: 'status', status: 503, times: 0 });
    const r = await s.main('rotate', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', ...QUICK]);
    expect(r.code, r.stderr).toBe(6);
    expect(requestsTo(s.h, 'DELETE', '/users/*/apikeys/*')).toHaveLength(4);
    expect(s.keys()).toHaveLength(2);
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
    s.h.sandbox.clearFaults();
    const resumed = await s.main('resume', ['rotate', '--user', s.user.email, '--resume', '--yes', '--json']);
    await expectRotated(s, resumed);
    expect(createsFor(s.h, s.user.id)).toHaveLength(1);
  });

  it('a malformed answer in the preflight exits 6 before any change', async () => {
    const s = await rotationSetup();
    s.h.sandbox.addFault({ method: 'GET', path: '/users/*/apikeys', action: 'malformed' });
    const r = await s.main('rotate', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', ...QUICK]);
    expect(r.code, r.stderr).toBe(6);
    expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
    expect(await readJournal(s.h, s.user.id)).toBeNull();
  });

  it('an unreachable keychain exits 8 before any change at the provider', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const r = await s.run('no keychain', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', ...QUICK], {
      env: { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' },
    });
    expect(r.code, r.stderr).toBe(8);
    expect(json(r).error.code).toBe('keychain');
    expect(requestsTo(s.h, 'POST', '/users/*/apikeys')).toEqual([]);
    expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
    expect(s.keys().map((k) => k.id)).toEqual([s.oldKey.id]);
    expect(await readJournal(s.h, s.user.id)).toBeNull();
    expect(await s.sc.leaks()).toEqual([]);
  });
});
