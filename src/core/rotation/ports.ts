// What the engine needs from the world, and the few helpers every step uses to talk to it. No adapter is imported:
// the keychain, journal, hooks and clock come in through RotationPorts.
import { CancelledError, KeyrotError, RotationConflictError, RotationIncompleteError, UsageError } from '../../errors.js';
import type { ApiKey, CreatedKey, Provider } from '../../providers/types.js';
import { keychainAccount, type SecretStore } from '../key-store.js';
import { shellArg } from '../shell-arg.js';
import { SELF_USER_ID, type HookProcess, type RotationRecord } from './record.js';
import { TRANSITIONS } from './transitions.js';
import { say, displayText, type DisplayText } from '../display-text.js';

/** What a step returns: the detail for its line, and whether it was skipped. */
export interface StepResult {
  detail?: string;
  skipped?: boolean;
}

/**
 * keyManagement 'operator' (a person mints and revokes keys in a dashboard): the steps that replace keyrot's own
 * create and revoke. Provided by the provider's side (providers/operator-flow.ts); the engine only calls them.
 */
export interface OperatorFlow {
  /** The create step: a person mints the key; keyrot takes it, checks it and stores it. */
  receiveMintedKey(record: RotationRecord, ports: RotationPorts): Promise<{ detail: string }>;
  /** The revoke step: a person is asked to revoke the old key. */
  askToRevoke(record: RotationRecord, ports: RotationPorts): Promise<{ detail: string }>;
  /** The verify-old step: polls until the old key is rejected. */
  awaitRevoke(record: RotationRecord, ports: RotationPorts, step: StepProgress, oldSecret: string): Promise<{ detail: string }>;
  /** --abort: whether the new key's entry may go now (it is rejected), or must stay until a person revokes it. */
  keepUntilRevoked(record: RotationRecord, ports: RotationPorts, id: string, account: string): Promise<boolean>;
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
  /**
   * Runs the hand-over command with the secret on stdin. Throws HookFailedError. `onStart` is awaited once its
   * process exists, before it is given the secret (the engine journals the process there).
   */
  runHook(command: string, secret: string, env: Record<string, string>, timeoutMs: number, onStart?: (proc: HookProcess) => Promise<void>): Promise<void>;
  /**
   * Stops a hook's process group an earlier run left running (SIGTERM, then SIGKILL), and resolves once it is gone;
   * true when it was still running. Absent: nothing can be stopped (tests of the engine alone).
   */
  stopHook?(proc: HookProcess): Promise<boolean>;
  /**
   * Writes `secret` to the --to destination `target` (idempotent: a resumed hand-over may write it again). Throws
   * HookFailedError (a DestinationError) when the destination refuses.
   */
  deliverTo?(target: string, secret: string): Promise<void>;
  /**
   * In a terminal, for a provider whose usage signal cannot tell keys apart: asks the person whether the consumers
   * work with the new key (their word is the evidence). Null without a terminal or in a batch.
   */
  confirmSwitch?: ((message: string) => Promise<boolean>) | null;
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
  rescue(key: CreatedKey, userId: string): Promise<string>;
  /** keyManagement 'operator': the dashboard steps (required for such a provider). */
  operatorFlow?: OperatorFlow;
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
  note(message: DisplayText): void;
  warn(message: DisplayText): void;
  /** Registers a secret for masking in all output. */
  protect(secret: string): void;
  now(): Date;
  sleep(ms: number): Promise<void>;
  signal: AbortSignal;
  /** Attempts and pause for new-key propagation checks. */
  verifyAttempts?: number;
  verifyDelayMs?: number;
}

/**
 * Plaintexts this run already holds, by key id: the keychain write was read back when it was made, so later
 * phases need not ask the keychain again. Keyed by the ports object, so it lives as long as one run.
 */
export const heldThisRun = new WeakMap<RotationPorts, Map<string, string>>();

export function remember(ports: RotationPorts, keyId: string, secret: string): void {
  ports.protect(secret);
  let held = heldThisRun.get(ports);
  if (!held) heldThisRun.set(ports, (held = new Map()));
  held.set(keyId, secret);
}

export async function newSecret(record: RotationRecord, ports: RotationPorts): Promise<string> {
  const id = record.newKey.id;
  const secret = id ? (heldThisRun.get(ports)?.get(id) ?? (await ports.store.get(keychainAccount(ports.provider.id, record.userId, id)))) : null;
  if (!id || secret === null) {
    throw new RotationIncompleteError(say`The new key ${displayText(record.newKey.name)} is not in the keychain any more.`, {
      hint: say`Roll back with --abort (deletes the new key at the provider), then rotate again.`,
    });
  }
  ports.protect(secret);
  return secret;
}

export async function markStarted(record: RotationRecord, ports: RotationPorts): Promise<void> {
  TRANSITIONS.begin(record);
  await save(record, ports);
}

export async function save(record: RotationRecord, ports: RotationPorts): Promise<void> {
  record.updatedAt = ports.now().toISOString();
  await ports.save(record);
}

/**
 * A save beside a stop that is already on its way to the user (that stop's own error is what they see): a journal
 * that cannot be written there is said in one line beside it, never dropped, since `keyrot status` and --resume go
 * by the journal.
 */
export async function saveBeside(record: RotationRecord, ports: RotationPorts): Promise<void> {
  try {
    await save(record, ports);
  } catch (err) {
    // A fenced write (a shared store): another runner took the rotation over, and its journal is the one that stands.
    // The store's own words ("this run stops here, before changing any key") fit a write made before a step, not a
    // stop that may come after one, so they are not passed on here.
    if (err instanceof RotationConflictError) {
      ports.warn(say`This stop is not in the rotation journal: another keyrot runner took the rotation over (this run's lock lapsed), and that runner's journal stands.`);
      return;
    }
    ports.warn(say`The rotation journal could not record this stop (${displayText(err instanceof Error ? err.message : String(err))}): keyrot status may show the rotation as it was before.`);
  }
}

export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason instanceof KeyrotError ? signal.reason : new CancelledError(say`Cancelled.`);
}

/** Whether a person, not keyrot, makes and revokes this provider's keys (in its dashboard). */
export function byOperator(provider: Provider): boolean {
  return provider.capabilities.keyManagement === 'operator';
}

/** The command that continues `record`'s rotation. */
export function rotateCommandOf(record: RotationRecord, ports?: Pick<RotationPorts, 'invocation'>): string {
  const command = ports?.invocation ?? 'keyrot rotate';
  return record.userId === SELF_USER_ID ? `${command} --self` : `${command} --user ${shellArg(record.userEmail)}`;
}

/** The dashboard steps of a provider whose keys a person manages; a UsageError when none was given. */
export function operatorFlowOf(ports: Pick<RotationPorts, 'operatorFlow' | 'provider'>): OperatorFlow {
  if (!ports.operatorFlow) throw new UsageError(say`${displayText(ports.provider.displayName)} has no dashboard steps: keyrot cannot rotate its keys.`);
  return ports.operatorFlow;
}

/**
 * Facts this run proved at the provider, by key id: when a new key last authenticated, and which old keys were seen
 * rejected. A fact proven seconds ago in the same run is not asked again (each request costs a share of the
 * provider's rate limit: 30/s at Vultr); anything older, or from another process, is proven afresh.
 */
const provenThisRun = new WeakMap<RotationPorts, { authenticated: Map<string, number>; rejected: Set<string>; unlisted: Set<string> }>();

function provenIn(ports: RotationPorts) {
  let proven = provenThisRun.get(ports);
  if (!proven) provenThisRun.set(ports, (proven = { authenticated: new Map(), rejected: new Set(), unlisted: new Set() }));
  return proven;
}

/** How long a proof of "the new key authenticates" stands within one run: a hook's time, not a wait or a grace. */
export const FRESH_PROOF_MS = 30_000;

export function provedAuthenticates(ports: RotationPorts, keyId: string): void {
  provenIn(ports).authenticated.set(keyId, ports.now().getTime());
}

/** Milliseconds since this run proved `keyId` authenticates, when that was within FRESH_PROOF_MS; else null. */
export function freshlyProven(ports: RotationPorts, keyId: string): number | null {
  const at = provenThisRun.get(ports)?.authenticated.get(keyId);
  const age = at === undefined ? null : ports.now().getTime() - at;
  return age !== null && age >= 0 && age <= FRESH_PROOF_MS ? age : null;
}

export function provedRejected(ports: RotationPorts, keyId: string): void {
  provenIn(ports).rejected.add(keyId);
}

export function rejectedThisRun(ports: RotationPorts, keyId: string): boolean {
  return provenThisRun.get(ports)?.rejected.has(keyId) ?? false;
}

/** The revoke's delete-and-confirm listed the user's keys without `keyId` in this run, seconds ago. */
export function provedUnlisted(ports: RotationPorts, keyId: string): void {
  provenIn(ports).unlisted.add(keyId);
}

export function unlistedThisRun(ports: RotationPorts, keyId: string): boolean {
  return provenThisRun.get(ports)?.unlisted.has(keyId) ?? false;
}
