import { describe, expect, it } from 'vitest';
import { defaultRotationOptions } from '../helpers/fixtures.js';
import {
  PHASES,
  abortRotation,
  canAbort,
  newKeyProven,
  newRotationRecord,
  nothingCreated,
  runRotation,
  summaryData,
  type Phase,
  type RotationMode,
  type RotationOptions,
  type RotationPorts,
  type RotationRecord,
} from '../../src/core/rotation.js';
import {
  CancelledError,
  HookFailedError,
  KeyNotReturnedError,
  KeychainError,
  KeyrotError,
  RotationConflictError,
  RotationIncompleteError,
  StateError,
  UsageError,
  VerificationFailedError,
  WaitTimeoutError,
} from '../../src/errors.js';
import { keychainAccount } from '../../src/keychain/secret-store.js';
import type { ProviderCapabilities } from '../../src/providers/types.js';
import { FakeClock, FakeProvider, FlakyStore, lostAnswer, type FakeKey, type ProviderCall } from '../helpers/fake-provider.js';
import { say } from '../../src/ui/display-text.js';
import { fencedError } from '../../src/state/s3-store.js';

const USER = 'user-1';
const EMAIL = 'deploy-bot@example.com';
const OLD_NAME = 'ops-deploy';
const NEW_NAME = 'ops-deploy-v2';
const HOOK = './deploy-new-key.sh';

/** Thrown by every port once the simulated process has died. */
class Crash extends Error {}

interface HarnessOptions {
  mode?: RotationMode;
  usageSignal?: ProviderCapabilities['usageSignal'];
  options?: Partial<RotationOptions>;
  /** Whether keyrot holds the old key's plaintext (so verify-old can test it). Default true. */
  holdOld?: boolean;
  /** Whether the hand-over makes consumers use the new key (from the next poll on). Default true. */
  consumersFollow?: boolean;
}

function harness(opts: HarnessOptions = {}) {
  const clock = new FakeClock();
  const provider = new FakeProvider({ usageSignal: opts.usageSignal ?? 'per-key', now: clock.now });
  provider.addUser({ id: USER, email: EMAIL });
  const oldKey = provider.addKey(USER, OLD_NAME);
  const unrelated = provider.addKey(USER, 'billing-export');
  const store = new FlakyStore();
  const account = (keyId: string) => keychainAccount(provider.id, USER, keyId);
  if (opts.holdOld ?? true) void store.inner.set(account(oldKey.id), oldKey.secret);
  // The old key was last used an hour ago.
  provider.use(oldKey.secret, new Date(clock.now().getTime() - 3_600_000));

  const saves: RotationRecord[] = [];
  const events: Array<{ type: string; data: Record<string, unknown> }> = [];
  const notes: string[] = [];
  const warns: string[] = [];
  const protectedSecrets = new Set<string>();
  const hooks: Array<{ command: string; secret: string; env: Record<string, string> }> = [];
  const checks: Array<Record<string, string>> = [];
  const steps: Array<{ label: string; outcome?: string; detail?: string | undefined; updates: string[]; live?: () => string }> = [];
  const violations: string[] = [];
  const rescued: string[] = [];
  const state = {
    checkJournal: true,
    crashAt: null as number | null,
    points: 0,
    crashed: false,
    consumerSecret: null as string | null,
    consumersFollow: opts.consumersFollow ?? true,
    hookError: null as Error | null,
    checkResults: [] as boolean[],
    confirm: null as ((message: string) => Promise<boolean>) | null,
    controller: new AbortController(),
  };

  const crashPoint = (label: string) => {
    if (state.crashed) throw new Crash(`dead (${label})`);
    state.points++;
    if (state.points === state.crashAt) {
      state.crashed = true;
      throw new Crash(`crash after ${label}`);
    }
  };
  const alive = () => {
    if (state.crashed) throw new Crash('dead');
  };

  /** The journal rule: when a side effect starts, the last saved record says its phase has started. */
  const expectJournaled = (phase: Phase, what: string) => {
    if (!state.checkJournal) return;
    const last = saves.at(-1);
    if (!last || last.phase !== phase || last.phaseStatus !== 'started') {
      violations.push(`${what}: last save is ${last ? `${last.phase}/${last.phaseStatus}` : 'none'}, expected ${phase}/started`);
    }
  };

  provider.onCall = (call: ProviderCall) => {
    alive();
    if (call.method === 'createKey') expectJournaled('create', 'createKey');
    if (call.method === 'deleteKey') {
      const keyId = call.args[1];
      expectJournaled(keyId === oldKey.id ? 'revoke' : 'create', `deleteKey(${String(keyId)})`);
    }
  };
  provider.afterEffect = (call) => crashPoint(call.method);
  store.onCall = () => alive();
  store.afterEffect = (method) => crashPoint(`keychain ${method}`);
  clock.onSleep = (now) => {
    if (state.consumerSecret) provider.use(state.consumerSecret, now);
  };

  const ports: RotationPorts = {
    provider,
    cleanupProvider: async () => provider,
    store,
    save: async (record) => {
      alive();
      saves.push(structuredClone(record));
      crashPoint(`save ${record.phase}/${record.phaseStatus}/${record.status}`);
    },
    runHook: async (command, secret, env, timeoutMs) => {
      alive();
      expectJournaled('hand-over', 'runHook');
      expect(timeoutMs).toBeGreaterThan(0);
      hooks.push({ command, secret, env });
      if (state.hookError) throw state.hookError;
      if (state.consumersFollow) state.consumerSecret = secret;
      crashPoint('hook');
    },
    runCheck: async (_command, env) => {
      alive();
      checks.push(env);
      return state.checkResults.shift() ?? true;
    },
    get confirmHandover() {
      return state.confirm;
    },
    rescue: async (key) => {
      alive();
      rescued.push(key.id);
      return `/state/rescue/${key.id}.key`;
    },
    startStep: async (label) => {
      const step: (typeof steps)[number] = { label, updates: [] };
      steps.push(step);
      return {
        update: (detail) => {
          if (typeof detail === 'function') step.live = detail;
          step.updates.push(typeof detail === 'function' ? detail() : detail);
        },
        finish: (outcome, detail) => {
          step.outcome = outcome;
          step.detail = detail;
          return 12.5;
        },
      };
    },
    event: (type, data = {}) => events.push({ type, data }),
    note: (m) => notes.push(m),
    warn: (m) => warns.push(m),
    protect: (s) => protectedSecrets.add(s),
    now: clock.now,
    sleep: clock.sleep,
    get signal() {
      return state.controller.signal;
    },
  };

  const options: RotationOptions = defaultRotationOptions({ onNewKey: HOOK, ...opts.options });
  const record = newRotationRecord({
    id: 'rot-1',
    provider: provider.id,
    user: { id: USER, email: EMAIL },
    mode: opts.mode ?? 'standard',
    oldKey: { id: oldKey.id, name: oldKey.name, lastChars: oldKey.secret.slice(-5), expiresAt: null },
    newName: NEW_NAME,
    expiresAt: null,
    preexistingKeyIds: [oldKey.id, unrelated.id],
    options,
    now: clock.now(),
  });

  const newKeys = () => provider.liveKeys(USER).filter((k) => k.name === NEW_NAME);
  const held = async (key: FakeKey) => (await store.inner.get(account(key.id))) === key.secret;
  /** No plaintext anywhere keyrot wrote to without masking: journal, events, notes, warnings, step details. */
  const expectNoPlaintextLeak = () => {
    const secrets = [oldKey.secret, ...provider.created.map((k) => k.secret)];
    const written = JSON.stringify({ saves, events, notes, warns, steps, checks });
    for (const s of secrets) expect(written).not.toContain(s);
  };

  return {
    clock,
    provider,
    store,
    ports,
    record,
    oldKey,
    unrelated,
    account,
    saves,
    events,
    notes,
    warns,
    protectedSecrets,
    hooks,
    checks,
    steps,
    violations,
    rescued,
    state,
    newKeys,
    held,
    expectNoPlaintextLeak,
  };
}

type Harness = ReturnType<typeof harness>;

async function expectRotated(h: Harness, final: RotationRecord): Promise<void> {
  expect(final.status).toBe('done');
  expect(h.provider.keys.map((k) => k.id)).not.toContain(h.oldKey.id);
  const [newKey, ...extra] = h.newKeys();
  expect(extra).toEqual([]);
  expect(newKey).toBeDefined();
  expect(final.newKey.id).toBe(newKey!.id);
  expect(await h.held(newKey!)).toBe(true);
  expect(await h.store.inner.get(h.account(h.oldKey.id))).toBeNull();
  expect(h.provider.keys).toContain(h.unrelated);
  expect(h.violations).toEqual([]);
  h.expectNoPlaintextLeak();
}

/**
 * Keys made by creates whose answers were lost stay out of listings (an asynchronous create) until the returned
 * function is called.
 */
function hideLostKeys(h: ReturnType<typeof harness>): () => void {
  let lagging = true;
  const list = h.provider.listKeys.bind(h.provider);
  h.provider.listKeys = async (userId) => (await list(userId)).filter((k) => !lagging || !h.provider.lostAnswers.some((lost) => lost.id === k.id));
  return () => {
    lagging = false;
  };
}

async function failure(promise: Promise<unknown>): Promise<KeyrotError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeyrotError);
  return err as KeyrotError;
}

describe('runRotation: standard order', () => {
  it('runs create → verify-new → hand-over → wait → revoke → verify-old → finish, journaling before each side effect', async () => {
    const h = harness();
    const final = await runRotation(h.record, h.ports);

    await expectRotated(h, final);
    expect(final.steps.map((s) => [s.phase, s.outcome])).toEqual(PHASES.standard.map((p) => [p, 'ok']));
    expect(h.steps.map((s) => s.outcome)).toEqual(PHASES.standard.map(() => 'ok'));
    // Side effects in order: create, hand the key over, then (and only then) revoke the old key.
    const effects = h.provider.calls.filter((c) => c.method === 'createKey' || c.method === 'deleteKey').map((c) => c.method);
    expect(effects).toEqual(['createKey', 'deleteKey']);
    expect(h.provider.callsOf('createKey')).toHaveLength(1);
    expect(h.events.map((e) => e.type)).toEqual(['key.created', 'keychain.written', 'key.verified', 'hook.done', 'usage.seen', 'old.revoked', 'rotation.done']);
    expect(h.events.at(-1)!.data).toEqual(summaryData(final));
  });

  it('writes no state that the next write supersedes with nothing done between: the first write says the create has begun, and the hand-over begins without a write of its pending state', async () => {
    const h = harness();
    await runRotation(h.record, h.ports);
    expect(h.violations).toEqual([]);
    expect(h.saves[0]).toMatchObject({ phase: 'create', phaseStatus: 'started', status: 'running', createsSent: 1 });
    expect(h.saves.map((r) => `${r.phase}/${r.phaseStatus}`)).not.toContain('hand-over/pending');
    expect(h.saves.map((r) => `${r.phase}/${r.phaseStatus}`)).toContain('hand-over/started');
  });

  it('hands the new plaintext to the hook on stdin and its ids in the environment', async () => {
    const h = harness();
    const final = await runRotation(h.record, h.ports);
    const newKey = h.newKeys()[0]!;
    expect(h.hooks).toEqual([
      {
        command: HOOK,
        secret: newKey.secret,
        env: {
          KEYROT_USER_ID: USER,
          KEYROT_USER_EMAIL: EMAIL,
          KEYROT_KEY_ID: newKey.id,
          KEYROT_KEY_NAME: NEW_NAME,
          KEYROT_OLD_KEY_ID: h.oldKey.id,
        },
      },
    ]);
    expect(final.newKey.lastChars).toBe(newKey.secret.slice(-5));
  });

  it('protects the new secret (and the old one it tests) for output masking', async () => {
    const h = harness();
    await runRotation(h.record, h.ports);
    expect(h.protectedSecrets).toEqual(new Set([h.newKeys()[0]!.secret, h.oldKey.secret]));
  });

  it('journals a record without plaintexts, ending done', async () => {
    const h = harness();
    await runRotation(h.record, h.ports);
    expect(h.saves.at(-1)).toMatchObject({ status: 'done', phase: 'finish', lastError: null });
    expect(h.saves.every((s, i) => i === 0 || s.updatedAt >= h.saves[i - 1]!.updatedAt)).toBe(true);
    h.expectNoPlaintextLeak();
  });

  it('--no-wait skips the wait and never asks for the usage signal', async () => {
    const h = harness({ options: { noWait: true } });
    const final = await runRotation(h.record, h.ports);
    await expectRotated(h, final);
    expect(final.steps.find((s) => s.phase === 'wait')).toMatchObject({ outcome: 'skipped', detail: '--no-wait' });
    expect(h.provider.callsOf('observeUsage')).toHaveLength(0);
    expect(final.usageBaseline).toBeNull();
  });

  it('without a hook and with a terminal, asks the operator to confirm the hand-over', async () => {
    const h = harness({ options: { onNewKey: null } });
    const messages: string[] = [];
    h.state.confirm = async (message) => {
      messages.push(message);
      h.state.consumerSecret = h.newKeys()[0]!.secret;
      return true;
    };
    const final = await runRotation(h.record, h.ports);
    await expectRotated(h, final);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(`account "${h.account(final.newKey.id!)}"`);
    expect(final.steps.find((s) => s.phase === 'hand-over')?.detail).toBe('confirmed by the operator');
  });

  it('a declined hand-over cancels, with both keys live and the rotation resumable', async () => {
    const h = harness({ options: { onNewKey: null } });
    h.state.confirm = async () => false;
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(CancelledError);
    expect(h.record).toMatchObject({ status: 'failed', phase: 'hand-over' });
    expect(h.provider.keys).toContain(h.oldKey);
    expect(h.newKeys()).toHaveLength(1);
    expect(canAbort(h.record)).toBe(true);
  });

  it('without hook or terminal, consumers read the new key from the keychain', async () => {
    const h = harness({ options: { onNewKey: null } });
    h.clock.onSleep = (now) => h.provider.use(h.newKeys()[0]!.secret, now);
    const final = await runRotation(h.record, h.ports);
    await expectRotated(h, final);
    expect(final.steps.find((s) => s.phase === 'hand-over')?.detail).toMatch(/no hook/);
    expect(h.hooks).toHaveLength(0);
  });

  it('retries the new key while it propagates', async () => {
    const h = harness();
    h.provider.propagationDelayChecks = 2;
    h.ports.verifyDelayMs = 700;
    const final = await runRotation(h.record, h.ports);
    await expectRotated(h, final);
    expect(final.steps.find((s) => s.phase === 'verify-new')?.detail).toBe('after 3 attempts');
    expect(h.clock.sleeps.slice(0, 2)).toEqual([700, 1_400]);
  });

  it('a new key that never authenticates stops at verify-new, old key untouched, abortable', async () => {
    const h = harness();
    h.provider.propagationDelayChecks = 100;
    h.ports.verifyAttempts = 3;
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(VerificationFailedError);
    expect(err.data).toMatchObject({ phase: 'verify-new', resumable: true });
    expect(err.hint).toMatch(/--abort/);
    expect(h.provider.callsOf('checkKey')).toHaveLength(3);
    expect(h.record).toMatchObject({ status: 'failed', phase: 'verify-new', lastError: { code: 'verify_failed' } });
    expect(h.provider.keys).toContain(h.oldKey);
    expect(canAbort(h.record)).toBe(true);
  });

  it('stops before any side effect when cancelled', async () => {
    const h = harness();
    h.state.controller.abort();
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(CancelledError);
    expect(h.provider.callsOf('createKey')).toHaveLength(0);
    expect(h.saves.at(-1)).toMatchObject({ phase: 'create', phaseStatus: 'pending' });
  });

  it('a cancel between phases is journaled and explained like any other stop', async () => {
    const h = harness();
    h.state.controller.abort();
    const err = await failure(runRotation(h.record, h.ports));
    expect(err.data).toMatchObject({ resumable: true, phase: 'create' });
    expect(h.saves.at(-1)!.status).toBe('failed');
  });

  it('a cancel during the wait leaves both keys live, and resume waits again', async () => {
    const h = harness({ consumersFollow: false });
    let polls = 0;
    h.clock.onSleep = () => {
      if (++polls === 3) h.state.controller.abort();
    };
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(CancelledError);
    expect(h.record).toMatchObject({ status: 'failed', phase: 'wait' });
    expect(h.provider.keys).toContain(h.oldKey);

    h.state.controller = new AbortController();
    h.clock.onSleep = (now) => h.provider.use(h.newKeys()[0]!.secret, now);
    await expectRotated(h, await runRotation(structuredClone(h.saves.at(-1)!), h.ports));
  });
});

describe('runRotation: emergency order', () => {
  it('creates, stores and proves the new key, then revokes the old one, then hands over; never waits', async () => {
    const h = harness({ mode: 'emergency' });
    expect(h.record.phase).toBe('create');
    const final = await runRotation(h.record, h.ports);

    await expectRotated(h, final);
    expect(final.steps.map((s) => s.phase)).toEqual(['create', 'verify-new', 'revoke', 'verify-old', 'hand-over', 'finish']);
    const effects = h.provider.calls.filter((c) => c.method === 'createKey' || c.method === 'deleteKey').map((c) => c.method);
    expect(effects).toEqual(['createKey', 'deleteKey']);
    expect(h.provider.callsOf('observeUsage')).toHaveLength(0);
    expect(final.usageBaseline).toBeNull();
    expect(h.clock.sleeps).toEqual([]);
  });

  it('a create that fails leaves the exposed key as it was: the user is never left without a working key', async () => {
    const h = harness({ mode: 'emergency' });
    h.provider.faults.push({ method: 'createKey', when: 'before', error: () => new KeyNotReturnedError(say`no key in the answer`) });
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(KeyNotReturnedError);
    expect(h.provider.liveKeys(USER).map((k) => k.id)).toContain(h.oldKey.id);
    expect(h.provider.callsOf('deleteKey').filter((c) => c.args[1] === h.oldKey.id)).toEqual([]);
    expect(canAbort(h.record)).toBe(true);
  });
});

describe('runRotation: --keep-old', () => {
  it('pauses after the wait with both keys live; a resume revokes the old key', async () => {
    const h = harness({ options: { keepOld: true } });
    const paused = await runRotation(h.record, h.ports);
    expect(paused).toMatchObject({ status: 'paused', phase: 'revoke', phaseStatus: 'pending' });
    expect(h.saves.at(-1)).toMatchObject({ status: 'paused', phase: 'revoke' });
    expect(h.provider.keys).toContain(h.oldKey);
    expect(h.newKeys()).toHaveLength(1);
    expect(h.provider.callsOf('deleteKey')).toHaveLength(0);
    expect(h.events.map((e) => e.type)).not.toContain('rotation.done');
    expect(canAbort(paused)).toBe(true);

    const final = await runRotation(structuredClone(h.saves.at(-1)!), h.ports);
    await expectRotated(h, final);
    expect(h.provider.callsOf('createKey')).toHaveLength(1);
    expect(h.hooks).toHaveLength(1);
  });

  it('records when the grace period ends, from the moment it pauses (keyrot status counts down to it)', async () => {
    const h = harness({ options: { keepOld: true, noWait: true, graceMs: 3 * 86_400_000 } });
    const paused = await runRotation(h.record, h.ports);
    expect(paused.status).toBe('paused');
    expect(paused.graceUntil).toBe(new Date(h.clock.now().getTime() + 3 * 86_400_000).toISOString());
    expect(h.saves.at(-1)?.graceUntil).toBe(paused.graceUntil);
  });
});

describe('runRotation: the new key must still work right before the revoke', () => {
  /** Paused after --keep-old, then something happens to the new key during the grace period, then --resume. */
  async function pausedThen(mutate: (h: Harness, newKey: FakeKey) => void | Promise<void>) {
    const h = harness({ options: { keepOld: true } });
    const paused = await runRotation(h.record, h.ports);
    expect(paused.status).toBe('paused');
    const newKey = h.newKeys()[0]!;
    await mutate(h, newKey);
    const resumed = structuredClone(h.saves.at(-1)!);
    resumed.options.keepOld = false;
    const err = await failure(runRotation(resumed, h.ports));
    return { h, err, resumed, newKey };
  }

  async function expectOldKeptAndExplained(h: Harness, err: KeyrotError, resumed: RotationRecord, why: RegExp) {
    expect(err).toBeInstanceOf(VerificationFailedError);
    expect(err.exitCode).toBe(7);
    expect(err.message).toMatch(why);
    expect(err.message).toMatch(/old key ops-deploy was NOT revoked/);
    // Never "live and in the keychain" about a key that is gone.
    expect(err.hint).not.toMatch(/is live and in the keychain/);
    expect(err.hint).toMatch(/--abort/);
    expect(h.provider.keys).toContain(h.oldKey);
    expect(h.provider.callsOf('deleteKey').filter((c) => c.args[1] === h.oldKey.id)).toEqual([]);
    expect(resumed).toMatchObject({ status: 'failed', phase: 'revoke', phaseStatus: 'pending' });
    expect(canAbort(resumed)).toBe(true);
    expect(h.events.map((e) => e.type)).not.toContain('rotation.done');
  }

  it('the new key deleted during a --keep-old grace period: the resume stops and keeps the old key', async () => {
    const { h, err, resumed } = await pausedThen(async (h, newKey) => {
      await h.provider.deleteKey(USER, newKey.id);
    });
    await expectOldKeptAndExplained(h, err, resumed, /no longer listed/);
  });

  it('the new key expired during the grace period: stops, old key kept', async () => {
    const { h, err, resumed } = await pausedThen((h, newKey) => {
      newKey.expiresAt = new Date(h.clock.now().getTime() - 1_000);
    });
    await expectOldKeptAndExplained(h, err, resumed, /expired at/);
  });

  it('the new key rejected by the provider (revoked elsewhere, still listed): stops, old key kept', async () => {
    const { h, err, resumed } = await pausedThen((h, newKey) => {
      h.provider.authOverrides.set(newKey.secret, { ok: false, reason: 'rejected', message: 'Invalid API token.' });
    });
    await expectOldKeptAndExplained(h, err, resumed, /no longer authenticates/);
  });

  it('the new key deleted during the wait while a consumer keeps the per-user activity moving: stops before the revoke', async () => {
    const h = harness({ usageSignal: 'per-user', consumersFollow: false, options: { check: './smoke.sh' } });
    h.state.checkResults = [false, true];
    // A consumer still on the old key keeps the user's activity moving; meanwhile someone deletes the new key.
    h.clock.onSleep = (now) => {
      h.provider.use(h.oldKey.secret, now);
      const fresh = h.newKeys()[0];
      if (fresh) h.provider.keys.splice(h.provider.keys.indexOf(fresh), 1);
    };
    const err = await failure(runRotation(h.record, h.ports));
    await expectOldKeptAndExplained(h, err, h.record, /no longer listed/);
  });

  it('the same after a crash: a resumed revoke/pending re-checks first', async () => {
    const h = harness();
    h.state.crashAt = null;
    const record = structuredClone(h.record);
    const made = h.provider.addKey(USER, NEW_NAME);
    await h.store.inner.set(h.account(made.id), made.secret);
    Object.assign(record, { phase: 'revoke', phaseStatus: 'pending', status: 'running', handedOverAt: h.clock.now().toISOString() });
    record.newKey.id = made.id;
    record.newKey.lastChars = made.secret.slice(-5);
    await h.store.inner.delete(h.account(made.id));
    const err = await failure(runRotation(record, h.ports));
    await expectOldKeptAndExplained(h, err, record, /no longer in the keychain/);
  });

  it('the finish line is true: a keychain entry that vanished after the revoke is reported, not claimed', async () => {
    const h = harness();
    h.provider.afterEffect = (call) => {
      if (call.method === 'deleteKey' && call.args[1] === h.oldKey.id) {
        const fresh = h.newKeys()[0]!;
        void h.store.inner.delete(h.account(fresh.id));
      }
    };
    const final = await runRotation(h.record, h.ports);
    expect(final.status).toBe('done');
    const finish = h.steps.find((s) => s.label.startsWith('Finish'));
    expect(finish?.detail).toMatch(/holds no key/);
    expect(h.warns.join('\n')).toMatch(/no longer holds the new key/);
  });
});

describe('runRotation: a create refused after a lost answer', () => {
  it('is no "nothing was made": a key may be live (the listing did not show it yet), so the rotation stays for --resume', async () => {
    const h = harness();
    h.provider.faults.push(
      { method: 'createKey', when: 'after', error: lostAnswer },
      { method: 'createKey', when: 'before', error: () => new UsageError(say`Vultr rejected the request: Unable to create API key: limit reached`, { data: { status: 400 } }) },
    );
    // The key the lost create made does not show in listings yet (an asynchronous create, 202).
    hideLostKeys(h);
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.hint).toMatch(/An earlier create's answer was lost: a key named "ops-deploy-v2" may be live with its plaintext lost; --resume checks for it again and deletes it/);
    expect(nothingCreated(h.record, err)).toBe(false);
    expect(h.saves.at(-1)).toMatchObject({ status: 'failed', phase: 'create', phaseStatus: 'started', createOutcomeUnknown: true });
    // The --resume that message asks for, while the listing still lags: refused again, and still not closed.
    h.provider.faults.push({ method: 'createKey', when: 'before', error: () => new UsageError(say`Vultr rejected the request: limit reached`, { data: { status: 400 } }) });
    const again = await failure(runRotation(structuredClone(h.saves.at(-1)!), h.ports));
    expect(nothingCreated(h.saves.at(-1)!, again)).toBe(false);
  });
});

describe('runRotation: another keyrot rotating the same user at the same moment', () => {
  it("a lost create answer while another run's key of the same name appeared: neither is deleted (nothing tells them apart), exit 9 naming both, and --abort deletes neither", async () => {
    const h = harness();
    let twin: FakeKey | null = null;
    h.provider.afterEffect = (call) => {
      // Another runner (its own state folder and keychain) made its ops-deploy-v2 just before this run's create,
      // after this run had listed the user's keys; this run's create makes its key, and the answer is lost.
      if (call.method === 'createKey' && !twin) twin = h.provider.addKey(USER, NEW_NAME);
    };
    h.provider.faults.push({ method: 'createKey', when: 'after', error: lostAnswer });
    const err = await failure(runRotation(h.record, h.ports));
    const lost = h.provider.lostAnswers[0]!;
    expect(err).toBeInstanceOf(RotationConflictError);
    expect(err.exitCode).toBe(9);
    expect(err.message).toContain(`2 keys named "ops-deploy-v2" appeared that keyrot does not hold (`);
    expect(err.message).toMatch(/can have made at most one of them: the others are another's .* keyrot deleted none of them/);
    for (const key of [twin!, lost]) {
      expect(err.message).toContain(key.id);
      expect(h.provider.keys).toContain(key);
    }
    // The other run's key, which its consumers may hold already, is untouched; nothing was handed over or revoked.
    expect(h.provider.deleted).toEqual([]);
    expect(h.provider.callsOf('createKey')).toHaveLength(1);
    expect(h.hooks).toHaveLength(0);
    const saved = h.saves.at(-1)!;
    expect(saved).toMatchObject({ status: 'failed', phase: 'create', createsSent: 1 });
    expect(new Set(saved.othersKeyIds)).toEqual(new Set([twin!.id, lost.id]));
    expect(nothingCreated(saved, err)).toBe(false);
    // --abort after that deletes neither (a person deletes the one nobody holds), says they are still listed, and
    // ends the rotation.
    const aborted = await abortRotation(structuredClone(saved), h.ports);
    expect(aborted.status).toBe('aborted');
    expect(h.provider.deleted).toEqual([]);
    expect(h.warns.at(-1)).toMatch(new RegExp(`^Still listed, and never deleted by keyrot: .*${lost.id}.*; delete the one nobody holds\\.$`));
    // The step says what it did not delete, not "no new key existed".
    expect(h.steps.at(-1)?.detail).toMatch(new RegExp(`^deleted none: .*${lost.id}.* still listed$`));
  });

  it('--abort of a create whose answer was lost, when another run\'s key of the name is listed too: deletes none, stops with exit 9 naming them all (no "rolled back"); a later --abort ends it', async () => {
    const h = harness();
    h.provider.faults.push({ method: 'createKey', when: 'after', error: lostAnswer }, { method: 'createKey', when: 'after', error: lostAnswer });
    // The lost keys stay out of listings while the run goes on (an asynchronous create); then the other run's appears.
    const showLostKeys = hideLostKeys(h);
    await failure(runRotation(h.record, h.ports));
    const saved = h.saves.at(-1)!;
    expect(saved).toMatchObject({ createsSent: 2, phase: 'create', phaseStatus: 'started' });
    showLostKeys();
    const other = h.provider.addKey(USER, NEW_NAME);
    // Two creates sent, none deleted: two of the three unheld keys can be this run's, and nothing tells which two.
    const err = await failure(abortRotation(structuredClone(saved), h.ports));
    expect(err).toBeInstanceOf(RotationConflictError);
    expect(err.message).toMatch(new RegExp(`3 keys named "ops-deploy-v2" appeared since this rotation began \\(.*${other.id}.*\\).*deleted none of them`));
    expect(h.provider.deleted).toEqual([]);
    const stopped = h.saves.at(-1)!;
    expect(stopped.status).not.toBe('aborted');
    expect(new Set(stopped.othersKeyIds)).toEqual(new Set([other.id, ...h.provider.lostAnswers.map((k) => k.id)]));
    // Once a person has deleted the one nobody holds, --abort ends the rotation, still deleting none of them.
    const aborted = await abortRotation(structuredClone(stopped), h.ports);
    expect(aborted.status).toBe('aborted');
    expect(h.provider.deleted).toEqual([]);
  });

  it('--abort of a create whose answer was lost, beside a key of the name that another state folder sharing this keychain holds: deletes neither', async () => {
    const h = harness();
    h.provider.faults.push({ method: 'createKey', when: 'after', error: lostAnswer }, { method: 'createKey', when: 'before', error: lostAnswer });
    const showLostKeys = hideLostKeys(h);
    await failure(runRotation(h.record, h.ports));
    // As if killed right after the first create's answer was lost: one create sent, its key not yet listed.
    const saved = { ...structuredClone(h.saves.at(-1)!), createsSent: 1 };
    showLostKeys();
    // The other state folder's rotation made its key, stored it in the keychain both use, and handed it over.
    const other = h.provider.addKey(USER, NEW_NAME);
    await h.store.inner.set(h.account(other.id), other.secret);
    const err = await failure(abortRotation(structuredClone(saved), h.ports));
    expect(err).toBeInstanceOf(RotationConflictError);
    expect(err.message).toContain(other.id);
    expect(h.provider.deleted).toEqual([]);
    expect(await h.store.inner.get(h.account(other.id))).toBe(other.secret);
  });

  it("a lost answer's key that the listing shows only after the retry's create: this run steps back (the key may as well be another run's), deleting only the key it holds, and names the unheld one for a person", async () => {
    const h = harness();
    h.provider.faults.push({ method: 'createKey', when: 'after', error: lostAnswer });
    // The key of the lost answer stays out of listings until the second create is answered (an asynchronous create).
    const showLostKeys = hideLostKeys(h);
    h.provider.afterEffect = (call) => {
      if (call.method === 'createKey' && h.provider.callsOf('createKey').length === 2) showLostKeys();
    };
    const err = await failure(runRotation(h.record, h.ports));
    const lost = h.provider.lostAnswers[0]!;
    expect(err).toBeInstanceOf(RotationConflictError);
    expect(err.message).toContain(`lists ops-deploy-v2 (${lost.id}) beside this run's new key, and keyrot does not hold it: another keyrot's new key`);
    expect(err.message).toMatch(/or a key of this run's own whose create answer was lost .* Nothing tells which\. This run stepped back/);
    expect(err.hint).toContain(`If no other run is rotating deploy-bot@example.com, nobody holds ${lost.id}: delete it`);
    // Only the held key (no consumer has it yet) is deleted; the unheld one, maybe another run's handed-over key, stays.
    expect(h.provider.deleted).toEqual([h.provider.created[1]]);
    expect(h.provider.keys).toContain(lost);
    expect(h.provider.keys).toContain(h.oldKey);
    expect(h.hooks).toHaveLength(0);
    expect(h.saves.at(-1)!.othersKeyIds).toEqual([lost.id]);
  });

  it('a lost create answer with no other key of the name: its key is deleted and the create sent again, as before', async () => {
    const h = harness();
    h.provider.faults.push({ method: 'createKey', when: 'after', error: lostAnswer }, { method: 'createKey', when: 'after', error: lostAnswer });
    const err = await failure(runRotation(h.record, h.ports));
    expect(err.code).toBe('create_outcome_unknown');
    // Two creates sent, both answers lost: both keys were this run's, and both are deleted.
    expect(h.provider.deleted).toEqual(h.provider.lostAnswers);
    expect(h.provider.lostAnswers).toHaveLength(2);
    expect(h.saves.at(-1)).toMatchObject({ createsSent: 2, orphansDeleted: 2 });
  });

  it('a twin new key (same name, made elsewhere) makes this run step back before any consumer gets its key: its key deleted, exit 9, the old key untouched', async () => {
    const h = harness();
    let twin: FakeKey | null = null;
    h.provider.afterEffect = (call) => {
      // Another runner, with a state folder of its own, created its ops-deploy-v2 at the same moment.
      if (call.method === 'createKey' && !twin) twin = h.provider.addKey(USER, NEW_NAME);
    };
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(RotationConflictError);
    expect(err.exitCode).toBe(9);
    expect(err.message).toMatch(/Another keyrot rotated deploy-bot@example\.com at the same moment: .* has ops-deploy-v2 \(key-\d+\) beside this run's new key\. This run stepped back/);
    // Only the other run's key is left beside the old one; nothing was handed over; this run's entry is gone.
    expect(h.newKeys()).toEqual([twin]);
    expect(h.provider.keys).toContain(h.oldKey);
    expect(h.hooks).toHaveLength(0);
    expect(await h.store.inner.list()).toEqual([h.account(h.oldKey.id)]);
  });
});

describe('runRotation: resume', () => {
  /** A record as a crash left it: the given phase, and the new key (if any) as given. */
  function at(h: Harness, phase: Phase, phaseStatus: 'pending' | 'started', newKeyId: string | null): RotationRecord {
    const r = structuredClone(h.record);
    Object.assign(r, { phase, phaseStatus, status: 'running' });
    if (newKeyId) {
      r.newKey.id = newKeyId;
      r.newKey.lastChars = h.provider.keys.find((k) => k.id === newKeyId)!.secret.slice(-5);
    }
    return r;
  }

  it.each([
    ['rejected (401: deleted, revoked)', { ok: false as const, reason: 'rejected' as const, message: 'Invalid API token.' }, false],
    ["refused (403: out of the probe's scope)", { ok: false as const, reason: 'forbidden' as const, message: 'Forbidden.' }, true],
  ])('hand-over/pending resumed, the new key %s: handed over only if it is not rejected', async (_label, answer, handed) => {
    const h = harness();
    const made = h.provider.addKey(USER, NEW_NAME);
    await h.store.inner.set(h.account(made.id), made.secret);
    h.provider.authOverrides.set(made.secret, answer);
    // A 403 is handed over (the revoke then asks more of the key before the old one goes, as it always did).
    const stop = await runRotation(at(h, 'hand-over', 'pending', made.id), h.ports).then(
      () => null,
      (e: unknown) => e,
    );
    if (!handed) expect(stop).toBeInstanceOf(RotationIncompleteError);
    expect(h.hooks.map((x) => x.secret)).toEqual(handed ? [made.secret] : []);
    expect(h.provider.keys).toContain(h.oldKey);
  });

  it('create/started with the key created and held: adopts it, never creates a second', async () => {
    const h = harness();
    const made = h.provider.addKey(USER, NEW_NAME);
    await h.store.inner.set(h.account(made.id), made.secret);
    const final = await runRotation(at(h, 'create', 'started', null), h.ports);
    await expectRotated(h, final);
    expect(h.provider.callsOf('createKey')).toHaveLength(0);
    expect(final.newKey.id).toBe(made.id);
    expect(final.steps[0]).toMatchObject({ phase: 'create', detail: expect.stringMatching(/recovered from the keychain/) });
  });

  it('create/pending with the key id already journaled: does not create again', async () => {
    const h = harness();
    const made = h.provider.addKey(USER, NEW_NAME);
    await h.store.inner.set(h.account(made.id), made.secret);
    const final = await runRotation(at(h, 'create', 'pending', made.id), h.ports);
    await expectRotated(h, final);
    expect(h.provider.callsOf('createKey')).toHaveLength(0);
  });

  it('create/started with an orphan (created, plaintext never stored): deletes it, creates a new one', async () => {
    const h = harness();
    const orphan = h.provider.addKey(USER, NEW_NAME);
    const final = await runRotation(at(h, 'create', 'started', null), h.ports);
    await expectRotated(h, final);
    expect(h.provider.deleted).toContain(orphan);
    expect(h.provider.callsOf('createKey')).toHaveLength(1);
    expect(final.newKey.id).not.toBe(orphan.id);
  });

  it('create/started when the create never happened: creates once', async () => {
    const h = harness();
    const final = await runRotation(at(h, 'create', 'started', null), h.ports);
    await expectRotated(h, final);
    expect(h.provider.callsOf('createKey')).toHaveLength(1);
    expect(h.provider.deleted).toEqual([h.oldKey]);
  });

  it('a lost create answer during the rotation is reconciled inside the create phase', async () => {
    const h = harness();
    h.provider.faults.push({ method: 'createKey', when: 'after', error: lostAnswer });
    const final = await runRotation(h.record, h.ports);
    await expectRotated(h, final);
    expect(h.provider.created).toHaveLength(2);
    expect(h.provider.deleted).toEqual([h.provider.created[0], h.oldKey]);
  });

  it.each<[Phase, 'pending' | 'started']>([
    ['verify-new', 'pending'],
    ['hand-over', 'pending'],
    ['hand-over', 'started'],
    ['wait', 'pending'],
    ['revoke', 'pending'],
    ['revoke', 'started'],
  ])('%s/%s with the new key held: finishes without creating another', async (phase, status) => {
    const h = harness();
    const made = h.provider.addKey(USER, NEW_NAME);
    await h.store.inner.set(h.account(made.id), made.secret);
    h.state.consumerSecret = made.secret;
    const record = at(h, phase, status, made.id);
    record.handedOverAt = h.clock.now().toISOString();
    const final = await runRotation(record, h.ports);
    await expectRotated(h, final);
    expect(h.provider.callsOf('createKey')).toHaveLength(0);
    expect(final.newKey.id).toBe(made.id);
  });

  it.each<[Phase, 'pending' | 'started']>([
    ['verify-old', 'pending'],
    ['finish', 'pending'],
    ['finish', 'started'],
  ])('%s/%s after the revoke: finishes', async (phase, status) => {
    const h = harness();
    const made = h.provider.addKey(USER, NEW_NAME);
    await h.store.inner.set(h.account(made.id), made.secret);
    h.provider.keys.splice(h.provider.keys.indexOf(h.oldKey), 1); // revoked before the crash
    const final = await runRotation(at(h, phase, status, made.id), h.ports);
    await expectRotated(h, final);
    expect(h.provider.callsOf('createKey')).toHaveLength(0);
  });

  it('revoke/started after the delete already happened: the retried delete is harmless', async () => {
    const h = harness();
    const made = h.provider.addKey(USER, NEW_NAME);
    await h.store.inner.set(h.account(made.id), made.secret);
    h.provider.keys.splice(h.provider.keys.indexOf(h.oldKey), 1); // revoked before the crash
    const final = await runRotation(at(h, 'revoke', 'started', made.id), h.ports);
    await expectRotated(h, final);
    expect(final.steps.find((s) => s.phase === 'revoke')?.detail).toMatch(/already gone/);
  });

  it('a new key missing from the keychain stops the rotation with RotationIncompleteError', async () => {
    const h = harness();
    const made = h.provider.addKey(USER, NEW_NAME);
    const err = await failure(runRotation(at(h, 'verify-new', 'pending', made.id), h.ports));
    expect(err).toBeInstanceOf(RotationIncompleteError);
    expect(err.hint).toMatch(/--abort/);
    expect(h.provider.keys).toContain(h.oldKey);
  });
});

describe('runRotation: a crash at any point, then --resume', () => {
  // Every save and every side effect (provider create/delete, keychain set/delete, the hook) is a crash
  // point. The process "dies" right after it: the journal keeps what was last saved, the provider and the
  // keychain keep what happened. Resuming from the saved record must finish the rotation with exactly one new
  // key, held in the keychain, and never create a second key while the first is held.
  const scenarios: Array<[string, HarnessOptions]> = [
    ['standard, per-key signal', {}],
    ['standard, per-user signal', { usageSignal: 'per-user', options: { check: './smoke.sh' } }],
    ['emergency', { mode: 'emergency' }],
  ];

  function rootCause(err: unknown): unknown {
    return err instanceof Error && !(err instanceof Crash) && err.cause !== undefined ? rootCause(err.cause) : err;
  }

  function countCrashPoints(opts: HarnessOptions): Promise<number> {
    const h = harness(opts);
    return runRotation(h.record, h.ports).then(() => h.state.points);
  }

  it.each(scenarios)('%s', async (_label, opts) => {
    const total = await countCrashPoints(opts);
    expect(total).toBeGreaterThan(12);
    const seen = { adopted: 0, orphansDeleted: 0, resumedAfterRevoke: 0 };
    for (let crashAt = 1; crashAt <= total; crashAt++) {
      const h = harness(opts);
      h.state.crashAt = crashAt;
      const crashed = await runRotation(h.record, h.ports).then(
        () => null,
        (e: unknown) => e,
      );
      if (crashed === null) continue; // the last point: nothing left to do
      // A crash inside keyrot's own last-resort handling surfaces wrapped (with the key named): unwrap it.
      expect(rootCause(crashed), `crash point ${crashAt}`).toBeInstanceOf(Crash);

      const heldAtCrash: FakeKey[] = [];
      for (const k of h.provider.created) if (h.provider.keys.includes(k) && (await h.held(k))) heldAtCrash.push(k);
      const createdAtCrash = h.provider.created.length;

      // A new process: same provider, keychain and consumers; the journal as last saved.
      h.state.crashed = false;
      h.state.crashAt = null;
      const saved = structuredClone(h.saves.at(-1)!);
      const journaledKeyId = saved.newKey.id;
      const abortable = canAbort(saved);
      const final = await runRotation(saved, h.ports);

      try {
        await expectRotated(h, final);
        if (heldAtCrash.length > 0) {
          expect(h.provider.created).toHaveLength(createdAtCrash);
          expect(final.newKey.id).toBe(heldAtCrash[0]!.id);
        }
        // Keys created and not kept are exactly the ones whose plaintext never reached the keychain.
        for (const k of h.provider.created.filter((c) => c.id !== final.newKey.id)) {
          expect(h.provider.deleted).toContain(k);
        }
        if (heldAtCrash.length > 0 && !journaledKeyId) seen.adopted++;
        if (h.provider.created.length > 1) seen.orphansDeleted++;
        if (!abortable) seen.resumedAfterRevoke++;
        // Consumers were handed the key that was kept.
        expect(h.state.consumerSecret).toBe(h.newKeys()[0]!.secret);
        expect(h.rescued).toEqual([]);
      } catch (err) {
        throw new Error(`crash point ${crashAt} (${String((crashed as Error).message)}): ${(err as Error).message}`);
      }
    }
    // The interesting crashes happened: a stored key not yet journaled, a lost create answer, a half revoke.
    expect(seen.adopted).toBeGreaterThan(0);
    expect(seen.orphansDeleted).toBeGreaterThan(0);
    expect(seen.resumedAfterRevoke).toBeGreaterThan(0);
  });
});

describe('runRotation: a failing hook', () => {
  it('throws HookFailedError with a resumable hint; both keys stay live; resume runs the hook again', async () => {
    const h = harness();
    h.state.hookError = new HookFailedError(say`The --on-new-key command exited with status 1.`, { hint: say`See its output above.` });
    const err = await failure(runRotation(h.record, h.ports));

    expect(err).toBeInstanceOf(HookFailedError);
    expect(err.exitCode).toBe(12);
    expect(err.data).toMatchObject({ rotationId: 'rot-1', phase: 'hand-over', resumable: true });
    expect(err.hint).toMatch(/^See its output above\. /);
    expect(err.hint).toMatch(/The old key is untouched\./);
    expect(err.hint).toContain(`The new key ${NEW_NAME} is live and in the keychain.`);
    expect(err.hint).toContain(`keyrot rotate --user ${EMAIL} --resume`);
    expect(err.hint).toContain('--abort');
    expect(h.record).toMatchObject({ status: 'failed', phase: 'hand-over', lastError: { code: 'hook_failed' } });
    expect(h.saves.at(-1)).toMatchObject({ status: 'failed', phase: 'hand-over' });
    // Nothing changed at the provider beyond the new key: the old one is live, the new one held.
    expect(h.provider.keys).toContain(h.oldKey);
    expect(await h.held(h.newKeys()[0]!)).toBe(true);
    expect(await h.store.inner.get(h.account(h.oldKey.id))).toBe(h.oldKey.secret);
    expect(h.provider.callsOf('deleteKey')).toHaveLength(0);
    expect(h.steps.at(-1)).toMatchObject({ outcome: 'failed', detail: 'hook failed' });

    h.state.hookError = null;
    const final = await runRotation(structuredClone(h.saves.at(-1)!), h.ports);
    await expectRotated(h, final);
    expect(h.hooks).toHaveLength(2);
    expect(h.provider.callsOf('createKey')).toHaveLength(1);
  });

  it('a journal that cannot record the stop is said in one line beside it; the hook failure is still the error', async () => {
    const h = harness();
    h.state.hookError = new HookFailedError(say`hook failed`);
    const save = h.ports.save;
    h.ports.save = async (record) => {
      if (record.status === 'failed') throw new StateError(say`keyrot cannot write its state at /state/rotations/x.json: the disk is full.`);
      await save(record);
    };
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(HookFailedError);
    // keyrot status would still show the rotation running: the user is told, not left to find out.
    expect(h.saves.at(-1)).toMatchObject({ status: 'running', phase: 'hand-over' });
    expect(h.warns).toHaveLength(1);
    expect(h.warns[0]).toMatch(/^The rotation journal could not record this stop \(keyrot cannot write its state at \/state\/rotations\/x\.json: the disk is full\.\)/);
  });

  it('a stop whose journal another runner took over says so, never the store\'s "before changing any key"', async () => {
    const h = harness();
    h.state.hookError = new HookFailedError(say`hook failed`);
    const save = h.ports.save;
    h.ports.save = async (record) => {
      // What a shared store answers once this run's lock has lapsed and another runner wrote the journal.
      if (record.status === 'failed') throw fencedError('s3://bucket/team/rotations/x.json');
      await save(record);
    };
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(HookFailedError);
    // The new key was made and handed on before the stop: a warning saying no key changed would be false.
    expect(h.warns).toEqual([expect.stringMatching(/^This stop is not in the rotation journal: another keyrot runner took the rotation over/)]);
    expect(h.warns.join('\n')).not.toMatch(/before changing any key/);
  });
});

describe('runRotation: waiting for consumers', () => {
  it('times out on the virtual clock with WaitTimeoutError; both keys stay live; resume waits again', async () => {
    const h = harness({ consumersFollow: false, options: { waitTimeoutMs: 60_000, pollIntervalMs: 7_000 } });
    const err = await failure(runRotation(h.record, h.ports));

    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err.message).toMatch(/No activity on the new key within 1m 00s/);
    expect(err.data).toMatchObject({ phase: 'wait', resumable: true });
    expect(err.hint).toMatch(/--abort/);
    const waited = h.clock.sleeps.slice(-9);
    expect(waited.reduce((a, b) => a + b, 0)).toBe(60_000);
    expect(Math.max(...waited)).toBe(7_000);
    expect(waited.at(-1)).toBe(4_000); // never sleeps past the deadline
    expect(h.provider.keys).toContain(h.oldKey);
    expect(h.newKeys()).toHaveLength(1);
    expect(canAbort(h.record)).toBe(true);

    h.state.consumerSecret = h.newKeys()[0]!.secret;
    await expectRotated(h, await runRotation(structuredClone(h.saves.at(-1)!), h.ports));
  });

  it('per-key: only use of the new key counts; use of the old key after the hand-over is a consumer still holding it', async () => {
    const h = harness({ consumersFollow: false, options: { waitTimeoutMs: 30_000 } });
    // Consumers keep using the old key: the new key's own signal stays empty.
    h.clock.onSleep = (now) => h.provider.use(h.oldKey.secret, now);
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toMatch(/No activity on the new key/);
    const observed = h.provider.callsOf('observeUsage').map((c) => c.args[1]);
    expect(observed).toContain(h.newKeys()[0]!.id);
    expect(h.record.oldKeyUsedAt).toEqual(expect.any(String));
    expect(h.warns.join('\n')).toMatch(/The old key ops-deploy was used at .*, after the hand-over: a consumer still holds it/);
  });

  it("per-key: a provider clock running behind keyrot's cannot pass a consumer's uses of the old key off as quiet time", async () => {
    const h = harness({ consumersFollow: true, options: { waitTimeoutMs: 30_000, pollIntervalMs: 1_000, usageRefreshMs: 2_000 } });
    // The new key is used; a straggler keeps using the old key, which the provider stamps 30 s in the past.
    h.clock.onSleep = (now) => {
      const [fresh] = h.newKeys();
      if (fresh) h.provider.use(fresh.secret, now);
      h.provider.use(h.oldKey.secret, new Date(now.getTime() - 30_000));
    };
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(h.provider.keys).toContain(h.oldKey);
    expect(h.warns.join('\n')).toMatch(/The old key ops-deploy was used at/);
  });

  it("per-key: a provider clock running ahead of keyrot's cannot pass keyrot's own proof of the new key off as the consumers' use", async () => {
    const h = harness({ consumersFollow: false, options: { waitTimeoutMs: 30_000, pollIntervalMs: 1_000, usageRefreshMs: 5_000 } });
    // keyrot's own check of the new key (before the hand-over) reaches the key's last use late, as the provider
    // writes it in the background, stamped on a clock 60 s ahead. No consumer ever uses the new key.
    let checkedAt: number | null = null;
    const checkKey = h.provider.checkKey.bind(h.provider);
    h.provider.checkKey = async (secret) => {
      if (h.newKeys().some((k) => k.secret === secret)) checkedAt ??= h.clock.now().getTime();
      return checkKey(secret);
    };
    let sleeps = 0;
    h.clock.onSleep = () => {
      if (++sleeps === 3 && checkedAt !== null) h.provider.use(h.newKeys()[0]!.secret, new Date(checkedAt + 60_000));
    };
    const err = await failure(runRotation(h.record, h.ports));
    expect(checkedAt).not.toBeNull();
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toMatch(/No activity on the new key/);
    expect(h.provider.keys).toContain(h.oldKey);
    expect(h.events.some((e) => e.type === 'usage.seen')).toBe(false);
  });

  it('per-key: a consumer that uses the new key after the hand-over is seen, whatever the provider clock says', async () => {
    const h = harness({ consumersFollow: true, options: { waitTimeoutMs: 60_000, pollIntervalMs: 1_000, usageRefreshMs: 5_000 } });
    // The provider stamps every use 10 minutes ahead of keyrot's clock.
    const use = h.provider.use.bind(h.provider);
    h.provider.use = (secret, at = h.clock.now()) => use(secret, new Date(at.getTime() + 600_000));
    const done = await runRotation(h.record, h.ports);
    await expectRotated(h, done);
    expect(done.steps.find((st) => st.phase === 'wait')!.detail).toMatch(/ops-deploy unused for 1\d\.\d s/);
  });

  it('per-key: a platform that records every use at once (refresh 0) still needs polls that see the old key stand still', async () => {
    const h = harness({ consumersFollow: true, options: { waitTimeoutMs: 30_000, pollIntervalMs: 1_000, usageRefreshMs: 0 } });
    // A straggler keeps using the old key: every poll sees its last use move.
    const onSleep = h.clock.onSleep;
    h.clock.onSleep = (now) => {
      onSleep?.(now);
      h.provider.use(h.oldKey.secret, now);
    };
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(h.provider.keys).toContain(h.oldKey);
    // Once it stops, two quiet polls are enough.
    h.clock.onSleep = onSleep;
    const done = await runRotation(structuredClone(h.saves.at(-1)!), h.ports);
    expect(done.status).toBe('done');
    expect(done.steps.filter((st) => st.phase === 'wait').at(-1)!.detail).toMatch(/ops-deploy unused for 2\.0 s/);
  });

  it('per-key: the old key must stay unused for twice the refresh interval after the hand-over before it is revoked', async () => {
    const h = harness({ consumersFollow: true, options: { waitTimeoutMs: 120_000, pollIntervalMs: 1_000, usageRefreshMs: 20_000 } });
    const done = await runRotation(h.record, h.ports);
    expect(done.status).toBe('done');
    const wait = done.steps.find((st) => st.phase === 'wait')!;
    expect(wait.detail).toMatch(/ops-deploy unused for (40|41|42)\.\d s/);
    expect(h.clock.now().getTime() - Date.parse(done.handedOverAt!)).toBeGreaterThanOrEqual(40_000);
  });

  describe('per-user signal: never evidence of the switch', () => {
    it('old-key traffic moves the activity, yet without --check and nobody to ask the old key stays: stops naming the choices', async () => {
      const h = harness({ usageSignal: 'per-user', consumersFollow: false, options: { waitTimeoutMs: 30_000 } });
      const runHook = h.ports.runHook;
      h.ports.runHook = async (...args) => {
        await runHook(...args);
        h.clock.advance(2_000);
        h.provider.use(h.oldKey.secret, h.clock.now());
      };
      const err = await failure(runRotation(h.record, h.ports));
      expect(err).toBeInstanceOf(WaitTimeoutError);
      expect(err.message).toMatch(/Nothing can show that the consumers use ops-deploy-v2: .* reports activity per user/);
      expect((err as WaitTimeoutError).hint).toMatch(/--check CMD.*--no-wait.*--abort/);
      expect(h.provider.keys.some((k) => k.id === h.oldKey.id)).toBe(true);
    });

    it('a passing --check is the evidence: the rotation goes on at once, whatever the activity', async () => {
      const h = harness({ usageSignal: 'per-user', consumersFollow: false, options: { check: './smoke.sh', waitTimeoutMs: 60_000 } });
      const final = await runRotation(h.record, h.ports);
      await expectRotated(h, final);
      expect(final.steps.find((s) => s.phase === 'wait')?.detail).toBe('check passed');
      expect(h.events.some((e) => e.type === 'usage.seen')).toBe(false);
      expect(h.events.some((e) => e.type === 'check.passed')).toBe(true);
    });

    it("in a terminal the person's Yes is the evidence (the activity shown for what it is); No leaves both keys", async () => {
      const yes = harness({ usageSignal: 'per-user', consumersFollow: false });
      const asked: string[] = [];
      yes.ports.confirmSwitch = async (message) => (asked.push(message), true);
      const final = await runRotation(yes.record, yes.ports);
      await expectRotated(yes, final);
      expect(asked[0]).toMatch(
        /Do the consumers work with the new key ops-deploy-v2 \(.* last saw .* use the API .*: with any key, so it cannot tell the new key from the old\)\? Yes revokes ops-deploy\./,
      );
      const no = harness({ usageSignal: 'per-user', consumersFollow: false });
      no.ports.confirmSwitch = async () => false;
      expect(await failure(runRotation(no.record, no.ports))).toBeInstanceOf(CancelledError);
      expect(no.provider.keys.some((k) => k.id === no.oldKey.id)).toBe(true);
    });
  });

  it('shows elapsed and remaining time while --check runs, moving with the clock rather than at each poll', async () => {
    const h = harness({ usageSignal: 'per-user', consumersFollow: false, options: { check: './smoke.sh', waitTimeoutMs: 60_000, pollIntervalMs: 20_000 } });
    h.state.checkResults = Array(100).fill(false);
    let live: (() => string) | undefined;
    let texts: string[] = [];
    h.clock.onSleep = () => {
      live ??= h.steps.find((st) => st.label.startsWith('Wait'))?.live;
      texts.push(live!());
    };
    await failure(runRotation(h.record, h.ports));
    expect(texts[0]).toMatch(/^20\.0 s of 1m 00s, 40\.0 s left; running --check until it passes$/);
    expect(texts[1]).toMatch(/^40\.0 s of 1m 00s, 20\.0 s left/);
    // Between polls the text follows the clock on its own (a spinner redraws it every second).
    h.clock.advance(1_500);
    texts = [live!()];
    expect(texts[0]).toMatch(/^1m 02s of 1m 00s, 0 ms left/);
    // The step line of a failure says it in words.
    expect(h.steps.find((st) => st.label.startsWith('Wait'))?.detail).toBe('wait timeout');
  });

  it('--check must pass after usage is seen; a failing check times out naming --check', async () => {
    const h = harness({ options: { check: './smoke.sh', waitTimeoutMs: 20_000 } });
    h.state.checkResults = Array(100).fill(false);
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err.message).toMatch(/passing --check/);
    expect(h.checks[0]).toMatchObject({ KEYROT_KEY_NAME: NEW_NAME, KEYROT_OLD_KEY_ID: h.oldKey.id });
  });

  it('--check passing after a few tries completes the wait', async () => {
    const h = harness({ options: { check: './smoke.sh' } });
    h.state.checkResults = [false, false, true, true];
    const final = await runRotation(h.record, h.ports);
    await expectRotated(h, final);
    // Three during the wait, one more after the revoke (a consumer left on the old key would fail it).
    expect(h.checks).toHaveLength(4);
    expect(final.steps.find((s) => s.phase === 'wait')?.detail).toMatch(/check passed$/);
  });

  it('without a usable signal (admin key is the user), does not wait on usage', async () => {
    const h = harness({ consumersFollow: false, options: { usageSignalUsable: false } });
    const final = await runRotation(h.record, h.ports);
    await expectRotated(h, final);
    expect(h.provider.callsOf('observeUsage')).toHaveLength(0);
    expect(final.steps.find((s) => s.phase === 'wait')?.detail).toBe('no usage signal');
  });

  it('with a provider that has no usage signal, relies on --check alone', async () => {
    const h = harness({ usageSignal: 'none', consumersFollow: false, options: { check: './smoke.sh' } });
    h.state.checkResults = [false, true, true];
    const final = await runRotation(h.record, h.ports);
    await expectRotated(h, final);
    expect(h.checks).toHaveLength(3);
  });

  it('--check failing after the revoke means a consumer still holds the old key: VerificationFailedError, resumable', async () => {
    const h = harness({ options: { check: './smoke.sh' } });
    h.state.checkResults = [true, false];
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(VerificationFailedError);
    expect(err.message).toMatch(/a consumer still uses the old key/);
    expect(h.record).toMatchObject({ status: 'failed', phase: 'verify-old' });
    h.state.checkResults = [true];
    const final = await runRotation(h.record, h.ports);
    expect(final.status).toBe('done');
  });
});

describe('runRotation: verifying the old key is gone', () => {
  it('an old key still authenticating after its deletion: loud warning, VerificationFailedError at verify-old', async () => {
    const h = harness();
    h.provider.zombies.add(h.oldKey.secret);
    h.ports.verifyAttempts = 3;
    const err = await failure(runRotation(h.record, h.ports));

    expect(err).toBeInstanceOf(VerificationFailedError);
    expect(err.exitCode).toBe(7);
    expect(err.message).toMatch(/still authenticates/);
    expect(err.data).toMatchObject({ phase: 'verify-old' });
    expect(err.hint).not.toMatch(/--abort/);
    expect(h.warns).toHaveLength(1);
    expect(h.warns[0]).toMatch(/STILL AUTHENTICATES/);
    expect(h.record).toMatchObject({ status: 'failed', phase: 'verify-old', oldKeyStillAuthenticates: true });
    expect(h.record.steps.find((s) => s.phase === 'verify-old')?.outcome).toBe('failed');
    // New key at verify-new and before the revoke; old key once by the revoke's delete-and-confirm, then 3 times.
    expect(h.provider.callsOf('checkKey')).toHaveLength(2 + 1 + 3);
    expect(h.newKeys()).toHaveLength(1);
    expect(canAbort(h.record)).toBe(false);
  });

  it('--resume re-checks the old key once the provider stops accepting it', async () => {
    const h = harness();
    h.provider.zombies.add(h.oldKey.secret);
    h.ports.verifyAttempts = 2;
    await failure(runRotation(h.record, h.ports));
    h.provider.zombies.clear();
    const final = await runRotation(structuredClone(h.saves.at(-1)!), h.ports);
    expect(final.status).toBe('done');
  });

  it('a 403 for the old key is not taken as proof that it was revoked', async () => {
    const h = harness();
    h.provider.authOverrides.set(h.oldKey.secret, { ok: false, reason: 'forbidden', message: 'Forbidden.' });
    h.provider.afterEffect = (call) => {
      if (call.method === 'deleteKey' && call.args[1] === h.oldKey.id) h.provider.keys.push(h.oldKey);
    };
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(VerificationFailedError);
  });

  it('an old key keyrot does not hold is proven gone by no longer being listed', async () => {
    const h = harness({ holdOld: false });
    const final = await runRotation(h.record, h.ports);
    await expectRotated(h, final);
    expect(final.steps.find((s) => s.phase === 'verify-old')?.detail).toMatch(/no longer listed/);
  });

  it('an old key keyrot does not hold that is still listed fails verification', async () => {
    const h = harness({ holdOld: false });
    // The delete "succeeds" but the key stays.
    h.provider.afterEffect = (call) => {
      if (call.method === 'deleteKey' && call.args[1] === h.oldKey.id) h.provider.keys.push(h.oldKey);
    };
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(VerificationFailedError);
    expect((err as Error).message).toMatch(/still live/);
    // Stopped in the revoke itself (delete-and-confirm), so that --resume sends the delete again.
    expect(h.record.phase).toBe('revoke');
    h.provider.afterEffect = null;
    const done = await runRotation(h.record, h.ports);
    expect(done.status).toBe('done');
    expect(h.provider.keys.some((k) => k.id === h.oldKey.id)).toBe(false);
  });
});

describe('canAbort', () => {
  const base = harness().record;
  const rec = (mode: RotationMode, phase: Phase, phaseStatus: 'pending' | 'started', status: RotationRecord['status'] = 'failed') => ({ ...base, mode, phase, phaseStatus, status }) as RotationRecord;

  it.each<[RotationMode, Phase, 'pending' | 'started', RotationRecord['status'], boolean]>([
    ['standard', 'create', 'pending', 'running', true],
    ['standard', 'create', 'started', 'failed', true],
    ['standard', 'verify-new', 'pending', 'failed', true],
    ['standard', 'hand-over', 'started', 'failed', true],
    ['standard', 'wait', 'pending', 'failed', true],
    ['standard', 'revoke', 'pending', 'paused', true],
    ['standard', 'revoke', 'started', 'failed', false],
    ['standard', 'verify-old', 'pending', 'failed', false],
    ['standard', 'finish', 'pending', 'failed', false],
    ['standard', 'finish', 'pending', 'done', false],
    ['standard', 'create', 'pending', 'aborted', false],
    ['emergency', 'create', 'started', 'failed', true],
    ['emergency', 'revoke', 'pending', 'running', true],
    ['emergency', 'revoke', 'started', 'failed', false],
    ['emergency', 'verify-old', 'pending', 'failed', false],
    ['emergency', 'hand-over', 'pending', 'failed', false],
  ])('%s %s/%s (%s) → %s', (mode, phase, phaseStatus, status, expected) => {
    expect(canAbort(rec(mode, phase, phaseStatus, status))).toBe(expected);
  });
});

describe('abortRotation', () => {
  it('deletes the new key and its keychain entry; the old key and its entry stay', async () => {
    const h = harness({ options: { keepOld: true } });
    const paused = await runRotation(h.record, h.ports);
    const newKey = h.newKeys()[0]!;
    h.state.checkJournal = false;

    const aborted = await abortRotation(structuredClone(h.saves.at(-1)!), h.ports);

    expect(aborted.status).toBe('aborted');
    expect(h.saves.at(-1)!.status).toBe('aborted');
    expect(h.newKeys()).toEqual([]);
    expect(h.provider.deleted).toEqual([newKey]);
    expect(await h.store.inner.get(h.account(newKey.id))).toBeNull();
    expect(h.provider.keys).toContain(h.oldKey);
    expect(await h.store.inner.get(h.account(h.oldKey.id))).toBe(h.oldKey.secret);
    expect(h.events.at(-1)).toEqual({ type: 'rotation.aborted', data: { userId: USER, deletedKeyIds: [newKey.id] } });
    expect(h.steps.at(-1)).toMatchObject({ outcome: 'ok', detail: `deleted ${newKey.id}` });
    expect(canAbort(aborted)).toBe(false);
    expect(paused.status).toBe('paused');
  });

  it('an --abort that stopped once it had deleted the new key, the old key deleted by hand meanwhile: the next --abort closes the rotation, saying no key works', async () => {
    const h = harness();
    h.state.hookError = new HookFailedError(say`hook failed`);
    await failure(runRotation(h.record, h.ports));
    h.state.checkJournal = false;
    const stopped = structuredClone(h.saves.at(-1)!);
    const newKey = h.newKeys()[0]!;
    // What that --abort left: the key deleted at the provider; its entry, which an --abort drops only once its journal
    // says closed, still here.
    h.provider.keys.splice(h.provider.keys.indexOf(newKey), 1);
    h.provider.keys.splice(h.provider.keys.indexOf(h.oldKey), 1);

    const aborted = await abortRotation(stopped, h.ports);

    expect(aborted.status).toBe('aborted');
    expect(h.saves.at(-1)!.status).toBe('aborted');
    expect(h.warns.join('\n')).toMatch(/no key of this rotation works/);
    expect(await h.store.inner.get(h.account(newKey.id))).toBeNull();
  });

  it('the old key gone, the new key unlisted and not in this keychain (another machine, or an entry deleted by hand): --abort is refused, since a listing may lag', async () => {
    const h = harness();
    h.state.hookError = new HookFailedError(say`hook failed`);
    await failure(runRotation(h.record, h.ports));
    h.state.checkJournal = false;
    const newKey = h.newKeys()[0]!;
    await h.store.inner.delete(h.account(newKey.id));
    h.provider.keys.splice(h.provider.keys.indexOf(h.oldKey), 1);
    const list = h.provider.listKeys.bind(h.provider);
    h.provider.listKeys = async (userId) => (await list(userId)).filter((k) => k.id !== newKey.id);
    const err = await failure(abortRotation(structuredClone(h.saves.at(-1)!), h.ports));
    expect(err.message).toMatch(/no longer listed: rolling back would delete/);
    expect(h.provider.keys).toContain(newKey);
  });

  it("--abort drops the new key's keychain entry only once its journal says the rotation is closed", async () => {
    const h = harness();
    h.state.hookError = new HookFailedError(say`hook failed`);
    await failure(runRotation(h.record, h.ports));
    h.state.checkJournal = false;
    const newKey = h.newKeys()[0]!;
    const entries: Array<string | null> = [];
    const save = h.ports.save;
    await abortRotation(structuredClone(h.saves.at(-1)!), {
      ...h.ports,
      save: async (record) => {
        if (record.status === 'aborted') entries.push(await h.store.inner.get(h.account(newKey.id)));
        await save(record);
      },
    });
    expect(entries).toEqual([newKey.secret]);
    expect(await h.store.inner.get(h.account(newKey.id))).toBeNull();
  });

  it('--abort whose keychain refuses to drop the entry of the deleted new key: the rotation stays closed, and the entry left is said', async () => {
    const h = harness();
    h.state.hookError = new HookFailedError(say`hook failed`);
    await failure(runRotation(h.record, h.ports));
    h.state.checkJournal = false;
    const newKey = h.newKeys()[0]!;
    const aborted = await abortRotation(structuredClone(h.saves.at(-1)!), {
      ...h.ports,
      store: {
        kind: h.store.kind,
        description: h.store.description,
        get: (account) => h.store.get(account),
        set: (account, secret) => h.store.set(account, secret),
        list: () => h.store.list(),
        delete: async () => {
          throw new KeychainError(say`The keychain is locked.`);
        },
      },
    });
    expect(aborted.status).toBe('aborted');
    expect(h.saves.at(-1)!.status).toBe('aborted');
    expect(h.provider.keys).not.toContain(newKey);
    expect(h.warns.join('\n')).toMatch(/could not be removed \(The keychain is locked\.\): remove it by hand/);
  });

  it('the old key gone and the new key still listed: --abort is refused (the new key may be the only one that works)', async () => {
    const h = harness();
    h.state.hookError = new HookFailedError(say`hook failed`);
    await failure(runRotation(h.record, h.ports));
    h.state.checkJournal = false;
    h.provider.keys.splice(h.provider.keys.indexOf(h.oldKey), 1);
    const err = await failure(abortRotation(structuredClone(h.saves.at(-1)!), h.ports));
    expect(err.message).toMatch(/no longer listed: rolling back would delete/);
    expect(h.newKeys()).toHaveLength(1);
  });

  it('after a failed hook', async () => {
    const h = harness();
    h.state.hookError = new HookFailedError(say`hook failed`);
    await failure(runRotation(h.record, h.ports));
    h.state.checkJournal = false;
    await abortRotation(structuredClone(h.saves.at(-1)!), h.ports);
    expect(h.newKeys()).toEqual([]);
    expect(h.provider.keys).toContain(h.oldKey);
    expect(await h.store.inner.list()).toEqual([h.account(h.oldKey.id)]);
  });

  it('at create/started without a key id: deletes every new key of that name, held or not, sparing pre-existing ones', async () => {
    const h = harness();
    const preexisting = h.provider.addKey(USER, NEW_NAME);
    const record = structuredClone(h.record);
    record.preexistingKeyIds.push(preexisting.id);
    Object.assign(record, { phase: 'create', phaseStatus: 'started', status: 'failed' });
    const orphan = h.provider.addKey(USER, NEW_NAME);
    const heldKey = h.provider.addKey(USER, NEW_NAME);
    await h.store.inner.set(h.account(heldKey.id), heldKey.secret);
    h.state.checkJournal = false;

    await abortRotation(record, h.ports);

    expect(h.provider.deleted).toEqual([orphan, heldKey]);
    expect(h.provider.keys).toEqual(expect.arrayContaining([h.oldKey, h.unrelated, preexisting]));
    expect(await h.store.inner.get(h.account(heldKey.id))).toBeNull();
  });

  it('before anything was created: deletes nothing', async () => {
    const h = harness();
    const aborted = await abortRotation(structuredClone(h.record), h.ports);
    expect(aborted.status).toBe('aborted');
    expect(h.provider.callsOf('deleteKey')).toHaveLength(0);
    expect(h.provider.callsOf('listKeys')).toHaveLength(0);
    expect(h.steps.at(-1)?.detail).toBe('no new key existed');
  });

  it('a revoke that had no effect (the old key still listed and working) can still be rolled back', async () => {
    const h = harness();
    const record = structuredClone(h.record);
    Object.assign(record, { phase: 'revoke', phaseStatus: 'started', status: 'failed' });
    const done = await abortRotation(record, h.ports);
    expect(done.status).toBe('aborted');
    expect(h.provider.keys.some((k) => k.id === h.oldKey.id)).toBe(true);
  });

  it('refuses once the old key is being revoked, pointing to --resume', async () => {
    const h = harness();
    // The revoke took effect: the old key is no longer listed.
    h.provider.keys.splice(h.provider.keys.indexOf(h.oldKey), 1);
    const record = structuredClone(h.record);
    Object.assign(record, { phase: 'revoke', phaseStatus: 'started', status: 'failed' });
    const err = await failure(abortRotation(record, h.ports));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.hint).toContain(`keyrot rotate --user ${EMAIL} --resume`);
    expect(h.provider.callsOf('deleteKey')).toHaveLength(0);
    expect(record.status).toBe('failed');
  });

  it('refuses a finished rotation', async () => {
    const h = harness();
    const final = await runRotation(h.record, h.ports);
    const before = h.provider.keys.length;
    await expect(abortRotation(final, h.ports)).rejects.toBeInstanceOf(UsageError);
    expect(h.provider.keys).toHaveLength(before);
  });
});

describe('newKeyProven: the key keyrot get and exec give during a rotation', () => {
  const base = harness().record;
  it.each<[RotationMode, Phase, string | null, RotationRecord['status'], boolean]>([
    ['standard', 'create', null, 'running', false],
    ['standard', 'create', 'new', 'failed', false], // created and stored, not yet proven
    ['standard', 'verify-new', 'new', 'failed', false],
    ['standard', 'hand-over', 'new', 'failed', true],
    ['standard', 'revoke', 'new', 'paused', true],
    ['standard', 'finish', 'new', 'running', true],
    ['standard', 'hand-over', 'new', 'aborted', false],
    ['emergency', 'verify-new', 'new', 'running', false],
    ['emergency', 'revoke', 'new', 'failed', true],
    ['emergency', 'hand-over', 'new', 'running', true],
  ])('%s at %s (new key %s, %s): %s', (mode, phase, newId, status, proven) => {
    expect(newKeyProven({ ...base, mode, phase, status, newKey: { ...base.newKey, id: newId } })).toBe(proven);
  });
});

describe('what a stop says about the old key', () => {
  it('--emergency: a hook failing after the revoke says the old key is revoked and consumers need the new key, never "untouched"', async () => {
    const h = harness({ mode: 'emergency' });
    h.state.hookError = new HookFailedError(say`hook failed`);
    const err = await failure(runRotation(h.record, h.ports));
    expect(err.exitCode).toBe(12);
    expect(err.hint).toMatch(new RegExp(`The old key ${OLD_NAME} is revoked \\(or being revoked\\): consumers need the new key now`));
    expect(err.hint).not.toMatch(/untouched/);
    expect(h.provider.keys.map((k) => k.id)).not.toContain(h.oldKey.id);
  });

  it('a keychain failing once the new key is live is a stop part-way (exit 12), not "no key was created" (8), and suggests no --store none', async () => {
    const h = harness();
    // The keychain locks after the revoke: finish cannot drop the old key's entry.
    h.store.onCall = (method) => {
      if (method === 'delete' && h.record.phase === 'finish') throw new KeychainError(say`Could not read the keychain: it is locked.`, { hint: say`or use --store none with --on-new-key.` });
    };
    const err = await failure(runRotation(h.record, h.ports));
    expect(err).toBeInstanceOf(RotationIncompleteError);
    expect(err.exitCode).toBe(12);
    expect(err.message).toMatch(/locked/);
    expect(err.hint).not.toMatch(/--store none/);
    expect(err.hint).toMatch(/--resume/);
  });
});
