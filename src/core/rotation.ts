// The rotation state machine. A rotation is a fixed sequence of phases (which depends on the mode); the
// journal records the phase reached and whether its side effect may have started. Every transition is
// saved before the next side effect, so resuming means: read the record, re-enter the recorded phase in its
// idempotent form, continue. No I/O library here: everything goes through RotationPorts.
import {
  AuthError,
  CancelledError,
  CreateOutcomeUnknownError,
  KeyNotReturnedError,
  KeychainError,
  KeyrotError,
  OperatorStepError,
  RotationIncompleteError,
  RotationConflictError,
  ScopeMismatchError,
  UsageError,
  VerificationFailedError,
  WaitTimeoutError,
  isKeyrotError,
} from '../errors.js';
import { entryName, keychainAccount, type SecretStore } from '../keychain/secret-store.js';
import type { ApiKey, AuthCheck, Provider } from '../providers/types.js';
import { createAndStoreKey, deleteOrphans, discardNewKey, refuseOthersKeys } from './create-key.js';
import { formatDuration } from './duration.js';
import { maskFromLastChars, maskSecret } from './mask.js';
import { shellArg } from './shell-arg.js';

export type Phase = 'create' | 'verify-new' | 'hand-over' | 'wait' | 'revoke' | 'verify-old' | 'finish';
export type RotationMode = 'standard' | 'emergency';

/**
 * The order of phases: the rotation guides' procedure, and its emergency variant ("create the new key, revoke the
 * old one before updating the integration"). The new key is created, stored and proven before the exposed key is
 * revoked, so the user is never left without a working key, and a create that fails leaves everything as it was;
 * consumers fail from the revoke until they have the new key (the downtime the operator accepts).
 */
export const PHASES: Record<RotationMode, readonly Phase[]> = {
  standard: ['create', 'verify-new', 'hand-over', 'wait', 'revoke', 'verify-old', 'finish'],
  emergency: ['create', 'verify-new', 'revoke', 'verify-old', 'hand-over', 'finish'],
};

export const PHASE_LABELS: Record<Phase, string> = {
  create: 'Create the new key and store it in the keychain',
  'verify-new': 'Verify the new key authenticates',
  'hand-over': 'Hand the new key to consumers',
  wait: 'Wait for consumers to use the new key',
  revoke: 'Revoke the old key',
  'verify-old': 'Verify the old key is rejected',
  finish: "Finish: drop the old key's keychain entry",
};

export interface RotationOptions {
  onNewKey: string | null;
  check: string | null;
  noWait: boolean;
  keepOld: boolean;
  /**
   * --keep-old's grace period, ms: how long both keys stay live before the operator finishes with --resume (the
   * 003's scheduled rotation: 7 days). keyrot status shows the time left. Absent in journals written before it existed.
   */
  graceMs?: number;
  waitTimeoutMs: number;
  pollIntervalMs: number;
  hookTimeoutMs: number;
  /** Whether the usage signal can be trusted for this user (false when the admin key belongs to the user). */
  usageSignalUsable: boolean;
  /**
   * 'none' (--store none, headless runners): the new key lives only in this process's memory and reaches
   * consumers only through the hook. Until the hand-over succeeded, a failure or a lost process means the
   * new key is deleted (nobody else holds it). Absent in journals written before the option existed: 'os'.
   */
  store?: 'os' | 'none';
  /**
   * Per-key usage: how long the provider may take to show a use (overrides the provider's own figure, e.g. a
   * platform configured differently). Absent: the provider's.
   */
  usageRefreshMs?: number;
  /** --keep-old with an explicit period: the old key's expiry is set this far out (ms) where the provider can. */
  expireOldMs?: number | null;
}

export interface StepRecord {
  phase: Phase;
  outcome: 'ok' | 'skipped' | 'failed';
  durationMs: number;
  detail?: string;
}

/** The journal entry of one rotation. Never holds a plaintext. */
export interface RotationRecord {
  version: 1;
  id: string;
  provider: string;
  userId: string;
  userEmail: string;
  mode: RotationMode;
  oldKey: {
    id: string;
    name: string;
    lastChars: string | null;
    /** The old key's own scopes, copied to the new key (absent in older journals). */
    scopes?: string[] | null;
    /** Set by --keep-old with a grace period: when the old key lapses on its own. */
    expiresAt?: string | null;
    /** The old key's own expiry before --keep-old moved it (null: it never expired); --abort puts it back. */
    expiryBefore?: string | null;
  };
  newKey: { name: string; expiresAt: string | null; id: string | null; lastChars: string | null };
  /** Ids of the user's keys before the rotation: reconciliation never deletes these. */
  preexistingKeyIds: string[];
  options: RotationOptions;
  /** The batch (rotate --all) this rotation belongs to; absent for a rotation of its own. */
  batchId?: string;
  /** A create's answer was lost in this rotation: a key may exist that no listing showed yet. */
  createOutcomeUnknown?: boolean;
  /**
   * Creates this rotation sent (counted before each is sent), and keys of its name it deleted as orphans since: the
   * difference bounds how many unheld keys of the name can be its own. Absent in journals of an older keyrot.
   */
  createsSent?: number;
  orphansDeleted?: number;
  /**
   * Unheld keys of the new key's name found beside this rotation's lost one, more than its creates can have made:
   * one is another's (a second runner, a person), and nothing tells which. This rotation never deletes them.
   */
  othersKeyIds?: string[];
  phase: Phase;
  /** 'started' once the phase's side effect may have begun. */
  phaseStatus: 'pending' | 'started';
  status: 'running' | 'paused' | 'failed' | 'done' | 'aborted';
  /** Usage signal right after the hand-over (provider clock). */
  usageBaseline: string | null;
  handedOverAt: string | null;
  /** --keep-old: when the grace period ends, set when the rotation pauses with both keys live. */
  graceUntil?: string | null;
  oldKeyStillAuthenticates: boolean;
  /** Per-key usage: the old key's latest use seen after the hand-over (a consumer still holding it). */
  oldKeyUsedAt?: string | null;
  /** keyManagement 'operator': the step a person must take in the dashboard before the rotation can go on. */
  awaiting?: 'mint' | 'revoke' | null;
  lastError: { code: string; message: string } | null;
  steps: StepRecord[];
  startedAt: string;
  updatedAt: string;
}

export interface StepProgress {
  /**
   * The step's live detail. A function is re-read whenever the step is redrawn (every second in a terminal, a
   * heartbeat line every 30 s without one), so clocks in it move on their own rather than at each poll.
   */
  update(detail: string | (() => string)): void;
  finish(outcome: 'ok' | 'skipped' | 'failed', detail?: string): number;
}

export interface RotationPorts {
  provider: Provider;
  /**
   * A provider for clean-up that must still happen after a cancel (Ctrl-C, a CI job's SIGTERM): its requests are
   * not tied to the cancelled run, only to a short deadline of their own.
   */
  cleanupProvider(): Promise<Provider>;
  store: SecretStore;
  /** Persists the record (atomically). Called before every side effect. */
  save(record: RotationRecord): Promise<void>;
  /** Runs the hand-over command with the secret on stdin. Throws HookFailedError. */
  runHook(command: string, secret: string, env: Record<string, string>, timeoutMs: number): Promise<void>;
  /** Runs the consumer check; true when it exits 0. */
  runCheck(command: string, env: Record<string, string>, timeoutMs: number): Promise<boolean>;
  /**
   * A hand-over of the caller's own making, instead of the hook or the operator's confirmation: e.g. a rotation
   * of keyrot's own admin key installs the new key as the admin key. Returns the step's detail.
   */
  deliver?: (secret: string, record: RotationRecord) => Promise<string>;
  /**
   * Before the hand-over: where the key being rotated is also the key keyrot runs with (a key minted in a dashboard),
   * the caller makes the new key the one it runs with. Returns what it did, for the step's detail, or null.
   */
  adoptNewKey?: (secret: string, record: RotationRecord) => Promise<string | null>;
  /**
   * --abort, once it is known to be possible and before the new key is deleted: the caller puts back where the key
   * it runs with comes from (the admin key entry of --self, or of a dashboard-minted key).
   */
  beforeAbort?: (record: RotationRecord) => Promise<void>;
  /** In a terminal without a hook: tell the operator to update consumers, resolve when they confirm. */
  confirmHandover: ((message: string) => Promise<boolean>) | null;
  rescue(key: import('../providers/types.js').CreatedKey, userId: string): Promise<string>;
  /**
   * keyManagement 'operator': the key a person minted, from a hidden prompt (after `instructions` are shown) or
   * stdin; null when there is no one to ask (no terminal, no --new-key-stdin): the rotation then pauses.
   */
  receiveKey?: (instructions: string, name: string) => Promise<string | null>;
  /** How the user runs this rotation's command again, e.g. "keyrot --provider-file p.json rotate"; default "keyrot rotate". */
  invocation?: string;
  /** Records a new key's creation (its time, for audits), once it is stored. Optional; never throws. */
  keyCreated?(key: ApiKey, userId: string): Promise<void>;
  startStep(label: string): Promise<StepProgress>;
  event(type: string, data?: Record<string, unknown>): void;
  note(message: string): void;
  warn(message: string): void;
  /** Registers a secret for masking in all output. */
  protect(secret: string): void;
  now(): Date;
  sleep(ms: number): Promise<void>;
  signal: AbortSignal;
  /** Attempts and pause for new-key propagation checks. */
  verifyAttempts?: number;
  verifyDelayMs?: number;
}

export interface NewRotationInput {
  id: string;
  provider: string;
  user: { id: string; email: string };
  mode: RotationMode;
  oldKey: ApiKey;
  newName: string;
  expiresAt: Date | null;
  preexistingKeyIds: string[];
  options: RotationOptions;
  now: Date;
  batchId?: string;
}

export function newRotationRecord(input: NewRotationInput): RotationRecord {
  const at = input.now.toISOString();
  return {
    version: 1,
    id: input.id,
    provider: input.provider,
    userId: input.user.id,
    userEmail: input.user.email,
    mode: input.mode,
    oldKey: { id: input.oldKey.id, name: input.oldKey.name, lastChars: input.oldKey.lastChars, ...(input.oldKey.scopes ? { scopes: input.oldKey.scopes } : {}) },
    newKey: { name: input.newName, expiresAt: input.expiresAt?.toISOString() ?? null, id: null, lastChars: null },
    preexistingKeyIds: input.preexistingKeyIds,
    options: input.options,
    ...(input.batchId ? { batchId: input.batchId } : {}),
    phase: PHASES[input.mode][0] ?? 'create',
    phaseStatus: 'pending',
    status: 'running',
    usageBaseline: null,
    handedOverAt: null,
    oldKeyStillAuthenticates: false,
    lastError: null,
    steps: [],
    startedAt: at,
    updatedAt: at,
  };
}

/**
 * Whether the new key is stored and has been proven to authenticate: from then on it is the key consumers should
 * move to (keyrot get and exec give it), whatever the rest of the rotation still has to do.
 */
export function newKeyProven(record: RotationRecord): boolean {
  const phases = PHASES[record.mode];
  return record.newKey.id !== null && record.status !== 'aborted' && phases.indexOf(record.phase) > phases.indexOf('verify-new');
}

/** Whether the old key is still untouched, so the rotation can be rolled back. */
export function canAbort(record: RotationRecord): boolean {
  if (record.status === 'done' || record.status === 'aborted') return false;
  const phases = PHASES[record.mode];
  const revokeAt = phases.indexOf('revoke');
  const at = phases.indexOf(record.phase);
  return at < revokeAt || (at === revokeAt && record.phaseStatus === 'pending');
}

/**
 * Runs (or resumes) the rotation until it is done, paused (--keep-old), or fails. On failure the record
 * keeps the phase reached, so the same call resumes it; the thrown error says what is live and what next.
 */
export async function runRotation(record: RotationRecord, ports: RotationPorts): Promise<RotationRecord> {
  const phases = PHASES[record.mode];
  record.status = 'running';
  record.lastError = null;
  await save(record, ports);
  await discardUnheldNewKey(record, ports, false);
  while (record.status === 'running') {
    const phase = record.phase;
    const step = await ports.startStep(labelFor(record, phase));
    let detail: string | undefined;
    let outcome: StepRecord['outcome'] = 'ok';
    try {
      // Inside the try: a cancel between phases is journaled and explained like any other stop.
      throwIfCancelled(ports.signal);
      const result = await PHASE_RUNNERS[phase](record, ports, step);
      detail = result.detail;
      outcome = result.skipped ? 'skipped' : 'ok';
    } catch (err) {
      if (err instanceof OperatorStepError) throw await pauseForOperator(record, ports, step, err);
      // Words on the step line ("wait timeout"), not the code scripts read in JSON ("wait_timeout").
      const durationMs = step.finish('failed', isKeyrotError(err) ? err.code.replace(/_/g, ' ') : undefined);
      record.steps.push({ phase, outcome: 'failed', durationMs });
      record.status = 'failed';
      record.lastError = { code: isKeyrotError(err) ? err.code : 'internal', message: err instanceof Error ? err.message : String(err) };
      // A create whose answer was lost may have made a key the listing does not show yet: no later refusal of a
      // create in this rotation may count as "nothing was made".
      if (phase === 'create' && !record.newKey.id && (err instanceof CreateOutcomeUnknownError || (isKeyrotError(err) && err.data?.['afterLostAnswer'] === true))) record.createOutcomeUnknown = true;
      await save(record, ports).catch(() => undefined);
      try {
        await discardUnheldNewKey(record, ports, true);
        await discardCancelledCreate(record, ports, err);
      } catch (discardErr) {
        // The original stop is what the user must see; the discard's own failure is told beside it.
        ports.warn(`--store none: the new key ${record.newKey.name} (${record.newKey.id ?? '?'}) could not be cleaned up: ${(discardErr as Error).message}`);
      }
      ports.event('rotation.failed', { rotationId: record.id, phase, error: record.lastError });
      throw explainFailure(record, err, ports);
    }
    const durationMs = step.finish(outcome, detail);
    record.steps.push({ phase, outcome, durationMs, ...(detail ? { detail } : {}) });
    const next = phases[phases.indexOf(phase) + 1];
    if (next === undefined) {
      record.status = 'done';
    } else {
      record.phase = next;
      record.phaseStatus = 'pending';
      // --keep-old: both keys stay live after the wait; a later --resume revokes the old one.
      if (phase === 'wait' && record.options.keepOld) {
        record.status = 'paused';
        if (record.options.graceMs !== undefined) record.graceUntil = new Date(ports.now().getTime() + record.options.graceMs).toISOString();
      }
    }
    try {
      await save(record, ports);
    } catch (err) {
      // The journal still says the phase just done is under way: a resume redoes it (phases are idempotent).
      record.status = 'failed';
      if (isKeyrotError(err)) record.lastError = { code: err.code, message: err.message };
      ports.event('rotation.failed', { rotationId: record.id, phase, error: record.lastError });
      throw explainFailure(record, err, ports);
    }
  }
  if (record.status === 'done') ports.event('rotation.done', summaryData(record));
  return record;
}

/**
 * Whether --keep-old set the old key to lapse and that time has passed: the old key no longer works, so the new key
 * is the only one left, and a roll-back would delete it.
 */
export function oldKeyLapsed(record: RotationRecord, now: Date): boolean {
  return !!record.oldKey.expiresAt && Date.parse(record.oldKey.expiresAt) <= now.getTime();
}

/** Throws when the rotation can no longer be rolled back: the old key revoked, or lapsed at the end of its grace. */
export function assertAbortable(record: RotationRecord, ports: Pick<RotationPorts, 'invocation' | 'now'>): void {
  if (!canAbort(record)) throw cannotRollBack(record, ports, `The old key ${record.oldKey.name} is already revoked (or being revoked): this rotation cannot be rolled back.`);
  if (oldKeyLapsed(record, ports.now())) {
    throw cannotRollBack(record, ports, `The old key ${record.oldKey.name} lapsed at ${record.oldKey.expiresAt} (the end of the --keep-old grace period): rolling back would delete ${record.newKey.name}, the only key that still works.`);
  }
}

/** A refused --abort: why, and the --resume that finishes the rotation instead. */
function cannotRollBack(record: RotationRecord, ports: Pick<RotationPorts, 'invocation'>, message: string): UsageError {
  return new UsageError(message, { hint: `Finish it with: ${rotateCommandOf(record, ports)} --resume` });
}

/**
 * assertAbortable, and the old key as the provider lists it now: one that has lapsed (its own expiry, or the one
 * --keep-old set, whatever the journal knows) or is gone cannot be rolled back to, and the new key would be the only
 * working key left.
 */
async function assertAbortableNow(record: RotationRecord, ports: Pick<RotationPorts, 'invocation' | 'now' | 'provider'>): Promise<void> {
  assertAbortable(record, ports);
  // Nothing to delete (no new key was made, or could have been): nothing to weigh against the old key.
  const mayHaveNewKey = record.newKey.id !== null || (record.phase === 'create' && record.phaseStatus === 'started');
  if (byOperator(ports.provider) || !mayHaveNewKey) return;
  const old = (await ports.provider.listKeys(record.userId)).find((k) => k.id === record.oldKey.id);
  const why = !old ? 'is no longer listed' : old.expiresAt && old.expiresAt.getTime() <= ports.now().getTime() ? `expired at ${old.expiresAt.toISOString()}` : null;
  if (why) throw cannotRollBack(record, ports, `The old key ${record.oldKey.name} ${why}: rolling back would delete ${record.newKey.name}, the only key that may still work.`);
}

/** Rolls back an unfinished rotation: deletes the new key and its keychain entry; the old key stays. */
export async function abortRotation(record: RotationRecord, ports: RotationPorts): Promise<RotationRecord> {
  await assertAbortableNow(record, ports);
  await ports.beforeAbort?.(record);
  const restored = await restoreOldKeyExpiry(record, ports);
  if (restored) ports.note(`--keep-old had moved the old key's expiry: ${restored}.`);
  const step = await ports.startStep(`Delete the new key ${record.newKey.name}`);
  const provider = ports.provider;
  const ids: string[] = [];
  // Keys of the name this rotation found to be possibly another's, still listed: never deleted by it, and said so.
  let stillListed: ApiKey[] = [];
  if (record.newKey.id) ids.push(record.newKey.id);
  else if (record.phase === 'create' && record.phaseStatus === 'started') {
    // The create may have happened without its answer: delete any key it made, held or not. More keys of the name
    // than this rotation's creates can have made include another's (a second runner; another state folder sharing
    // this keychain holds its keys here too): then none is deleted, and the rotation stops (exit 9) naming them, so
    // a person deletes the one nobody holds; they are never deleted by it, and a later --abort ends it.
    const query = { userId: record.userId, name: record.newKey.name, preexistingKeyIds: keptKeyIds(record), ownUnheld: ownUnheld(record) };
    const listed = await provider.listKeys(record.userId);
    const made = listed.filter((k) => k.name === record.newKey.name && !query.preexistingKeyIds.has(k.id));
    stillListed = listed.filter((k) => record.othersKeyIds?.includes(k.id));
    if (stillListed.length) ports.warn(`Still listed, and never deleted by keyrot: ${stillListed.map((k) => `${k.name} (${k.id})`).join(', ')}; delete the one nobody holds.`);
    if (query.ownUnheld === 0 && made.length > 0) ports.warn(`Left ${made.map((k) => `${k.name} (${k.id})`).join(', ')} alone: this rotation's creates made no key that is still listed.`);
    else {
      await keepOthersKeys(record, ports, () => refuseOthersKeys(query, made, 'since this rotation began'));
      ids.push(...made.map((k) => k.id));
    }
  }
  const kept: string[] = [];
  for (const id of ids) {
    const account = keychainAccount(provider.id, record.userId, id);
    if (byOperator(provider) && !(await keepUntilRevoked(record, ports, id, account))) {
      kept.push(id);
      continue;
    }
    if (!byOperator(provider)) await provider.deleteKey(record.userId, id);
    await ports.store.delete(account);
  }
  const none = stillListed.length ? `deleted none: ${stillListed.map((k) => k.id).join(', ')} still listed` : 'no new key existed';
  step.finish('ok', ids.length ? (kept.length ? `kept ${kept.join(', ')} in the keychain until it is revoked` : `deleted ${ids.join(', ')}`) : none);
  record.status = 'aborted';
  await save(record, ports);
  ports.event('rotation.aborted', { userId: record.userId, deletedKeyIds: ids });
  return record;
}

type PhaseRunner = (record: RotationRecord, ports: RotationPorts, step: StepProgress) => Promise<{ detail?: string; skipped?: boolean }>;

const PHASE_RUNNERS: Record<Phase, PhaseRunner> = {
  async create(record, ports) {
    if (record.newKey.id) return { detail: `${record.newKey.name} already created` };
    if (byOperator(ports.provider)) return receiveMintedKey(record, ports);
    const req = { userId: record.userId, name: record.newKey.name, preexistingKeyIds: keptKeyIds(record), ...(record.oldKey.scopes ? { scopes: record.oldKey.scopes } : {}) };
    if (record.phaseStatus === 'started') {
      // Resuming a create that may have happened: adopt a key we hold, delete one we do not.
      const adopted = await adoptHeldKey(record, ports);
      if (adopted) return { detail: `${record.newKey.name} recovered from the keychain` };
      await keepOthersKeys(record, ports, () => deleteOrphans({ ...req, ownUnheld: ownUnheld(record) }, { ...ports, onOrphansDeleted: countOrphansDeleted(record, ports) }));
    }
    // A create never started: the count starts here (a journal of an older keyrot, mid-create, has none).
    if (record.phaseStatus === 'pending') record.createsSent ??= 0;
    await markStarted(record, ports);
    const stored = await keepOthersKeys(record, ports, () =>
      createAndStoreKey(
        { ...req, expiresAt: record.newKey.expiresAt ? new Date(record.newKey.expiresAt) : null, ownUnheldBefore: ownUnheld(record) },
        {
          provider: ports.provider,
          store: ports.store,
          rescue: ports.rescue,
          note: ports.note,
          onCreateSent: async () => {
            record.createsSent = (record.createsSent ?? 0) + 1;
            await save(record, ports);
          },
          onOrphansDeleted: countOrphansDeleted(record, ports),
          onStored: async (key) => {
            remember(ports, key.id, key.secret);
            record.newKey.id = key.id;
            record.newKey.lastChars = key.secret.slice(-5);
            await save(record, ports);
            // Metadata for audits, off the rotation's path: it never fails the rotation, nor waits for the disk.
            void ports.keyCreated?.({ id: key.id, name: key.name, lastChars: record.newKey.lastChars, expiresAt: key.expiresAt }, record.userId);
            ports.event('key.created', { keyId: key.id, name: key.name, maskedKey: maskSecret(key.secret) });
            if (record.options.store !== 'none') {
              ports.event('keychain.written', { account: entryName(ports.store, keychainAccount(ports.provider.id, record.userId, key.id)), store: ports.store.description });
            }
          },
        },
      ),
    );
    return { detail: `id ${stored.key.id}, ${maskFromLastChars(record.newKey.lastChars)}` };
  },

  async 'verify-new'(record, ports, step) {
    await stepBackFromTwin(record, ports);
    const secret = await newSecret(record, ports);
    const attempts = ports.verifyAttempts ?? 5;
    let last = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const check = await ports.provider.checkKey(secret);
      if (check.ok) {
        const scopes = await compareScopes(record, ports, check);
        ports.event('key.verified', { keyId: record.newKey.id, ...(check.limited ? { probe: 403 } : {}) });
        const details = [attempt > 1 ? `after ${attempt} attempts` : '', scopes].filter(Boolean);
        return { detail: details.length ? details.join('; ') : undefined };
      }
      last = check.message;
      if (attempt < attempts) {
        step.update(`not yet accepted (${check.reason}); retrying`);
        await ports.sleep((ports.verifyDelayMs ?? 1_000) * attempt);
      }
    }
    throw new VerificationFailedError(`The new key ${record.newKey.name} does not authenticate: ${last}`, {
      hint: 'The old key is untouched. Retry with --resume, or roll back with --abort.',
    });
  },

  async 'hand-over'(record, ports) {
    const secret = await newSecret(record, ports);
    await markStarted(record, ports);
    let detail: string;
    try {
      detail = await handOver(record, ports, secret);
    } catch (err) {
      // "Nothing was changed" (a prompt's usual words) is false here: say what is live.
      if (err instanceof CancelledError) {
        const old = canAbort(record) ? `the old key ${record.oldKey.name} is untouched` : `the old key ${record.oldKey.name} is revoked`;
        throw new CancelledError(`Cancelled at the hand-over: the new key ${record.newKey.name} is live; ${old}.`);
      }
      throw err;
    }
    // The usage baseline is taken after the hand-over, on the provider's clock: any later activity counts.
    record.handedOverAt = ports.now().toISOString();
    if (record.mode === 'standard' && record.options.usageSignalUsable && !record.options.noWait) {
      const seen = await ports.provider.observeUsage(record.userId, record.newKey.id ?? '');
      record.usageBaseline = seen.lastUsedAt?.toISOString() ?? null;
    }
    return { detail };
  },

  async wait(record, ports, step) {
    if (record.options.noWait) return { skipped: true, detail: await graceForOldKey(record, ports, '--no-wait') };
    const { provider } = ports;
    if (provider.capabilities.usageSignal === 'per-key' && record.options.usageSignalUsable) return waitPerKey(record, ports, step);
    const perUser = provider.capabilities.usageSignal === 'per-user';
    const useSignal = record.options.usageSignalUsable && provider.capabilities.usageSignal !== 'none';
    if (useSignal && perUser) {
      ports.note(
        `${provider.displayName} reports activity per user, not per key: keyrot waits until some key of ${record.userEmail} is used after the hand-over. That cannot tell the new key from the old one${record.options.check ? '; --check confirms the consumers' : '; add --check to confirm the consumers themselves'}.`,
      );
    }
    const started = ports.now().getTime();
    const baseline = record.usageBaseline ? new Date(record.usageBaseline).getTime() : null;
    let usageSeenAt: Date | null = useSignal ? null : new Date(0);
    let lastSeen: Date | null = null;
    const timeout = record.options.waitTimeoutMs;
    step.update(() => {
      const elapsed = Math.max(0, ports.now().getTime() - started);
      const activity = !useSignal
        ? ''
        : `; last activity ${lastSeen ? lastSeen.toISOString() : 'none reported'}${usageSeenAt ? '' : baseline !== null ? ` (waiting for one after ${new Date(baseline).toISOString()})` : ''}`;
      return `${formatDuration(elapsed)} of ${formatDuration(timeout)}, ${formatDuration(Math.max(0, timeout - elapsed))} left${activity}${usageSeenAt ? '; waiting for --check' : ''}`;
    });
    for (;;) {
      throwIfCancelled(ports.signal);
      if (usageSeenAt === null) {
        const seen = await provider.observeUsage(record.userId, record.newKey.id ?? '');
        lastSeen = seen.lastUsedAt ?? lastSeen;
        if (seen.lastUsedAt && (baseline === null || seen.lastUsedAt.getTime() > baseline)) {
          usageSeenAt = seen.lastUsedAt;
          ports.event('usage.seen', { at: seen.lastUsedAt.toISOString(), scope: provider.capabilities.usageSignal });
        }
      }
      let checkPassed = record.options.check === null;
      if (usageSeenAt !== null && record.options.check !== null) {
        checkPassed = await ports.runCheck(record.options.check, hookEnv(record), record.options.hookTimeoutMs);
      }
      if (usageSeenAt !== null && checkPassed) {
        const what = useSignal ? `activity at ${usageSeenAt.toISOString()}` : 'no usage signal';
        return { detail: await graceForOldKey(record, ports, record.options.check ? `${what}; check passed` : what) };
      }
      const elapsed = ports.now().getTime() - started;
      if (elapsed >= record.options.waitTimeoutMs) {
        throw new WaitTimeoutError(
          `No ${usageSeenAt === null ? 'activity on the new key' : 'passing --check'} within ${formatDuration(record.options.waitTimeoutMs)}.`,
          { hint: 'Both keys stay live. Resume with --resume (waits again), or roll back with --abort.' },
        );
      }
      await ports.sleep(Math.min(record.options.pollIntervalMs, record.options.waitTimeoutMs - elapsed));
    }
  },

  async revoke(record, ports, step) {
    // The last moment the old key can still be kept: never revoke it unless the new key still works (it may have
    // been deleted, or have expired, during a --keep-old grace period or a long wait).
    const proof = await newKeyStillWorks(record, ports, step);
    step.update(proof);
    await markStarted(record, ports);
    if (byOperator(ports.provider)) return askOperatorToRevoke(record, ports);
    const outcome = await ports.provider.deleteKey(record.userId, record.oldKey.id);
    ports.event('old.revoked', { keyId: record.oldKey.id, name: record.oldKey.name, outcome });
    return { detail: `${record.oldKey.name} (${record.oldKey.id})${outcome === 'already-gone' ? ' was already gone' : ''}` };
  },

  async 'verify-old'(record, ports, step) {
    const result = await proveOldKeyGone(record, ports, step);
    await consumersStillWork(record, ports);
    return result;
  },

  async finish(record, ports) {
    await ports.store.delete(keychainAccount(ports.provider.id, record.userId, record.oldKey.id));
    if (record.options.store === 'none') return { detail: `keyrot keeps no copy of ${record.newKey.name} (--store none): the consumers have it` };
    // Said only when true: the entry is read, not assumed.
    const held = record.newKey.id ? await ports.store.get(keychainAccount(ports.provider.id, record.userId, record.newKey.id)) : null;
    if (held === null) {
      ports.warn(`The keychain no longer holds the new key ${record.newKey.name}: keyrot holds no key of ${record.userEmail}.`);
      return { detail: `the keychain holds no key of ${record.userEmail}` };
    }
    return { detail: `the keychain holds only ${record.newKey.name} for ${record.userEmail}` };
  },
};

/**
 * Another keyrot (another runner, with a state folder of its own) may be rotating this user at the same moment: its
 * new key then carries the same name as this run's. Whoever sees such a twin steps back before its key reaches a
 * consumer: it deletes its own new key and stops (exit 9), so two runs never leave two live new keys. Both may step
 * back; a rerun then finds the other's key (the next-generation check) or none, and goes on from there.
 */
async function stepBackFromTwin(record: RotationRecord, ports: RotationPorts): Promise<void> {
  const id = record.newKey.id;
  if (!id || byOperator(ports.provider)) return;
  const twins = (await ports.provider.listKeys(record.userId)).filter((k) => k.name === record.newKey.name && k.id !== id && !record.preexistingKeyIds.includes(k.id));
  if (!twins.length) return;
  // Keys of this run's own creates whose answers were lost may be listed only now (a listing that lagged), but a lost
  // create may also have made nothing, and then a twin is another run's new key: nothing tells them apart. So this
  // run always steps back (deleting only the key it holds, which no consumer has yet), and names the twins it may
  // have made, for a person to delete the one nobody holds.
  const ownLost = Math.max(0, (ownUnheld(record) ?? 0) - 1);
  const unheld: ApiKey[] = [];
  for (const key of twins) if ((await ports.store.get(keychainAccount(ports.provider.id, record.userId, key.id))) === null) unheld.push(key);
  if (ownLost > 0) addOthersKeyIds(record, unheld.map((k) => k.id));
  await ports.provider.deleteKey(record.userId, id);
  await ports.store.delete(keychainAccount(ports.provider.id, record.userId, id));
  record.newKey.id = null;
  record.newKey.lastChars = null;
  await save(record, ports);
  const listed = twins.map((k) => `${k.name} (${k.id})`).join(', ');
  const mayBeOwn = ownLost > 0 && unheld.length > 0;
  const stepped = `This run stepped back: its new key ${id} is deleted, and ${record.oldKey.name} is untouched.`;
  throw new RotationConflictError(
    mayBeOwn
      ? `${ports.provider.displayName} lists ${listed} beside this run's new key, and keyrot does not hold ${unheld.length === 1 ? 'it' : 'them'}: another keyrot's new key (a second runner rotating ${record.userEmail}), or a key of this run's own whose create answer was lost and that the listing shows only now. Nothing tells which. ${stepped}`
      : `Another keyrot rotated ${record.userEmail} at the same moment: ${ports.provider.displayName} has ${listed} beside this run's new key. ${stepped}`,
    {
      hint: mayBeOwn
        ? `If no other run is rotating ${record.userEmail}, nobody holds ${unheld.map((k) => k.id).join(', ')}: delete ${unheld.length === 1 ? 'it' : 'them'} (keyrot revoke --user ${shellArg(record.userEmail)} --key <id>), then rotate again. Otherwise let the other run finish; its key is the one consumers get.`
        : 'Let the other run finish (another runner, or another state folder: keyrot status there shows it); its key is the one consumers get.',
      data: { concurrent: true },
    },
  );
}

/** Gives the new key to the consumers (the hook, or the operator in a terminal); returns the step's detail. */
async function handOver(record: RotationRecord, ports: RotationPorts, secret: string): Promise<string> {
  const adopted = (await ports.adoptNewKey?.(secret, record)) ?? null;
  const detail = await handOverToConsumers(record, ports, secret);
  return adopted ? `${adopted}; ${detail}` : detail;
}

async function handOverToConsumers(record: RotationRecord, ports: RotationPorts, secret: string): Promise<string> {
  if (ports.deliver) return ports.deliver(secret, record);
  if (record.options.onNewKey) {
    await ports.runHook(record.options.onNewKey, secret, hookEnv(record), record.options.hookTimeoutMs);
    ports.event('hook.done', { keyId: record.newKey.id });
    return 'hook succeeded';
  }
  if (ports.confirmHandover) {
    const account = entryName(ports.store, keychainAccount(ports.provider.id, record.userId, record.newKey.id ?? ''));
    const ok = await ports.confirmHandover(
      `Update every consumer of ${record.oldKey.name} to the new key ${record.newKey.name} (keychain service "keyrot", account "${account}"). Done?`,
    );
    if (!ok) throw new CancelledError('Hand-over not confirmed.');
    return 'confirmed by the operator';
  }
  return 'no hook: consumers read the new key from the keychain';
}

/**
 * --store none: a new key not yet handed over is held by nobody once this process ends. On a failure
 * (`ending`) or on resume (when this process never held it) it is deleted, and the rotation goes back to
 * creating a key. If the delete fails, the rescue file takes the plaintext (when this process has it).
 */
async function discardUnheldNewKey(record: RotationRecord, ports: RotationPorts, ending: boolean): Promise<void> {
  const id = record.newKey.id;
  // Once the revoke has begun the new key is the user's only key: it is never deleted, whoever holds it.
  if (record.options.store !== 'none' || !id || !canAbort(record)) return;
  const phases = PHASES[record.mode];
  const handOver = phases.indexOf('hand-over');
  const at = phases.indexOf(record.phase);
  if (at > handOver || (at === handOver && record.handedOverAt)) return;
  const secret = await ports.store.get(keychainAccount(ports.provider.id, record.userId, id));
  if (secret !== null && !ending) return;
  const discarded = await discardNewKey(
    // After a cancel (Ctrl-C, a cancelled CI job) the run's own requests are aborted: the clean-up has its own.
    async () => (ending ? await ports.cleanupProvider() : ports.provider).deleteKey(record.userId, id),
    record.userId,
    { id, name: record.newKey.name, lastChars: record.newKey.lastChars, expiresAt: null },
    secret,
    ports.rescue,
  );
  if (discarded.kind === 'rescued') {
    ports.warn(`--store none: the new key ${record.newKey.name} (${id}) could not be deleted; its plaintext is in ${discarded.path} (mode 0600).`);
    return;
  }
  ports.note(`--store none: deleted the new key ${record.newKey.name} (${id}): it was never handed over, and no keychain holds it.`);
  record.newKey.id = null;
  record.newKey.lastChars = null;
  record.handedOverAt = null;
  record.phase = 'create';
  record.phaseStatus = 'pending';
  await save(record, ports);
}

/**
 * Proof, right before the revoke, that the new key is still there and still authenticates. Throws
 * VerificationFailedError (the old key is then kept) when it was deleted, has expired or is rejected. Returns the
 * detail to show. Without its plaintext (--store none, resumed by another process) it cannot be tested: then it
 * must at least be listed and unexpired.
 */
async function newKeyStillWorks(record: RotationRecord, ports: RotationPorts, step: StepProgress): Promise<string> {
  const id = record.newKey.id;
  const name = `${record.newKey.name} (${id ?? 'no id'})`;
  const stop = (why: string) =>
    new VerificationFailedError(`The new key ${name} ${why}: the old key ${record.oldKey.name} was NOT revoked, and stays live.`, {
      hint: 'Roll back with --abort (it cleans up the new key), then rotate again.',
      data: { newKeyUsable: false },
    });
  if (!id) throw stop('was never recorded');
  // Keys a person manages in the dashboard cannot be listed: the key itself is asked instead, below.
  if (!byOperator(ports.provider)) {
    const listed = (await ports.provider.listKeys(record.userId)).find((k) => k.id === id);
    if (!listed) throw stop(`is no longer listed at ${ports.provider.displayName} (deleted)`);
    if (listed.expiresAt && listed.expiresAt.getTime() <= ports.now().getTime()) throw stop(`expired at ${listed.expiresAt.toISOString()}`);
  }
  // The store first: it is where consumers read the key (and what outlives this process).
  const account = keychainAccount(ports.provider.id, record.userId, id);
  let secret = await ports.store.get(account);
  const inMemory = heldThisRun.get(ports)?.get(id);
  if (secret === null && inMemory) {
    // The entry vanished during the rotation (a keychain reset, a clean-up script): written back from this
    // run's copy before the old key goes, or the rotation stops with the old key kept.
    try {
      await ports.store.set(account, inMemory);
    } catch (err) {
      throw stop(`is no longer in the keychain, and writing it back failed (${(err as Error).message})`);
    }
    ports.warn(`The keychain lost the entry of the new key ${name} during the rotation: keyrot wrote it back from memory before revoking the old key.`);
    secret = inMemory;
  }
  if (secret === null) {
    if (record.options.store !== 'none') throw stop('is no longer in the keychain');
    // --store none, resumed: keyrot holds no copy to test. Only the consumers can prove the key still works.
    if (record.options.check === null) {
      throw new VerificationFailedError(
        `keyrot holds no copy of the new key ${name} (--store none), so it cannot prove the key still authenticates: the old key ${record.oldKey.name} was NOT revoked, and stays live.`,
        { hint: 'Pass --check CMD with --resume (a command that proves your consumers work with the new key), or roll back with --abort.' },
      );
    }
    step.update('running --check: keyrot holds no copy of the new key to test it');
    if (!(await ports.runCheck(record.options.check, hookEnv(record), record.options.hookTimeoutMs))) throw stop('failed --check');
    return 'new key listed and unexpired; --check passed (keyrot holds no copy to test it: --store none)';
  }
  ports.protect(secret);
  step.update('checking the new key still authenticates');
  const check = await ports.provider.checkKey(secret);
  if (!check.ok) throw stop(`no longer authenticates (${check.reason}: ${check.message})`);
  return 'new key still authenticates';
}

/**
 * --abort of a key a person minted: only they can revoke it, in the dashboard. Until it is rejected, its keychain
 * entry stays (no live key may be left that nobody holds) and they are told both. Returns whether it may go now.
 */
async function keepUntilRevoked(record: RotationRecord, ports: RotationPorts, id: string, account: string): Promise<boolean> {
  const { provider } = ports;
  const secret = await ports.store.get(account);
  const check = secret === null ? null : await provider.checkKey(secret);
  if (check === null || (!check.ok && check.reason === 'rejected')) return true;
  const how = provider.operator?.revokeInstructions({ id, name: record.newKey.name, lastChars: record.newKey.lastChars, expiresAt: null }) ?? '';
  ports.warn(
    `The new key ${record.newKey.name} still authenticates, and only a person can revoke it: ${how} keyrot keeps its plaintext in the keychain (service "keyrot", account "${account}") until then, so that no live key is left that nobody holds; delete that entry once it is revoked.`,
  );
  return false;
}

/** Whether a person, not keyrot, makes and revokes this provider's keys (in its dashboard). */
function byOperator(provider: Provider): boolean {
  return provider.capabilities.keyManagement === 'operator';
}

/** The old key as the provider contract sees it (for instructions to the operator). */
function oldKeyOf(record: RotationRecord): ApiKey {
  return { id: record.oldKey.id, name: record.oldKey.name, lastChars: record.oldKey.lastChars, expiresAt: null, scopes: record.oldKey.scopes ?? null };
}

/**
 * keyManagement 'operator': the create step is a person minting the key in the dashboard. keyrot says what to click,
 * takes the key (hidden prompt or --new-key-stdin), checks its shape and stores it in the keychain before anything
 * else can fail. With nobody to ask, the rotation pauses (exit 18) and --resume --new-key-stdin continues it.
 */
async function receiveMintedKey(record: RotationRecord, ports: RotationPorts): Promise<{ detail: string }> {
  const { provider } = ports;
  const operator = provider.operator;
  if (!operator) throw new UsageError(`${provider.displayName} has no dashboard steps: keyrot cannot rotate its keys.`);
  const instructions = operator.mintInstructions(oldKeyOf(record), record.newKey.name);
  record.awaiting = 'mint';
  const secret = (await ports.receiveKey?.(instructions, record.newKey.name)) ?? null;
  if (secret === null) {
    await save(record, ports);
    ports.event('operator.action', { action: 'mint', name: record.newKey.name, instructions });
    throw new OperatorStepError(`Paused: a person must mint the new key in ${provider.displayName}'s dashboard. ${instructions}`, {
      hint: 'If it is minted already, pass that key.',
    });
  }
  const key = operator.identify(secret.trim(), record.newKey.name);
  ports.protect(key.secret);
  if (key.id === record.oldKey.id) throw new UsageError(`That is the old key ${record.oldKey.name}, not a new one: mint ${record.newKey.name} in the dashboard and pass that.`);
  await markStarted(record, ports);
  const account = keychainAccount(provider.id, record.userId, key.id);
  try {
    await ports.store.set(account, key.secret);
  } catch (err) {
    throw new KeychainError(`The key you minted could not be stored in ${ports.store.description} (${(err as Error).message}); keyrot recorded nothing. It is live in the dashboard: keep it for a retry, or revoke it there.`, {
      hint: 'Fix the keychain (unlock it), then --resume with the same key.',
      cause: err,
    });
  }
  remember(ports, key.id, key.secret);
  record.newKey.id = key.id;
  record.newKey.lastChars = key.secret.slice(-5);
  record.awaiting = null;
  await save(record, ports);
  // Its dashboard name, which no API shows: list-keys, get and audit name the key by it.
  void ports.keyCreated?.({ id: key.id, name: record.newKey.name, lastChars: record.newKey.lastChars, expiresAt: null }, record.userId);
  ports.event('key.created', { keyId: key.id, name: record.newKey.name, maskedKey: maskSecret(key.secret), mintedBy: 'operator' });
  ports.event('keychain.written', { account, store: ports.store.description });
  return { detail: `id ${key.id}, ${maskSecret(key.secret)}, minted in the dashboard` };
}

/** keyManagement 'operator': the revoke step is a person revoking the old key in the dashboard; verify-old then polls. */
async function askOperatorToRevoke(record: RotationRecord, ports: RotationPorts): Promise<{ detail: string }> {
  const instructions = ports.provider.operator?.revokeInstructions(oldKeyOf(record)) ?? `Revoke ${record.oldKey.name} in the dashboard.`;
  record.awaiting = 'revoke';
  await save(record, ports);
  ports.note(instructions);
  ports.event('operator.action', { action: 'revoke', keyId: record.oldKey.id, name: record.oldKey.name, instructions });
  return { detail: `asked for ${record.oldKey.name} to be revoked in the dashboard` };
}

/**
 * keyManagement 'operator': polls until the old key is rejected (401), within --wait-timeout. Past it, the rotation
 * pauses (exit 18) until the person has revoked it. Should the new key be the one rejected, the wrong key was revoked:
 * said loudly (exit 7).
 */
async function awaitOperatorRevoke(record: RotationRecord, ports: RotationPorts, step: StepProgress, oldSecret: string): Promise<{ detail: string }> {
  const { provider } = ports;
  const started = ports.now().getTime();
  const timeout = record.options.waitTimeoutMs;
  step.update(() => {
    const elapsed = Math.max(0, ports.now().getTime() - started);
    return `waiting for ${record.oldKey.name} to be revoked in the dashboard (it then gets 401): ${formatDuration(elapsed)} of ${formatDuration(timeout)}`;
  });
  for (;;) {
    throwIfCancelled(ports.signal);
    const old = await provider.checkKey(oldSecret);
    const fresh = await provider.checkKey(await newSecret(record, ports));
    if (!fresh.ok && fresh.reason === 'rejected') {
      throw new VerificationFailedError(
        `The new key ${record.newKey.name} is rejected (401)${old.ok ? ` while the old key ${record.oldKey.name} still works: the new key was revoked in the dashboard instead of the old one` : ', and so is the old key'}.`,
        { hint: `Consumers given ${record.newKey.name} fail now. Mint a replacement with the same scopes, hand it over, then revoke ${record.oldKey.name}.`, data: { newKeyUsable: false } },
      );
    }
    if (!old.ok && old.reason === 'rejected') {
      record.awaiting = null;
      return { detail: 'rejected (401): revoked in the dashboard' };
    }
    if (ports.now().getTime() - started >= timeout) {
      record.awaiting = 'revoke';
      throw new OperatorStepError(`Paused: ${record.oldKey.name} still authenticates after ${formatDuration(timeout)}: it has not been revoked yet (or the revoke has not taken effect). ${provider.operator?.revokeInstructions(oldKeyOf(record)) ?? ''}`.trim());
    }
    await ports.sleep(Math.min(record.options.pollIntervalMs, timeout));
  }
}

/**
 * The new key's scopes against the old key's, where the provider can tell: listed scopes (copied at the create;
 * a provider that dropped one is caught), and the probe: 403 with the new key where the old key gets 2xx is the
 * 003's "narrower scope" symptom. Throws ScopeMismatchError (exit 19; both keys stay live). Returns a detail.
 */
async function compareScopes(record: RotationRecord, ports: RotationPorts, check: AuthCheck): Promise<string> {
  const { provider } = ports;
  const mismatch = (why: string) =>
    new ScopeMismatchError(`Scope mismatch: ${why}. Consumers given the new key would get 403 where the old key works (the new key has a narrower scope than the old one).`, {
      hint: byOperator(provider)
        ? `Both keys stay live. Revoke ${record.newKey.name} in the dashboard, roll back with --abort, and rotate again minting it with ${record.oldKey.name}'s scopes.`
        : 'Both keys stay live. Roll back with --abort, then rotate again.',
    });
  const oldScopes = record.oldKey.scopes ?? [];
  if (oldScopes.length && !byOperator(provider)) {
    const listed = (await provider.listKeys(record.userId)).find((k) => k.id === record.newKey.id);
    const missing = listed?.scopes ? oldScopes.filter((scope) => !listed.scopes?.includes(scope)) : [];
    if (missing.length) throw mismatch(`${record.newKey.name} lacks ${missing.join(', ')}, which ${record.oldKey.name} has`);
  }
  const copied = oldScopes.length ? `scopes ${oldScopes.join(' ')} as ${record.oldKey.name}` : '';
  if (!check.ok || (check.limited === undefined && check.reach === undefined)) return copied;
  const oldSecret = await ports.store.get(keychainAccount(provider.id, record.userId, record.oldKey.id));
  if (oldSecret === null) return check.limited === undefined ? copied : `valid: the probe answers 403 (${check.limited}); keyrot does not hold ${record.oldKey.name} to compare`;
  ports.protect(oldSecret);
  const old = await provider.checkKey(oldSecret);
  if (old.ok) {
    const refusedOnlyNew = refusedProbes(check).filter((probe) => !refusedProbes(old).includes(probe));
    // Where a provider names each refused probe, the entry carries that probe's own message.
    if (refusedOnlyNew.length) throw mismatch(`${refusedOnlyNew.length > 1 || check.refused ? refusedOnlyNew.join(' and ') : 'the probe'} answer${refusedOnlyNew.length > 1 ? '' : 's'} 403 to ${record.newKey.name}${check.refused ? '' : ` (${check.limited ?? ''})`} and 2xx to ${record.oldKey.name}`);
    const unreached = check.reach && old.reach ? old.reach.filter((r) => !check.reach?.includes(r)) : [];
    if (unreached.length) {
      throw mismatch(`${record.newKey.name} does not reach ${unreached.join(', ')}, which ${record.oldKey.name} reaches: a key of another organization, or one with a narrower allow-list`);
    }
  }
  return check.limited === undefined ? copied || `reaches what ${record.oldKey.name} reaches` : `valid: the probe answers 403 (${check.limited}), as it does for ${record.oldKey.name}`;
}

/** The probes a key got 403 from (one unnamed probe where the provider has only one). */
function refusedProbes(check: AuthCheck): string[] {
  if (!check.ok || check.limited === undefined) return [];
  return check.refused ?? ['the probe'];
}

/**
 * Per-key usage: the evidence to revoke on. The new key's own last use must fall after the hand-over, and the old
 * key's last use must not have moved for twice the provider's refresh interval (a use shows within one interval),
 * so a consumer still on the old key is caught now rather than by a 401 after the revoke. --check adds the
 * consumers' own proof. A use of the old key after the hand-over is journaled, so a resumed wait keeps it.
 */
async function waitPerKey(record: RotationRecord, ports: RotationPorts, step: StepProgress): Promise<{ detail: string }> {
  const { provider } = ports;
  const refreshMs = record.options.usageRefreshMs ?? provider.capabilities.usageRefreshMs ?? 0;
  // Twice the refresh interval, and never less than two polls: a platform that records every use at once (refresh
  // 0) still needs polls that see the old key's last use stand still.
  const quietMs = Math.max(2 * refreshMs, 2 * record.options.pollIntervalMs);
  const started = ports.now().getTime();
  const timeout = record.options.waitTimeoutMs;
  // Only keyrot's own clock is trusted: the provider's stamps are compared with each other, never with keyrot's time,
  // so a provider clock running ahead or behind changes nothing.
  // The new key: keyrot's own proof of it (before the hand-over) may reach its last use up to one refresh later.
  // The value seen by the first poll sent once that refresh has passed is the baseline; a later, greater value is
  // a consumer's use.
  const settleAt = started + refreshMs;
  let newBaseline: number | null | undefined;
  let newUse: Date | null = null;
  // The old key: quiet once its last use has not moved for twice the refresh interval, counted from the last poll
  // that saw it move (or from the start of this watch).
  let oldUse = record.oldKeyUsedAt ? Date.parse(record.oldKeyUsedAt) : null;
  let oldSeen: number | null | undefined;
  let oldQuietSince = started;
  let checkPassed = false;
  ports.note(
    `${provider.displayName} reports each key's last use (refreshed within ${formatDuration(refreshMs)}): keyrot waits until ${record.newKey.name} is used after the hand-over and ${record.oldKey.name} stays unused for ${formatDuration(quietMs)}.`,
  );
  step.update(() => {
    const now = ports.now().getTime();
    const newPart = newUse
      ? `${record.newKey.name} used at ${newUse.toISOString()}`
      : newBaseline === undefined
        ? `${record.newKey.name}: settling keyrot's own check (${formatDuration(Math.max(0, settleAt - now))})`
        : `${record.newKey.name} not used yet`;
    const oldPart = `${record.oldKey.name} unused for ${formatDuration(Math.max(0, now - oldQuietSince))} of ${formatDuration(quietMs)}`;
    return `${formatDuration(Math.max(0, now - started))} of ${formatDuration(timeout)}; ${newPart}; ${oldPart}`;
  });
  for (;;) {
    throwIfCancelled(ports.signal);
    const polledAt = ports.now().getTime();
    const [fresh, old] = await Promise.all([provider.observeUsage(record.userId, record.newKey.id ?? ''), provider.observeUsage(record.userId, record.oldKey.id)]);
    const freshValue = fresh.lastUsedAt ? fresh.lastUsedAt.getTime() : null;
    if (newBaseline === undefined) {
      if (polledAt >= settleAt) newBaseline = freshValue;
    } else if (!newUse && fresh.lastUsedAt && freshValue !== null && (newBaseline === null || freshValue > newBaseline)) {
      newUse = fresh.lastUsedAt;
      ports.event('usage.seen', { at: newUse.toISOString(), scope: 'per-key', keyId: record.newKey.id });
    }
    const oldValue = old.lastUsedAt ? old.lastUsedAt.getTime() : null;
    const oldMoved = oldSeen !== undefined && oldValue !== null && oldValue !== oldSeen;
    oldSeen = oldValue;
    if (oldMoved && old.lastUsedAt) {
      oldQuietSince = ports.now().getTime();
      oldUse = old.lastUsedAt.getTime();
      record.oldKeyUsedAt = old.lastUsedAt.toISOString();
      await save(record, ports);
      ports.warn(`The old key ${record.oldKey.name} was used at ${record.oldKeyUsedAt}, after the hand-over: a consumer still holds it. keyrot keeps it live and waits until it stays unused for ${formatDuration(quietMs)}.`);
      ports.event('usage.old-key', { at: record.oldKeyUsedAt, keyId: record.oldKey.id });
    }
    const now = ports.now().getTime();
    // Never in the poll that saw the old key used.
    const quiet = !oldMoved && now - oldQuietSince >= quietMs;
    if (newUse && quiet && !checkPassed) checkPassed = record.options.check === null || (await ports.runCheck(record.options.check, hookEnv(record), record.options.hookTimeoutMs));
    if (newUse && quiet && checkPassed) {
      const detail = `${record.newKey.name} used at ${newUse.toISOString()}; ${record.oldKey.name} unused for ${formatDuration(now - oldQuietSince)}${record.options.check ? '; check passed' : ''}`;
      return { detail: await graceForOldKey(record, ports, detail) };
    }
    if (now - started >= timeout) {
      const message = !newUse
        ? `No activity on the new key within ${formatDuration(timeout)} (${record.newKey.name} has not been used since the hand-over).`
        : !quiet
          ? oldUse
            ? `The old key ${record.oldKey.name} was still used at ${new Date(oldUse).toISOString()}, after the hand-over: a consumer still holds it (it did not stay unused for ${formatDuration(quietMs)} within ${formatDuration(timeout)}).`
            : `The old key ${record.oldKey.name} did not stay unused for ${formatDuration(quietMs)} within ${formatDuration(timeout)}.`
          : `No passing --check within ${formatDuration(timeout)}.`;
      throw new WaitTimeoutError(message, {
        hint: 'Both keys stay live. Find the consumer still on the old key (if any), then --resume (waits again); or roll back with --abort.',
      });
    }
    await ports.sleep(Math.min(record.options.pollIntervalMs, timeout - (now - started)));
  }
}

/**
 * --keep-old with a grace period: the old key is set to lapse on its own (the rotation guides' "expires_at 7 days out"). Only
 * ever sooner: an old key that expires before the grace ends keeps its expiry, and an expired one stays expired.
 */
async function graceForOldKey(record: RotationRecord, ports: RotationPorts, detail: string): Promise<string> {
  const grace = record.options.expireOldMs;
  const { provider } = ports;
  // Where expiries cannot move (Vultr, Grafana), the period is the grace keyrot status counts down, nothing more.
  if (!record.options.keepOld || !grace || !provider.setKeyExpiry) return detail;
  const at = new Date(ports.now().getTime() + grace);
  const listed = (await provider.listKeys(record.userId)).find((k) => k.id === record.oldKey.id);
  if (!listed) return `${detail}; ${record.oldKey.name} is no longer listed`;
  const own = listed.expiresAt;
  if (own && own.getTime() <= at.getTime()) {
    // Known to status and --abort: once it passes, the old key no longer works.
    record.oldKey.expiresAt = own.toISOString();
    await save(record, ports);
    return `${detail}; ${record.oldKey.name} keeps its own expiry, ${own.toISOString()}, sooner than the grace period`;
  }
  // Recorded before the change, so that --abort can put it back whatever happens next.
  record.oldKey.expiryBefore = own?.toISOString() ?? null;
  await save(record, ports);
  await provider.setKeyExpiry(record.userId, record.oldKey.id, at);
  record.oldKey.expiresAt = at.toISOString();
  await save(record, ports);
  ports.event('old.expiry-set', { keyId: record.oldKey.id, expiresAt: record.oldKey.expiresAt });
  return `${detail}; ${record.oldKey.name} now expires at ${record.oldKey.expiresAt}`;
}

/** --abort after --keep-old moved the old key's expiry: the old key gets its own expiry back before anything else. */
async function restoreOldKeyExpiry(record: RotationRecord, ports: RotationPorts): Promise<string | null> {
  const before = record.oldKey.expiryBefore;
  if (before === undefined || !ports.provider.setKeyExpiry) return null;
  // An expiry that has passed meanwhile is not brought back: the key lapsed by its own date.
  if (before !== null && Date.parse(before) <= ports.now().getTime()) return null;
  await ports.provider.setKeyExpiry(record.userId, record.oldKey.id, before === null ? null : new Date(before));
  delete record.oldKey.expiryBefore;
  record.oldKey.expiresAt = before;
  await save(record, ports);
  return `${record.oldKey.name} ${before === null ? 'never expires again' : `expires at ${before} again`}`;
}

/**
 * How many unheld keys of the new key's name can be this rotation's own: the creates it sent, less the orphans it
 * deleted. undefined for a journal of an older keyrot (no count: every such key counts as its own, as it did).
 */
function ownUnheld(record: RotationRecord): number | undefined {
  return record.createsSent === undefined ? undefined : Math.max(0, record.createsSent - (record.orphansDeleted ?? 0));
}

/** Keys reconciliation leaves alone: the user's keys from before the rotation, and keys it found to be another's. */
function keptKeyIds(record: RotationRecord): Set<string> {
  return new Set([...record.preexistingKeyIds, ...(record.othersKeyIds ?? [])]);
}

/** Runs `check`; when it finds unheld keys that are not all this rotation's, records them as never to be deleted. */
async function keepOthersKeys<T>(record: RotationRecord, ports: RotationPorts, check: () => T | Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    const ids = err instanceof RotationConflictError ? err.data?.['unheldKeyIds'] : undefined;
    if (Array.isArray(ids)) {
      addOthersKeyIds(record, ids.map(String));
      await save(record, ports).catch(() => undefined);
    }
    throw err;
  }
}

function addOthersKeyIds(record: RotationRecord, ids: readonly string[]): void {
  record.othersKeyIds = [...new Set([...(record.othersKeyIds ?? []), ...ids])];
}

function countOrphansDeleted(record: RotationRecord, ports: RotationPorts): (count: number) => Promise<void> {
  return async (count) => {
    if (record.createsSent === undefined) return;
    record.orphansDeleted = (record.orphansDeleted ?? 0) + count;
    await save(record, ports);
  };
}

/**
 * Cancelled (Ctrl-C, a CI job's SIGTERM) while a create's answer was pending: the key may exist with its plaintext
 * lost, and on an ephemeral runner no later --resume will come to reconcile it. Deleted now, on a connection of its
 * own (the run's requests are aborted). A key whose plaintext is held is left alone.
 */
async function discardCancelledCreate(record: RotationRecord, ports: RotationPorts, err: unknown): Promise<void> {
  if (!(err instanceof CancelledError) || record.phase !== 'create' || record.phaseStatus !== 'started' || record.newKey.id) return;
  const provider = await ports.cleanupProvider();
  await keepOthersKeys(record, ports, () =>
    deleteOrphans(
      { userId: record.userId, name: record.newKey.name, preexistingKeyIds: keptKeyIds(record), ownUnheld: ownUnheld(record) },
      { provider, store: ports.store, note: ports.note, onOrphansDeleted: countOrphansDeleted(record, ports) },
    ),
  );
}

/** The old key is revoked; proves it no longer authenticates (or, untestable, is no longer listed). */
async function proveOldKeyGone(record: RotationRecord, ports: RotationPorts, step: StepProgress): Promise<{ detail: string }> {
  record.oldKeyStillAuthenticates = false;
  const secret = await ports.store.get(keychainAccount(ports.provider.id, record.userId, record.oldKey.id));
  if (secret === null) {
    // keyrot never held the old plaintext: the best proof left is that the key is no longer listed.
    if (byOperator(ports.provider)) return { detail: `unproven: keyrot does not hold its plaintext; check that ${ports.provider.displayName}'s dashboard shows it revoked` };
    return { detail: `${await provenGoneByListing(record, ports)} (keyrot does not hold its plaintext to test it)` };
  }
  ports.protect(secret);
  if (byOperator(ports.provider)) return awaitOperatorRevoke(record, ports, step, secret);
  const attempts = ports.verifyAttempts ?? 5;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const check = await ports.provider.checkKey(secret);
    if (!check.ok && check.reason === 'rejected') return { detail: 'rejected (401)' };
    // A 403 or an IP refusal says nothing about revocation: fall back to the listing.
    if (!check.ok) return { detail: `${check.reason}; ${await provenGoneByListing(record, ports)}` };
    if (attempt < attempts) {
      step.update('still accepted; re-checking');
      await ports.sleep((ports.verifyDelayMs ?? 1_000) * attempt);
    }
  }
  record.oldKeyStillAuthenticates = true;
  ports.warn(`THE OLD KEY ${record.oldKey.name} STILL AUTHENTICATES after it was deleted. Treat it as live: check at the provider.`);
  // Thrown from this phase (not a later one) so that --resume tests the old key again.
  throw new VerificationFailedError(`The old key ${record.oldKey.name} still authenticates after it was revoked.`, {
    hint: 'The new key is live and in the keychain. Contact the provider; keyrot rotate --resume checks again.',
  });
}

/**
 * The rotation guides' warning sign: failures right after the revoke mean a consumer still holds the old key. keyrot
 * cannot see consumers' traffic, but --check can: it runs once more now that only the new key works.
 */
async function consumersStillWork(record: RotationRecord, ports: RotationPorts): Promise<void> {
  if (!record.options.check || record.mode !== 'standard') return;
  if (await ports.runCheck(record.options.check, hookEnv(record), record.options.hookTimeoutMs)) return;
  throw new VerificationFailedError(`--check fails now that the old key ${record.oldKey.name} is revoked: a consumer still uses the old key (it gets 401).`, {
    hint: `Find it and give it the new key ${record.newKey.name}; keyrot rotate --resume re-runs the check.`,
  });
}

/** Proof that the old key is gone when it cannot be tested: it is no longer listed. Returns the detail. */
async function provenGoneByListing(record: RotationRecord, ports: RotationPorts): Promise<string> {
  let keys: ApiKey[];
  try {
    keys = await ports.provider.listKeys(record.userId);
  } catch (err) {
    // The admin key's own user: when the key just revoked was the admin key keyrot runs with, the
    // provider now rejects keyrot itself, which is the very proof sought.
    if (!(err instanceof AuthError) || record.options.usageSignalUsable) throw err;
    ports.warn(
      `The old key ${record.oldKey.name} was the admin key keyrot ran with, and it is now rejected. From now on use the new key ${record.newKey.name} (keychain service "keyrot", account "${entryName(ports.store, keychainAccount(ports.provider.id, record.userId, record.newKey.id ?? ''))}").`,
    );
    return 'rejected (it was the admin key)';
  }
  if (keys.some((k) => k.id === record.oldKey.id)) {
    throw new VerificationFailedError(`The old key ${record.oldKey.name} is still listed after its deletion.`, {
      hint: 'keyrot rotate --resume deletes it again and re-checks.',
    });
  }
  return 'no longer listed';
}

async function adoptHeldKey(record: RotationRecord, ports: RotationPorts): Promise<boolean> {
  for (const key of await ports.provider.listKeys(record.userId)) {
    if (key.name !== record.newKey.name || record.preexistingKeyIds.includes(key.id)) continue;
    const secret = await ports.store.get(keychainAccount(ports.provider.id, record.userId, key.id));
    if (secret === null) continue;
    ports.protect(secret);
    record.newKey.id = key.id;
    record.newKey.lastChars = secret.slice(-5);
    await save(record, ports);
    return true;
  }
  return false;
}

/**
 * Plaintexts this run already holds, by key id: the keychain write was read back when it was made, so later
 * phases need not ask the keychain again. Keyed by the ports object, so it lives as long as one run.
 */
const heldThisRun = new WeakMap<RotationPorts, Map<string, string>>();

function remember(ports: RotationPorts, keyId: string, secret: string): void {
  ports.protect(secret);
  let held = heldThisRun.get(ports);
  if (!held) heldThisRun.set(ports, (held = new Map()));
  held.set(keyId, secret);
}

async function newSecret(record: RotationRecord, ports: RotationPorts): Promise<string> {
  const id = record.newKey.id;
  const secret = id ? (heldThisRun.get(ports)?.get(id) ?? (await ports.store.get(keychainAccount(ports.provider.id, record.userId, id)))) : null;
  if (!id || secret === null) {
    throw new RotationIncompleteError(`The new key ${record.newKey.name} is not in the keychain any more.`, {
      hint: 'Roll back with --abort (deletes the new key at the provider), then rotate again.',
    });
  }
  ports.protect(secret);
  return secret;
}

function hookEnv(record: RotationRecord): Record<string, string> {
  return {
    KEYROT_USER_ID: record.userId,
    KEYROT_USER_EMAIL: record.userEmail,
    KEYROT_KEY_ID: record.newKey.id ?? '',
    KEYROT_KEY_NAME: record.newKey.name,
    KEYROT_OLD_KEY_ID: record.oldKey.id,
  };
}

function labelFor(record: RotationRecord, phase: Phase): string {
  switch (phase) {
    case 'create':
      return record.options.store === 'none'
        ? `Create ${record.newKey.name} (kept in memory only: --store none)`
        : `Create ${record.newKey.name} and store it in the keychain`;
    case 'revoke':
      return `Revoke the old key ${record.oldKey.name}`;
    case 'finish':
      return record.options.store === 'none' ? 'Finish (--store none: keyrot keeps no copy of the new key)' : PHASE_LABELS.finish;
    default:
      return PHASE_LABELS[phase];
  }
}

async function markStarted(record: RotationRecord, ports: RotationPorts): Promise<void> {
  record.phaseStatus = 'started';
  await save(record, ports);
}

async function save(record: RotationRecord, ports: RotationPorts): Promise<void> {
  record.updatedAt = ports.now().toISOString();
  await ports.save(record);
}

function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof KeyrotError ? signal.reason : new CancelledError('Cancelled.');
}

/** The summary data for events and JSON output. No secrets. */
export function summaryData(record: RotationRecord): Record<string, unknown> {
  return {
    rotationId: record.id,
    userId: record.userId,
    userEmail: record.userEmail,
    mode: record.mode,
    status: record.status,
    oldKey: { id: record.oldKey.id, name: record.oldKey.name, maskedKey: maskFromLastChars(record.oldKey.lastChars) },
    newKey: { id: record.newKey.id, name: record.newKey.name, maskedKey: maskFromLastChars(record.newKey.lastChars), expiresAt: record.newKey.expiresAt },
    steps: record.steps.map((s) => ({ phase: s.phase, outcome: s.outcome, durationMs: Math.round(s.durationMs), ...(s.detail ? { detail: s.detail } : {}) })),
  };
}

/** The journal's and keychain's name of the caller's own user (`rotate --self`); no provider user id is "self". */
export const SELF_USER_ID = 'self';

/** The command that continues `record`'s rotation. */
export function rotateCommandOf(record: RotationRecord, ports?: Pick<RotationPorts, 'invocation'>): string {
  const command = ports?.invocation ?? 'keyrot rotate';
  return record.userId === SELF_USER_ID ? `${command} --self` : `${command} --user ${shellArg(record.userEmail)}`;
}

/**
 * Whether a stop left nothing to go on with: a create answered without a key (that key is deleted), or refused by
 * the provider (a 4xx: nothing was made). The record is then closed, not left for a --resume that would only send
 * the same request again.
 */
export function nothingCreated(record: RotationRecord, err: unknown): boolean {
  if (record.newKey.id !== null || !canAbort(record)) return false;
  if (err instanceof RotationConflictError && err.data?.['concurrent'] === true) return true;
  // An answer without a key: the key it made is deleted (found by name, with any orphan of an earlier lost answer).
  if (err instanceof KeyNotReturnedError) return true;
  // A refusal after a lost answer, in this run or an earlier one: a key may have been made (the listing had not
  // shown it yet); --resume looks again.
  if (record.createOutcomeUnknown || (isKeyrotError(err) && err.data?.['afterLostAnswer'] === true)) return false;
  // A wrong key pasted for a person's mint is a retry at the same step, not the end of the rotation.
  return record.phase === 'create' && record.awaiting !== 'mint' && (err instanceof UsageError || answered4xx(err));
}

/** The provider answered 4xx (a 403 for a role that may not issue keys, a 401, a 404): it refused, and made nothing. */
function answered4xx(err: unknown): boolean {
  const status = isKeyrotError(err) ? err.data?.['status'] : undefined;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * A step only a person can take (mint or revoke in the dashboard) is pending: the rotation is paused, not failed,
 * and says exactly what to do and how to go on. Returns the error to throw (exit 18).
 */
async function pauseForOperator(record: RotationRecord, ports: RotationPorts, step: StepProgress, err: OperatorStepError): Promise<OperatorStepError> {
  step.finish('skipped', 'paused: waiting for a person at the dashboard');
  record.status = 'paused';
  record.lastError = { code: err.code, message: err.message };
  await save(record, ports);
  ports.event('rotation.paused', { rotationId: record.id, phase: record.phase, awaiting: record.awaiting ?? null, message: err.message });
  const next = record.awaiting === 'mint' ? `${rotateCommandOf(record, ports)} --resume --new-key-stdin (the key on stdin), or the same without --new-key-stdin in a terminal` : `${rotateCommandOf(record, ports)} --resume`;
  return err.amend(`${err.hint ? `${err.hint} ` : ''}Next: ${next}.${canAbort(record) ? ' Or roll back with --abort.' : ''}`, { rotationId: record.id, phase: record.phase, awaiting: record.awaiting ?? null, resumable: true });
}

/** The error to show when a rotation stops: the original code, plus what is live and how to go on. */
function explainFailure(record: RotationRecord, err: unknown, ports: Pick<RotationPorts, 'invocation'>): unknown {
  if (!isKeyrotError(err)) return err;
  // A create answered without a key changed nothing (the key it made is deleted): there is nothing to go on with.
  if (nothingCreated(record, err)) return err;
  // Exit 8 promises that no key was created: a keychain failing once a new key is live is a stop part-way (12).
  if (err instanceof KeychainError && record.newKey.id !== null) {
    return explainFailure(record, new RotationIncompleteError(err.message, { cause: err, hint: 'Make the keychain available (unlocked) again.', ...(err.data ? { data: err.data } : {}) }), ports);
  }
  const oldLive = canAbort(record)
    ? ' The old key is untouched.'
    : ` The old key ${record.oldKey.name} is revoked (or being revoked)${PHASES[record.mode].indexOf(record.phase) < PHASES[record.mode].indexOf('hand-over') || record.handedOverAt ? '' : ': consumers need the new key now'}.`;
  const newHeld = !record.newKey.id || err.data?.['newKeyUsable'] === false
    ? ''
    : record.options.store === 'none'
      ? ` The new key ${record.newKey.name} is live; consumers have it, keyrot keeps no copy (--store none).`
      : ` The new key ${record.newKey.name} is live and in the keychain.`;
  const next = canAbort(record)
    ? `${rotateCommandOf(record, ports)} --resume to continue, or --abort to roll back`
    : `${rotateCommandOf(record, ports)} --resume to continue`;
  const hint = `${err.hint ? `${err.hint} ` : ''}Stopped at "${PHASE_LABELS[record.phase]}".${oldLive}${newHeld} Next: ${next}.`;
  // Keep the original class (and so its exit code); only the hint and data grow.
  return err.amend(hint, { rotationId: record.id, phase: record.phase, resumable: true });
}
