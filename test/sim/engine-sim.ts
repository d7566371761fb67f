// A deterministic simulation of the real rotation engine (core/rotation: runRotation, abortRotation) against an
// in-memory provider, keychain, journal and clock, with faults injected at chosen points: lost create answers, 2xx
// deletes that do nothing, 429 storms, a crash (kill -9) after any provider or keychain effect or journal save followed
// by --resume or --abort, a key deleted or expired out of band, a second runner's key of the same name, and consumers
// that follow the hand-over or stay on the old key. The invariants are checked after every step (every provider call,
// keychain write and journal save) and after every process ends. Everything comes from the Schedule: the same
// schedule replays exactly.
import fc from 'fast-check';
import { nothingCreated } from '../../src/core/rotation/failure.js';
import { abortRotation } from '../../src/core/rotation/abort.js';
import { runRotation } from '../../src/core/rotation/machine.js';
import type { RotationPorts } from '../../src/core/rotation/ports.js';
import { newRotationRecord, type RotationMode, type RotationRecord } from '../../src/core/rotation/record.js';
import { TRANSITIONS } from '../../src/core/rotation/transitions.js';
import { keychainAccount } from '../../src/core/key-store.js';
import { ProviderUnavailableError, RotationConflictError, WaitTimeoutError } from '../../src/errors.js';
import { MemorySecretStore } from '../../src/keychain/memory-store.js';
import { FakeClock, FakeProvider, FlakyStore, lostAnswer, type FakeKey, type ProviderCall } from '../helpers/fake-provider.js';
import { say } from '../../src/ui/display-text.js';

const USER = 'user-1';
const OLD_NAME = 'ops-deploy';
const NEW_NAME = 'ops-deploy-v2';

export interface Schedule {
  mode: RotationMode;
  store: 'os' | 'none';
  noWait: boolean;
  /** --check: the consumers' own proof (every consumer's key authenticates). */
  check: boolean;
  usageSignal: 'per-key' | 'none';
  /** Lost answers to creates (the key is made, the answer with its plaintext lost). */
  lostCreates: number;
  /** Deletes answered 2xx that keep the key. */
  ignoredDeletes: number;
  /** A 429 storm: this many calls of `stormOn` fail before reaching the provider. */
  storm: number;
  stormOn: 'listKeys' | 'checkKey' | 'createKey' | 'deleteKey';
  /** The step (count of provider calls, keychain writes and saves) after which the process dies; null: never. */
  crashAt: number | null;
  /** Something done behind keyrot's back at a step. */
  outOfBand: { at: number; what: 'delete-old' | 'delete-new' | 'expire-new' | 'expire-old' } | null;
  /** A second runner creates its own key of the new key's name at this step (it holds that key). */
  twinAt: number | null;
  /** Consumers of the old key: 'follow' take the new key from the hook, 'stuck' stay on the old key. */
  consumers: Array<'follow' | 'stuck'>;
  /** After a stop: what the operator runs next, in order (then, with faults gone, resume/abort until it settles). */
  recovery: Array<'resume' | 'abort'>;
}

export const scheduleArb: fc.Arbitrary<Schedule> = fc
  .record({
    mode: fc.constantFrom<RotationMode>('standard', 'standard', 'emergency'),
    store: fc.constantFrom<'os' | 'none'>('os', 'os', 'none'),
    noWait: fc.boolean(),
    check: fc.boolean(),
    usageSignal: fc.constantFrom<'per-key' | 'none'>('per-key', 'none'),
    lostCreates: fc.nat(2),
    ignoredDeletes: fc.nat(2),
    storm: fc.nat(4),
    stormOn: fc.constantFrom<Schedule['stormOn']>('listKeys', 'checkKey', 'createKey', 'deleteKey'),
    crashAt: fc.option(fc.nat(60), { nil: null }),
    outOfBand: fc.option(fc.record({ at: fc.nat(60), what: fc.constantFrom<'delete-old' | 'delete-new' | 'expire-new' | 'expire-old'>('delete-old', 'delete-new', 'expire-new', 'expire-old') }), {
      nil: null,
    }),
    twinAt: fc.option(fc.nat(60), { nil: null }),
    consumers: fc.array(fc.constantFrom<'follow' | 'stuck'>('follow', 'follow', 'stuck'), { maxLength: 3 }),
    recovery: fc.array(fc.constantFrom<'resume' | 'abort'>('resume', 'abort'), { minLength: 1, maxLength: 3 }),
  })
  // --emergency with --store none is refused before any change (session/rotation.ts parseSettings): never scheduled.
  .map((s) => (s.mode === 'emergency' && s.store === 'none' ? { ...s, store: 'os' as const } : s));

export interface Outcome {
  violations: string[];
  /** How the rotation ended: done, rolled back (or closed with nothing made), or still open (a violation). */
  end: 'done' | 'aborted' | 'open';
  steps: number;
  processes: number;
}

/** Thrown by every port once the simulated process has died. */
class Crash extends Error {}

export async function runSchedule(s: Schedule): Promise<Outcome> {
  const clock = new FakeClock();
  const provider = new FakeProvider({ usageSignal: s.usageSignal, now: clock.now });
  provider.addUser({ id: USER, email: 'deploy@example.com' });
  const oldKey = provider.addKey(USER, OLD_NAME);
  const unrelated = provider.addKey(USER, 'billing-export');
  const keychain = new FlakyStore();
  const account = (keyId: string) => keychainAccount(provider.id, USER, keyId);
  if (s.store === 'os') await keychain.inner.set(account(oldKey.id), oldKey.secret);
  const violations: string[] = [];
  const texts: string[] = [];
  const rescued = new Set<string>();
  /** Secrets the hook received: its destination (a CI secret, a deploy) holds them. */
  const delivered = new Set<string>();
  const twins = new Set<string>();
  const consumers = s.consumers.map((kind) => ({ kind, secret: oldKey.secret }));
  let journal: RotationRecord | null = null;
  let step = 0;
  let processes = 0;
  let faultsOn = true;
  let dead = false;
  let memory: MemorySecretStore | null = null;

  const violate = (what: string) => {
    if (violations.length < 20) violations.push(`step ${step}: ${what}`);
  };
  /** Keys of this rotation (made through createKey for the user), not another runner's. */
  const ownLive = () =>
    // An expired key is listed but authenticates nobody: not live.
    provider.keys.filter((k) => k.userId === USER && provider.created.includes(k) && !twins.has(k.id) && (!k.expiresAt || k.expiresAt > clock.now()));
  const persisted = async (key: FakeKey) => (await keychain.inner.get(account(key.id))) === key.secret;
  const heldBy = async (key: FakeKey) => (await persisted(key)) || delivered.has(key.secret) || rescued.has(key.id) || (!dead && (await memory?.get(account(key.id))) === key.secret);

  /** After every step: at most one key beyond the old one. */
  const checkStep = () => {
    if (ownLive().length > 1)
      violate(
        `${ownLive().length} keys of this rotation live at once: ${ownLive()
          .map((k) => k.id)
          .join(', ')}`,
      );
  };
  /**
   * What the engine's rules count as holding a live key of this rotation, were the process to die now: the keychain
   * (--store os), a rescue file, or the hook's destination (it received the plaintext; with --store none that is the
   * only holder, the process's memory dies with it). Read at once (the in-memory keychain answers synchronously),
   * judged when the answer is awaited: the world as it was at this step.
   */
  const holdersNow = (key: FakeKey): (() => Promise<boolean>) => {
    const inKeychain = keychain.inner.get(account(key.id));
    const elsewhere = delivered.has(key.secret) || rescued.has(key.id);
    return async () => elsewhere || (await inKeychain) === key.secret;
  };
  /** A key the journal tells the next run (--resume or --abort) to find and settle: not lost, though nobody holds it yet. */
  const reconcilable = (record: RotationRecord | null, key: FakeKey) =>
    (record?.othersKeyIds?.includes(key.id) ?? false) ||
    (record !== null && record.status !== 'done' && record.status !== 'aborted' && (record.phase === 'create' || record.createOutcomeUnknown === true || record.newKey.id === key.id));
  /** Checks still to be judged (their facts were read at their step). */
  const pending: Array<Promise<void>> = [];
  /** Texts already scanned for a plaintext. */
  let scanned = 0;
  /**
   * After every step (a provider call, keychain write, journal save or hook): no live key of this rotation that nobody
   * holds and no journal reconciles, as if the process died right here; no plaintext in what was written so far.
   */
  const checkHolders = (label: string) => {
    const at = step;
    const record = journal;
    const live = ownLive().map((key) => ({ key, held: holdersNow(key) }));
    pending.push(
      (async () => {
        for (const { key, held } of live) {
          if (!(await held()) && !reconcilable(record, key)) violate(`after step ${at} (${label}): key ${key.id} is live, nobody holds it and no journal reconciles it`);
        }
      })(),
    );
    const secrets = [oldKey.secret, ...provider.created.map((k) => k.secret)];
    for (; scanned < texts.length; scanned++) {
      for (const secret of secrets) if (texts[scanned]!.includes(secret)) violate(`after step ${at} (${label}): a plaintext (…${secret.slice(-5)}) appears in a record or message`);
    }
  };
  const tick = (label: string) => {
    if (dead) throw new Crash(`dead (${label})`);
    step++;
    checkStep();
    if (faultsOn && s.outOfBand && step === s.outOfBand.at) outOfBand(s.outOfBand.what);
    if (faultsOn && s.twinAt !== null && step === s.twinAt) twins.add(provider.addKey(USER, NEW_NAME).id);
    checkHolders(label);
    if (faultsOn && s.crashAt !== null && step === s.crashAt) {
      dead = true;
      throw new Crash(`crash after ${label}`);
    }
  };
  /** Set once the new key was deleted or expired behind keyrot's back: after its last check, nothing can prevent that. */
  let newKeyLostOutOfBand = false;
  /**
   * The step of keyrot's last look at the new key that counts as the revoke's proof (a listing, or the key itself
   * asked), and the step at which the new key was lost out of band. A loss excuses deleting the old key only when it
   * came after that look: before it, the proof exists to stop the revoke. Looks count in the revoke phase, and, where
   * no wait stands between (--no-wait or --emergency without --keep-old), from verify-new on (the engine reuses a
   * proof made seconds ago there).
   */
  let lastProofStep = -1;
  let newKeyLostAtStep = Number.POSITIVE_INFINITY;
  const outOfBand = (what: NonNullable<Schedule['outOfBand']>['what']) => {
    if (what.endsWith('new') && ownLive()[0]) {
      newKeyLostOutOfBand = true;
      newKeyLostAtStep = Math.min(newKeyLostAtStep, step);
    }
    const target = what.endsWith('old') ? provider.keys.find((k) => k.id === oldKey.id) : ownLive()[0];
    if (!target) return;
    if (what.startsWith('delete')) provider.keys.splice(provider.keys.indexOf(target), 1);
    else {
      target.expiresAt = new Date(clock.now().getTime() - 1_000);
      // An expired key no longer authenticates (what expiry means): the fake's own check only looks for the key.
      provider.authOverrides.set(target.secret, { ok: false, reason: 'rejected', message: 'Invalid API token.' });
    }
  };

  /** The old key goes only once the new one is proven, held and (where the mode needs it) evidenced. */
  provider.onCall = (call: ProviderCall) => {
    if (dead) throw new Crash('dead');
    const looking = journal?.newKey.id && (call.method === 'listKeys' || (call.method === 'checkKey' && call.args[0] === provider.keys.find((k) => k.id === journal!.newKey.id)?.secret));
    if (looking && journal) {
      const noWaitBetween = (journal.mode === 'emergency' || journal.options.noWait) && !journal.options.keepOld;
      if (journal.phase === 'revoke' || (noWaitBetween && journal.phase !== 'create')) lastProofStep = step;
    }
    if (call.method === 'deleteKey' && call.args[1] === oldKey.id) {
      const r = journal;
      // A listed key that has expired is not live either.
      const fresh = r?.newKey.id ? provider.keys.find((k) => k.id === r.newKey.id && (!k.expiresAt || k.expiresAt > clock.now())) : undefined;
      const excused = newKeyLostOutOfBand && newKeyLostAtStep > lastProofStep && lastProofStep >= 0;
      if (!r || (!fresh && !excused)) violate('the old key is deleted while no new key of this rotation is live (and no proof of the revoke preceded its loss)');
      else if (!fresh) return;
      else {
        const verified = r.steps.some((st) => st.phase === 'verify-new' && st.outcome === 'ok');
        if (!verified) violate('the old key is deleted before the new key was proven');
        const held = s.store === 'os' ? keychain.inner.get(account(fresh.id)) : Promise.resolve(null);
        void held.then((v) => {
          if (s.store === 'os' && v !== fresh.secret) violate('the old key is deleted while the keychain does not hold the new key');
        });
        if (s.store === 'none' && !r.handedOverAt) violate('--store none: the old key is deleted before the new key was handed over');
        if (r.mode === 'standard' && !r.options.noWait && !r.steps.some((st) => st.phase === 'wait' && st.outcome === 'ok')) {
          violate('the old key is deleted without evidence that consumers use the new key');
        }
      }
    }
  };
  provider.afterEffect = (call) => tick(call.method);
  keychain.onCall = () => {
    if (dead) throw new Crash('dead');
  };
  keychain.afterEffect = (method) => tick(`keychain ${method}`);
  clock.onSleep = (now) => {
    for (const c of consumers) provider.use(c.secret, now);
  };

  if (s.lostCreates) provider.faults.push({ method: 'createKey', when: 'after', error: lostAnswer, times: s.lostCreates });
  if (s.storm) provider.faults.push({ method: s.stormOn, when: 'before', error: () => new ProviderUnavailableError(say`Too many requests (HTTP 429), and the retries ran out.`), times: s.storm });
  provider.ignoredDeletes = s.ignoredDeletes;

  const portsFor = (): RotationPorts => {
    dead = false;
    processes++;
    memory = s.store === 'none' ? new MemorySecretStore() : null;
    const store = memory ?? keychain;
    return {
      provider,
      cleanupProvider: async () => provider,
      store,
      save: async (record) => {
        if (dead) throw new Crash('dead');
        journal = structuredClone(record);
        texts.push(JSON.stringify(record));
        tick(`save ${record.phase}/${record.phaseStatus}/${record.status}`);
      },
      runHook: async (_command, secret) => {
        if (dead) throw new Crash('dead');
        delivered.add(secret);
        for (const c of consumers) if (c.kind === 'follow') c.secret = secret;
        tick('hook');
      },
      runCheck: async () => {
        if (dead) throw new Crash('dead');
        return consumers.every((c) => provider.keys.some((k) => k.secret === c.secret && (!k.expiresAt || k.expiresAt > clock.now())));
      },
      confirmHandover: null,
      rescue: async (key) => {
        if (dead) throw new Crash('dead');
        rescued.add(key.id);
        return `/state/rescue/${key.id}.key`;
      },
      startStep: async (label) => {
        texts.push(label);
        return { update: (d) => void texts.push(typeof d === 'function' ? d() : d), finish: (_o, d) => (texts.push(d ?? ''), 1) };
      },
      event: (type, data) => void texts.push(type, JSON.stringify(data ?? {})),
      note: (m) => void texts.push(m),
      warn: (m) => void texts.push(m),
      protect: () => undefined,
      now: clock.now,
      sleep: clock.sleep,
      signal: new AbortController().signal,
    };
  };

  /** When a process ends: nothing live that nobody holds, except what its journal tells the next run to reconcile. */
  const checkAtRest = async (final: boolean) => {
    await Promise.all(pending.splice(0));
    for (const key of ownLive()) {
      if (await heldBy(key)) continue;
      // Named to a person as possibly another's (othersKeyIds): theirs to delete, never keyrot's.
      if (final || !reconcilable(journal, key)) violate(`key ${key.id} is live and nobody holds it (${final ? 'at the end' : 'no journal reconciles it'})`);
    }
  };

  const run = async (action: 'start' | 'resume' | 'abort'): Promise<unknown> => {
    const ports = portsFor();
    const record = action === 'start' ? fresh() : structuredClone(journal);
    if (!record) return null;
    try {
      if (action === 'abort') await abortRotation(record, ports);
      else await runRotation(record, ports);
      return null;
    } catch (err) {
      if (action !== 'abort' && !(err instanceof Crash) && nothingCreated(record, err)) {
        // What the session does (session/rotation.ts runReported): nothing was made, the record is closed.
        TRANSITIONS.close(record);
        journal = structuredClone(record);
      }
      if (!(err instanceof Crash)) texts.push(err instanceof Error ? `${err.message} ${(err as { hint?: string }).hint ?? ''}` : String(err));
      return err;
    } finally {
      dead = true;
      await checkAtRest(false);
    }
  };
  const fresh = () =>
    newRotationRecord({
      id: 'rot-1',
      provider: provider.id,
      user: { id: USER, email: 'deploy@example.com' },
      mode: s.mode,
      oldKey: { id: oldKey.id, name: OLD_NAME, lastChars: oldKey.secret.slice(-5), expiresAt: null },
      newName: NEW_NAME,
      expiresAt: null,
      preexistingKeyIds: [oldKey.id, unrelated.id],
      options: {
        onNewKey: 'deliver.sh',
        check: s.check ? 'check.sh' : null,
        noWait: s.noWait || s.mode === 'emergency',
        keepOld: false,
        waitTimeoutMs: 120_000,
        pollIntervalMs: 5_000,
        hookTimeoutMs: 10_000,
        usageSignalUsable: true,
        store: s.store,
      },
      now: clock.now(),
    });

  const current = (): RotationRecord | null => journal;
  /**
   * What the conflict's hint tells a person to do: the other run finishes (here: steps back, deleting its key), and the
   * key of this rotation nobody holds, named by the error, is deleted by hand (keyrot revoke).
   */
  const settleByHand = (r: RotationRecord | null) => {
    for (const id of twins) {
      const at = provider.keys.findIndex((k) => k.id === id);
      if (at >= 0) provider.keys.splice(at, 1);
    }
    for (const id of r?.othersKeyIds ?? []) {
      const at = provider.keys.findIndex((k) => k.id === id && !twins.has(id));
      if (at >= 0) provider.keys.splice(at, 1);
    }
  };
  const terminal = () => {
    const r = current();
    return r !== null && (r.status === 'done' || r.status === 'aborted');
  };
  await run('start');
  for (const action of s.recovery) {
    if (terminal() || current() === null) break;
    await run(action);
  }
  // The faults are over: an operator resumes, and rolls back when resuming cannot go on.
  faultsOn = false;
  provider.faults.length = 0;
  provider.ignoredDeletes = 0;
  for (let i = 0; i < 12 && current() !== null && !terminal(); i++) {
    const err = await run(i % 2 === 1 ? 'abort' : 'resume');
    if (err instanceof RotationConflictError) settleByHand(current());
    // No evidence will come (no consumer uses the new key): the operator resumes with --no-wait, which the session
    // writes into the journaled options (session/rotation.ts applyResumeOverrides).
    const now = current();
    // --store none, resumed by another process: the operator passes --check so that the consumers prove the new key.
    if (now && /holds no copy of the new key[^]*--store none/.test(now.lastError?.message ?? '')) now.options.check = 'check.sh';
    // --check failing names a consumer still on the old key: the person gives it the new key.
    if (now && /--check/.test(now.lastError?.message ?? '')) {
      const fresh = provider.keys.find((k) => k.id === now.newKey.id);
      if (fresh) for (const c of consumers) c.secret = fresh.secret;
    }
    if (err instanceof WaitTimeoutError && now) now.options.noWait = true;
    if (err && i % 2 === 0 && !terminal()) {
      await run('abort');
      i++;
    }
  }
  // An abort that deleted none of the keys it could not tell from another's names them: the person deletes them.
  if (current()?.othersKeyIds?.length) settleByHand(current());
  await checkAtRest(true);

  const end: Outcome['end'] = current() === null ? 'aborted' : terminal() ? ((current() as RotationRecord).status === 'done' ? 'done' : 'aborted') : 'open';
  // Both keys gone behind keyrot's back (the new one expired or deleted after the old one was revoked): no rotation
  // can converge; keyrot keeps saying so, which is all it can do.
  const bothLost = newKeyLostOutOfBand && !provider.keys.some((k) => k.id === oldKey.id);
  if (end === 'open' && !bothLost) violate(`the rotation did not converge: ${current()?.phase}/${current()?.status}: ${current()?.lastError?.message ?? ''}`);
  if (end === 'done') {
    const r = current() as RotationRecord;
    if (provider.keys.some((k) => k.id === oldKey.id)) violate('done, and the old key is still live');
    const fresh = provider.keys.find((k) => k.id === r.newKey.id);
    if (!fresh) {
      if (!newKeyLostOutOfBand) violate('done, and the new key is not live');
    } else if (!(await heldBy(fresh))) violate('done, and nobody holds the new key');
  }
  if (end === 'aborted' && ownLive().some((k) => !rescued.has(k.id) && !delivered.has(k.secret) && twins.size === 0)) {
    // Rolled back: a key of this rotation that is still live must at least be held (checkAtRest); say if one is left.
    const left = ownLive().filter((k) => !rescued.has(k.id));
    if (left.length && !(await Promise.all(left.map(persisted))).every(Boolean)) violate(`rolled back, and ${left.map((k) => k.id).join(', ')} is left live`);
  }
  // No secret in any record, message, event or error.
  const secrets = [oldKey.secret, ...provider.created.map((k) => k.secret)];
  const written = texts.join('\n');
  for (const secret of secrets) if (written.includes(secret)) violate(`a plaintext (…${secret.slice(-5)}) appears in a record or message`);
  return { violations, end, steps: step, processes };
}
