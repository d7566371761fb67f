// keyrot rotate end to end: the built CLI against the sandbox and the real (test) keychain. The flow, the
// hand-over to a live consumer process, failures that stop the rotation before the old key is touched, and
// the modes. Every test ends with a scan for secrets in everything keyrot printed or wrote.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, collect, json, keychainGet } from '../helpers/e2e.js';
import { accountOf, authStatus, createsFor, readJournal, requestsTo, rotationSetup as setup, waitForJournal, type RotationSetup, consumerCheck } from '../helpers/consumer.js';

const OPS = 'ops@example.com';
// Fast polling and short limits: the sandbox answers in milliseconds.
const FAST = ['--poll-interval', '200ms', '--hook-timeout', '5s'];
const EVENT_ORDER = ['rotation.started', 'key.created', 'keychain.written', 'key.verified', 'hook.done', 'check.passed', 'old.revoked', 'rotation.done'];

async function expectNoLeaks(s: RotationSetup): Promise<void> {
  expect(await s.sc.leaks()).toEqual([]);
}

describe.skipIf(!HAS_KEYCHAIN)('keyrot rotate', () => {
  it('rotates under a live consumer with zero 401s, leaving exactly the new key, held in the keychain', async () => {
    const s = await setup();
    const consumer = await s.consumer();
    const r = await s.run('rotate', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--check', consumerCheck(s), '--wait-timeout', '20s', ...FAST, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    // Keep the consumer going past the revocation: it must be on the new key by then.
    await sleep(400);
    const stats = await consumer.stop();
    expect(stats.rejected, JSON.stringify(stats)).toBe(0);
    expect(stats.byStatus[200]).toBe(stats.calls);
    expect(stats.keysUsed).toBe(2);
    expect(stats.callsWithLastKey).toBeGreaterThan(2);

    const out = json(r);
    const keys = s.keys();
    expect(keys.map((k) => k.name)).toEqual(['ops-deploy-v2']);
    const newKey = keys[0]!;
    expect(out.newKey).toMatchObject({ id: newKey.id, name: 'ops-deploy-v2', maskedKey: `****${newKey.plaintext.slice(-5)}` });
    expect(out.oldKey).toMatchObject({ id: s.oldKey.id, name: 'ops-deploy' });
    expect(out.status).toBe('done');
    expect(out.steps.map((st: { phase: string }) => st.phase)).toEqual(['create', 'verify-new', 'hand-over', 'wait', 'revoke', 'verify-old', 'finish']);
    for (const st of out.steps) {
      expect(st.outcome).toBe('ok');
      expect(typeof st.durationMs).toBe('number');
      expect(st.durationMs).toBeGreaterThanOrEqual(0);
    }
    // The wait ended on the consumers' check: Vultr's per-user activity is no evidence of the switch.
    expect(out.steps[3].detail).toMatch(/^check passed/);
    // The old key was tested with its plaintext (keyrot held it) and rejected.
    expect(out.steps[5].detail).toMatch(/rejected \(401\)/);

    // Keychain: only the new key's entry, holding its plaintext.
    expect(await keychainGet(accountOf(s.user.id, newKey.id))).toBe(newKey.plaintext);
    expect(await s.held()).toEqual([accountOf(s.user.id, newKey.id)]);
    expect(await keychainGet(accountOf(s.user.id, s.oldKey.id))).toBeNull();
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(401);
    expect(await authStatus(s.h, newKey.plaintext)).toBe(200);
    expect(createsFor(s.h, s.user.id)).toHaveLength(1);

    // The hook got the key on stdin only, and the ids in its environment.
    expect((await readFile(s.keyFile, 'utf8')).trim()).toBe(newKey.plaintext);
    const env = await readFile(join(s.dir, 'hook-env.txt'), 'utf8');
    expect(env).toContain(`KEYROT_USER_ID=${s.user.id}\n`);
    expect(env).toContain(`KEYROT_KEY_ID=${newKey.id}\n`);
    expect(env).toContain('KEYROT_KEY_NAME=ops-deploy-v2\n');
    expect(env).not.toContain(newKey.plaintext);
    expect(env).not.toContain(newKey.plaintext.slice(0, 20));
    const argv = await readFile(join(s.dir, 'hook-argv.txt'), 'utf8');
    expect(argv).toContain('hook.sh');
    expect(argv).not.toContain(newKey.plaintext);

    // The journal is archived as done; nothing is left active.
    expect(await readJournal(s.h, s.user.id)).toBeNull();
    const history = (await s.h.stateFiles()).filter((f) => f.path.includes(join('rotations', 'history')));
    expect(history).toHaveLength(1);
    expect(JSON.parse(history[0]!.text)).toMatchObject({ status: 'done', newKey: { id: newKey.id } });
    for (const f of await s.h.stateFiles()) expect(f.mode, f.path).toBe(0o600);
    await expectNoLeaks(s);
  });

  it('--events streams one JSON object per line, in the documented order, without secrets', async () => {
    const s = await setup();
    await s.consumer();
    const r = await s.main('events', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--check', consumerCheck(s), '--wait-timeout', '20s', ...FAST, '--yes', '--events']);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        try {
          return JSON.parse(l) as { type: string; at: string };
        } catch {
          throw new Error(`--events printed a line that is not JSON: ${l}`);
        }
      });
    expect(events.map((e) => e.type)).toEqual(EVENT_ORDER);
    for (const e of events) expect(Number.isNaN(Date.parse(e.at))).toBe(false);
    const newKey = s.keys()[0]!;
    expect(events[1]).toMatchObject({ keyId: newKey.id, maskedKey: `****${newKey.plaintext.slice(-5)}` });
    expect(events.at(-1)).toMatchObject({ status: 'done', newKey: { id: newKey.id } });
    await expectNoLeaks(s);
  });

  it('a failing hook stops before the old key is touched (exit 12); --resume finishes without a second key', async () => {
    const s = await setup();
    const failing = `cat > /dev/null; echo 'consumer refused the key' >&2; exit 3`;
    const r = await s.main('failing hook', ['rotate', '--user', OPS, '--on-new-key', failing, '--no-wait', ...FAST, '--yes', '--events']);
    expect(r.code, r.stderr).toBe(12);
    // --events: rotation.failed names the phase, then an error event says what is live and how to go on.
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.type)).toEqual(['rotation.started', 'key.created', 'keychain.written', 'key.verified', 'rotation.failed', 'error']);
    expect(events.at(-2)).toMatchObject({ phase: 'hand-over', error: { code: 'hook_failed' } });
    expect(events.at(-1).error).toMatchObject({ code: 'hook_failed', exitCode: 12, phase: 'hand-over', resumable: true });
    expect(r.stderr).toMatch(/exited with code 3/);
    expect(r.stderr).toMatch(/consumer refused the key/);
    expect(r.stderr).toMatch(/--resume/);
    expect(r.stderr).toMatch(/--abort/);
    // Both keys live, the new one in the keychain, the old one's entry untouched.
    const keys = s.keys();
    expect(keys.map((k) => k.name).sort()).toEqual(['ops-deploy', 'ops-deploy-v2']);
    const newKey = keys.find((k) => k.name === 'ops-deploy-v2')!;
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
    expect(await authStatus(s.h, newKey.plaintext)).toBe(200);
    expect(await keychainGet(accountOf(s.user.id, newKey.id))).toBe(newKey.plaintext);
    expect(await keychainGet(accountOf(s.user.id, s.oldKey.id))).toBe(s.oldKey.plaintext);
    expect(await readJournal(s.h, s.user.id)).toMatchObject({ status: 'failed', phase: 'hand-over', lastError: { code: 'hook_failed' } });

    // Rotating again without --resume is refused while this one is unfinished.
    const again = await s.main('again', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(again.code, again.stderr).toBe(9);
    expect(again.stderr).toMatch(/unfinished rotation/);
    expect(again.stderr).toMatch(/--resume/);

    // Resume with a fixed hook: the same new key goes out, the old one is revoked.
    const resumed = await s.main('resume', ['rotate', '--user', OPS, '--resume', '--yes', '--on-new-key', s.hook, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(json(resumed).newKey.id).toBe(newKey.id);
    expect(s.keys().map((k) => k.id)).toEqual([newKey.id]);
    expect(createsFor(s.h, s.user.id)).toHaveLength(1);
    expect((await readFile(s.keyFile, 'utf8')).trim()).toBe(newKey.plaintext);
    expect(await s.held()).toEqual([accountOf(s.user.id, newKey.id)]);
    await expectNoLeaks(s);
  });

  it('a hook that prints the key it got: masked in every output, kept out of the journal', async () => {
    const s = await setup();
    // Echoes the key (as a careless deploy script might), then fails with it as its last line.
    const leaky = `key=$(cat); echo "got $key"; echo "$key" >&2; exit 3`;
    const r = await s.main('leaky hook', ['rotate', '--user', OPS, '--on-new-key', leaky, '--no-wait', '--verbose', '--debug', '--yes']);
    expect(r.code, r.stderr).toBe(12);
    expect(r.stderr).toMatch(/--on-new-key: got \*\*\*\*/);
    const j = await s.main('leaky hook json', ['rotate', '--user', OPS, '--resume', '--yes', '--json', '--verbose']);
    expect(j.code, j.stderr).toBe(12);
    expect(json(j).error.code).toBe('hook_failed');
    await expectNoLeaks(s);
  });

  it('a hook hanging past --hook-timeout is stopped with its children (exit 12)', async () => {
    const s = await setup();
    await writeFile(join(s.dir, 'hook-hang'), '');
    const started = Date.now();
    const r = await s.main('hanging hook', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--hook-timeout', '1s', '--no-wait', '--yes']);
    expect(r.code, r.stderr).toBe(12);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.stderr).toMatch(/did not finish within 1(\.0)? ?s/);
    // The hook's process group is gone (its sleep included).
    const pid = Number((await readFile(join(s.dir, 'hook.pid'), 'utf8')).trim());
    expect(() => process.kill(-pid, 0)).toThrow();
    expect(s.keys()).toHaveLength(2);
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
    await expectNoLeaks(s);
  });

  it('a wait time-out leaves both keys live and the rotation resumable (exit 11)', async () => {
    const s = await setup();
    const r = await s.main('timeout', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--check', 'exit 1', '--wait-timeout', '1s', ...FAST, '--yes']);
    expect(r.code, r.stderr).toBe(11);
    expect(r.stderr).toMatch(/--resume/);
    // keyrot used the user's keys only to verify the new one, before the hand-over: never during the wait,
    // where its own calls would have counted as the consumers' activity.
    expect(
      s.h.sandbox
        .requests()
        .filter((q) => q.userEmail === OPS)
        .map((q) => `${q.method} ${q.path}`),
    ).toEqual(['GET /v2/account']);
    const newKey = s.keys().find((k) => k.name === 'ops-deploy-v2')!;
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
    expect(await authStatus(s.h, newKey.plaintext)).toBe(200);
    const journal = await readJournal(s.h, s.user.id);
    expect(journal).toMatchObject({ status: 'failed', phase: 'wait', lastError: { code: 'wait_timeout' } });

    // The consumers are fixed later; --resume with a check that proves it finishes.
    const resumed = await s.main('resume', ['rotate', '--user', OPS, '--resume', '--check', consumerCheck(s), '--yes', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(s.keys().map((k) => k.id)).toEqual([newKey.id]);
    expect(createsFor(s.h, s.user.id)).toHaveLength(1);
    await expectNoLeaks(s);
  });

  it('--check must pass too: a check failing at first delays the revocation until it passes', async () => {
    const s = await setup();
    await s.consumer();
    const counter = join(s.dir, 'checks');
    // Fails twice, then passes; counts its runs.
    const check = `n=$(cat '${counter}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '${counter}'; [ $n -ge 3 ]`;
    const r = await s.main('check', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--check', check, '--wait-timeout', '20s', ...FAST, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    // Three runs during the wait, one more after the revoke (no consumer is left on the old key).
    expect(Number((await readFile(counter, 'utf8')).trim())).toBe(4);
    expect(json(r).steps[3].detail).toMatch(/check passed/);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy-v2']);
    await expectNoLeaks(s);
  });

  it('a --check that never passes times out (exit 11) with both keys live', async () => {
    const s = await setup();
    await s.consumer();
    const r = await s.main('check', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--check', 'exit 1', '--wait-timeout', '1500ms', ...FAST, '--yes']);
    expect(r.code, r.stderr).toBe(11);
    expect(r.stderr).toMatch(/passing --check/);
    expect(s.keys()).toHaveLength(2);
    await expectNoLeaks(s);
  });

  it('SIGINT during the wait exits 130 and leaves a journal that --resume finishes', async () => {
    const s = await setup();
    const child = s.h.spawn(['rotate', '--user', OPS, '--on-new-key', s.hook, '--check', 'exit 1', '--wait-timeout', '30s', ...FAST, '--yes']);
    const done = collect(child, 30_000);
    await waitForJournal(s.h, s.user.id, (j) => j.phase === 'wait');
    await sleep(300);
    child.kill('SIGINT');
    const r = s.sc.output('sigint', await done);
    expect(r.code, r.stderr).toBe(130);
    const journal = await readJournal(s.h, s.user.id);
    expect(journal).toMatchObject({ phase: 'wait', status: 'failed', lastError: { code: 'cancelled' } });
    expect(s.keys()).toHaveLength(2);
    // The lock was released: --resume can take it at once.
    expect((await s.h.stateFiles()).filter((f) => f.path.endsWith('.lock'))).toEqual([]);
    const newKey = s.keys().find((k) => k.name === 'ops-deploy-v2')!;
    // The operator knows the consumers moved: flags given with --resume replace the journaled ones.
    const resumed = await s.run('resume', ['rotate', '--user', OPS, '--resume', '--yes', '--no-wait', '--check', consumerCheck(s), '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const steps = json(resumed).steps as Array<{ phase: string; outcome: string }>;
    expect(steps.filter((st) => st.phase === 'wait').map((st) => st.outcome)).toEqual(['failed', 'skipped']);
    expect(s.keys().map((k) => k.id)).toEqual([newKey.id]);
    await expectNoLeaks(s);
  });

  it('SIGTERM during the hook stops the hook too, exits 130, and --resume runs the hook again', async () => {
    const s = await setup();
    await writeFile(join(s.dir, 'hook-hang'), '');
    const child = s.h.spawn(['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', ...FAST, '--yes']);
    const done = collect(child, 30_000);
    await waitForJournal(s.h, s.user.id, (j) => j.phase === 'hand-over' && j.phaseStatus === 'started');
    while (!(await readFile(join(s.dir, 'hook.pid'), 'utf8').catch(() => ''))) await sleep(20);
    child.kill('SIGTERM');
    const r = s.sc.output('sigterm', await done);
    expect(r.code, r.stderr).toBe(130);
    const pid = Number((await readFile(join(s.dir, 'hook.pid'), 'utf8')).trim());
    expect(() => process.kill(-pid, 0)).toThrow();
    expect(await readJournal(s.h, s.user.id)).toMatchObject({ phase: 'hand-over', status: 'failed', lastError: { code: 'cancelled' } });
    await rm(join(s.dir, 'hook-hang'));
    const resumed = await s.run('resume', ['rotate', '--user', OPS, '--resume', '--yes', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const keys = s.keys();
    expect(keys.map((k) => k.name)).toEqual(['ops-deploy-v2']);
    expect((await readFile(s.keyFile, 'utf8')).trim()).toBe(keys[0]!.plaintext);
    await expectNoLeaks(s);
  });

  it('SIGINT while the create answer is pending exits 130 and deletes the key that answer made at once (no later resume needed); --resume makes one', async () => {
    const s = await setup();
    s.h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'delay-after', delayMs: 20_000 });
    const child = s.h.spawn(['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', ...FAST, '--yes']);
    const done = collect(child, 30_000);
    await waitForJournal(s.h, s.user.id, (j) => j.phase === 'create' && j.phaseStatus === 'started' && s.keys().length === 2);
    child.kill('SIGINT');
    const r = s.sc.output('sigint', await done);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/may or may not have been created/);
    s.h.sandbox.clearFaults();
    // An ephemeral CI runner would never come back to reconcile it: the orphan is gone already.
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy']);
    const resumed = await s.run('resume', ['rotate', '--user', OPS, '--resume', '--yes', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const keys = s.keys();
    expect(keys.map((k) => k.name)).toEqual(['ops-deploy-v2']);
    expect(await keychainGet(accountOf(s.user.id, keys[0]!.id))).toBe(keys[0]!.plaintext);
    await expectNoLeaks(s);
  });

  it('two rotations of one user at once: one is refused (exit 9), never a second new key', async () => {
    const s = await setup();
    // B is held in its preflight (its key listing answers late, with the keys as they were) while A starts
    // and stops on a failing hook. Before the lock covered the preflight, B then overwrote A's journal and
    // made a second ops-deploy-v2.
    s.h.sandbox.addFault({ method: 'GET', path: '/users/*/apikeys', action: 'delay-after', delayMs: 3_000 });
    const b = s.h.spawn(['rotate', '--user', OPS, '--key', 'ops-deploy', '--on-new-key', s.hook, '--no-wait', '--yes']);
    const bDone = collect(b, 30_000);
    await sleep(800);
    const a = await s.run('A', ['rotate', '--user', OPS, '--on-new-key', 'cat > /dev/null; exit 3', '--no-wait', '--yes']);
    const rb = s.sc.output('B', await bDone);
    const codes = [a.code, rb.code].sort((x, y) => (x ?? -1) - (y ?? -1));
    const why = `A: ${a.stderr}\nB: ${rb.stderr}`;
    expect(createsFor(s.h, s.user.id), why).toHaveLength(1);
    const fresh = s.keys().filter((k) => k.id !== s.oldKey.id);
    expect(fresh).toHaveLength(1);
    if (codes[0] === 0) {
      // B held the lock through its preflight: A was refused, B finished.
      expect(codes).toEqual([0, 9]);
      expect(a.stderr).toMatch(/Another keyrot process/);
      expect(s.keys().map((k) => k.id)).toEqual([fresh[0]!.id]);
    } else {
      // A got the lock first: B saw A's unfinished rotation and was refused; A's journal names its key.
      expect(codes, why).toEqual([9, 12]);
      expect(await readJournal(s.h, s.user.id)).toMatchObject({ newKey: { id: fresh[0]!.id }, status: 'failed' });
    }
    await expectNoLeaks(s);
  });

  describe('modes', () => {
    it('--abort rolls back: the new key is deleted at the provider and from the keychain, the old one kept', async () => {
      const s = await setup();
      await writeFile(join(s.dir, 'hook-fail'), '');
      expect((await s.main('failing', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', '--yes'])).code).toBe(12);
      const newKey = s.keys().find((k) => k.name === 'ops-deploy-v2')!;
      const r = await s.main('abort', ['rotate', '--user', OPS, '--abort', '--yes', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(json(r)).toMatchObject({ status: 'aborted' });
      expect(s.keys().map((k) => k.id)).toEqual([s.oldKey.id]);
      expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
      expect(await authStatus(s.h, newKey.plaintext)).toBe(401);
      expect(await s.held()).toEqual([accountOf(s.user.id, s.oldKey.id)]);
      expect(await keychainGet(accountOf(s.user.id, s.oldKey.id))).toBe(s.oldKey.plaintext);
      // Archived: no active journal, a history record marked aborted.
      expect(await readJournal(s.h, s.user.id)).toBeNull();
      const history = (await s.h.stateFiles()).filter((f) => f.path.includes(join('rotations', 'history')));
      expect(history.map((f) => JSON.parse(f.text).status)).toEqual(['aborted']);
      // Nothing left to abort; a fresh rotation may start.
      expect((await s.main('abort again', ['rotate', '--user', OPS, '--abort', '--yes'])).code).toBe(5);
      await expectNoLeaks(s);
    });

    it('--emergency --yes creates, stores and proves the new key, revokes the exposed one at once, then hands over', async () => {
      const s = await setup();
      const r = await s.main('emergency', ['rotate', '--user', OPS, '--emergency', '--on-new-key', s.hook, ...FAST, '--yes', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const out = json(r);
      expect(out.mode).toBe('emergency');
      expect(out.steps.map((st: { phase: string }) => st.phase)).toEqual(['create', 'verify-new', 'revoke', 'verify-old', 'hand-over', 'finish']);
      const log = s.h.sandbox.requests();
      const del = log.findIndex((q) => q.method === 'DELETE' && q.path.endsWith(`/apikeys/${s.oldKey.id}`));
      const post = log.findIndex((q) => q.method === 'POST' && q.path.endsWith('/apikeys'));
      expect(post).toBeGreaterThanOrEqual(0);
      // The user is never without a working key: the exposed key goes only once the new one is stored and proven.
      expect(del).toBeGreaterThan(post);
      const keys = s.keys();
      expect(keys.map((k) => k.name)).toEqual(['ops-deploy-v2']);
      expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(401);
      expect((await readFile(s.keyFile, 'utf8')).trim()).toBe(keys[0]!.plaintext);
      expect(await s.held()).toEqual([accountOf(s.user.id, keys[0]!.id)]);
      await expectNoLeaks(s);
    });

    it('--emergency without --yes and without a terminal is refused before any change', async () => {
      const s = await setup();
      const r = await s.main('emergency', ['rotate', '--user', OPS, '--emergency', '--on-new-key', s.hook]);
      expect(r.code, r.stderr).toBe(2);
      expect(requestsTo(s.h, 'DELETE', '/users/*/apikeys/*')).toEqual([]);
      expect(requestsTo(s.h, 'POST', '/users/*/apikeys')).toEqual([]);
    });

    it('--keep-old leaves both keys live; a later --resume revokes the old one', async () => {
      const s = await setup();
      const consumer = await s.consumer();
      const r = await s.main('keep-old', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--keep-old', '--wait-timeout', '20s', ...FAST, '--yes', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(json(r)).toMatchObject({ status: 'paused' });
      const newKey = s.keys().find((k) => k.name === 'ops-deploy-v2')!;
      expect(s.keys()).toHaveLength(2);
      expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
      expect(await authStatus(s.h, newKey.plaintext)).toBe(200);
      expect(await readJournal(s.h, s.user.id)).toMatchObject({ status: 'paused', phase: 'revoke', phaseStatus: 'pending' });
      const resumed = await s.main('resume', ['rotate', '--user', OPS, '--resume', '--yes', '--json']);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(json(resumed)).toMatchObject({ status: 'done', newKey: { id: newKey.id } });
      expect(s.keys().map((k) => k.id)).toEqual([newKey.id]);
      expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(401);
      expect(createsFor(s.h, s.user.id)).toHaveLength(1);
      expect((await consumer.stop()).rejected).toBe(0);
      await expectNoLeaks(s);
    });

    it('--dry-run prints the plan and changes nothing', async () => {
      const s = await setup();
      const r = await s.main('dry-run', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--dry-run', '--no-wait', '--yes']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Dry run: nothing will change/);
      expect(r.stdout).toMatch(/create ops-deploy-v2/);
      expect(r.stdout).toMatch(/--on-new-key/);
      expect(r.stdout).toContain(`delete the old key ops-deploy (${s.oldKey.id})`);
      expect(r.stdout).toMatch(/Preflight[^]*keychain is writable[^]*state folder/);
      const j = await s.main('dry-run json', ['rotate', '--user', OPS, '--dry-run', '--no-wait', '--json', '--yes']);
      expect(j.code, j.stderr).toBe(0);
      expect(json(j)).toMatchObject({ dryRun: true, plan: { newKey: { name: 'ops-deploy-v2' }, oldKey: { id: s.oldKey.id } } });
      expect(json(j).plan.preflight).toHaveLength(5);
      const e = await s.main('dry-run events', ['rotate', '--user', OPS, '--dry-run', '--no-wait', '--events', '--yes']);
      expect(e.code, e.stderr).toBe(0);
      expect(
        e.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).type),
      ).toEqual(['rotation.planned']);
      expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
      expect(s.keys().map((k) => k.id)).toEqual([s.oldKey.id]);
      expect((await s.h.stateFiles()).filter((f) => f.path.includes('rotations'))).toEqual([]);
      await expectNoLeaks(s);
    });

    it('--dry-run runs every preflight and stops where the real run would, with its exit code', async () => {
      const s = await setup();
      const noYes = await s.main('dry-run no --yes', ['rotate', '--user', OPS, '--dry-run', '--no-wait']);
      expect(noYes.code, noYes.stderr).toBe(2);
      expect(noYes.stderr).toMatch(/needs --yes[^]*--dry-run: the real run would stop here/);
      const noKeychain = await s.run('dry-run no keychain', ['rotate', '--user', OPS, '--dry-run', '--no-wait', '--yes'], {
        env: { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus' },
      });
      expect(noKeychain.code, noKeychain.stderr).toBe(8);
      const viewer = s.h.keyOf('viewer@example.com');
      const noPermission = await s.main('dry-run viewer', ['rotate', '--user', OPS, '--dry-run', '--no-wait', '--yes'], { env: { VULTR_API_KEY: viewer } });
      expect(noPermission.code, noPermission.stderr).toBe(3);
      expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
      expect((await s.h.stateFiles()).filter((f) => /rotations|\.lock/.test(f.path))).toEqual([]);
    });

    it('several keys and no --key without a terminal: exit 2 listing the candidates', async () => {
      const s = await setup({ email: 'ci@example.com', holdOldKey: false });
      const r = await s.main('ambiguous', ['rotate', '--user', 'ci@example.com', '--no-wait', '--yes']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/ci-runner/);
      expect(r.stderr).toMatch(/ci-backup/);
      for (const key of s.user.keys) expect(r.stderr).toContain(key.id);
      expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
    });

    it('without --yes and without a terminal: exit 2 before any change', async () => {
      const s = await setup();
      const r = await s.main('no yes', ['rotate', '--user', OPS, '--no-wait']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--yes/);
      expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
      expect(await readJournal(s.h, s.user.id)).toBeNull();
    });

    it("rotating another key of the admin key's own user is refused without --check or --no-wait (exit 2)", async () => {
      const s = await setup({ email: 'admin@example.com', holdOldKey: false });
      const made = await s.main('second key', ['create', '--user', 'admin@example.com', '--name', 'reports']);
      expect(made.code, made.stderr).toBe(0);
      const before = s.h.sandbox.requests().length;
      const r = await s.main('self', ['rotate', '--user', 'admin@example.com', '--key', 'reports', '--yes']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--check/);
      expect(
        s.h.sandbox
          .requests()
          .slice(before)
          .filter((q) => q.method !== 'GET'),
      ).toEqual([]);
      await expectNoLeaks(s);
    });

    it('the admin key keyrot runs with is not rotated as a user key: exit 2 before any change, pointing to --self', async () => {
      const s = await setup({ email: 'admin@example.com', holdOldKey: false });
      const r = await s.main('self', ['rotate', '--user', 'admin@example.com', '--no-wait', '--yes', '--json']);
      expect(r.code, r.stderr).toBe(2);
      expect(json(r).error.message).toMatch(/is the admin key keyrot runs with \(from VULTR_API_KEY\)/);
      expect(json(r).error.hint).toMatch(/rotate --self/);
      expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
      expect(await authStatus(s.h, s.h.sandbox.adminKey)).toBe(200);
      await expectNoLeaks(s);
    });

    it("--emergency for the admin key's own user is refused: revoking the admin key first would leave no key", async () => {
      const s = await setup({ email: 'admin@example.com', holdOldKey: false });
      const r = await s.main('self emergency', ['rotate', '--user', 'admin@example.com', '--emergency', '--yes']);
      expect(r.code, r.stderr).toBe(2);
      expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
      expect(await authStatus(s.h, s.h.sandbox.adminKey)).toBe(200);
    });

    it('--name and --expires shape the new key', async () => {
      const s = await setup();
      const r = await s.main('named', ['rotate', '--user', OPS, '--name', 'deploy-2030', '--expires', '2030-01-31', '--on-new-key', s.hook, '--no-wait', '--yes', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const keys = s.keys();
      expect(keys.map((k) => k.name)).toEqual(['deploy-2030']);
      expect(keys[0]!.date_expire).toMatch(/^2030-01-31T/);
      expect(json(r).newKey).toMatchObject({ name: 'deploy-2030', expiresAt: expect.stringMatching(/^2030-01-31T/) });
    });

    it('an admin key without manage_users: exit 3, and the message says so', async () => {
      const s = await setup();
      const ciKey = s.h.keyOf('ci@example.com');
      const r = await s.main('no manage_users', ['rotate', '--user', OPS, '--no-wait', '--yes'], { env: { VULTR_API_KEY: ciKey } });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/manage_users/);
      expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
      await expectNoLeaks(s);
    });

    it('an unknown user is exit 5 and changes nothing', async () => {
      const s = await setup();
      const r = await s.main('unknown', ['rotate', '--user', 'nobody@example.com', '--no-wait', '--yes']);
      expect(r.code, r.stderr).toBe(5);
      expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
    });
  });
});

describe.skipIf(!HAS_KEYCHAIN)('keyrot rotate: a consumer left on the old key', () => {
  it('--check failing right after the revoke says a consumer still uses the old key (exit 7)', async () => {
    const s = await setup();
    // The check stands for a forgotten consumer configured with the old key: fine until the revoke.
    const legacy = join(s.dir, 'legacy.key');
    await writeFile(legacy, s.oldKey.plaintext);
    const check = join(s.dir, 'check.mjs');
    await writeFile(
      check,
      `const key = (await import('node:fs')).readFileSync(${JSON.stringify(legacy)}, 'utf8').trim();\n` +
        `const r = await fetch(${JSON.stringify(`${s.h.sandbox.url}/account`)}, { headers: { Authorization: 'Bearer ' + key } });\n` +
        'process.exit(r.status === 200 ? 0 : 1);\n',
    );
    const c = await s.consumer();
    const r = await s.main('legacy consumer', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--check', `node ${check}`, ...FAST, '--yes']);
    await c.stop();
    expect(r.code, r.stderr).toBe(7);
    expect(r.stderr).toMatch(/a consumer still uses the old key/);
    // The rotation itself is through: only the new key is live, and it is held.
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy-v2']);
    // Once that consumer is fixed, --resume re-runs the check and finishes.
    await writeFile(legacy, s.keys()[0]!.plaintext);
    const resumed = await s.main('legacy fixed', ['rotate', '--user', OPS, '--resume', '--yes']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await s.sc.leaks()).toEqual([]);
  });
});
