// The journal entry of one rotation and what can be read off it. Pure: no I/O, no ports.
import type { ApiKey } from '../../providers/types.js';
import { maskFromLastChars } from '../mask.js';

export type Phase = 'create' | 'verify-new' | 'hand-over' | 'wait' | 'revoke' | 'verify-old' | 'finish';

export type RotationMode = 'standard' | 'emergency';

/** A running hook's process group (hooks/process-group.ts): its pid, and its start time on Linux. */
export interface HookProcess {
  pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks since boot) on Linux: tells the hook from a process that reused its pid. */
  startTime: string | null;
}

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
   * rotation guides' scheduled rotation: 7 days). keyrot status shows the time left. Absent in journals written before it existed.
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
  /** --to: built-in destinations given the new key at the hand-over, before --on-new-key. Absent in older journals. */
  to?: string[];
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
  /**
   * The --on-new-key hook's process (its group's id, and its start time where the OS tells it), journaled before it
   * is given the key and cleared when it ends: a hook that outlived a killed keyrot is stopped by the next run
   * before the key is discarded or handed over again. Never a secret.
   */
  hookProcess?: HookProcess | null;
  /** --to destinations that took the new key (journaled one by one: --abort gives them the old key back). */
  deliveredTo?: string[];
  /** --keep-old: when the grace period ends, set when the rotation pauses with both keys live. */
  graceUntil?: string | null;
  oldKeyStillAuthenticates: boolean;
  /** Per-key usage: the old key's latest use seen after the hand-over (a consumer still holding it). */
  oldKeyUsedAt?: string | null;
  /**
   * keyManagement 'operator': the endpoints that answered the old key 2xx (paths only), so that a --resume in another
   * process still reads their later 403 as revoked (Kubeadapt's earlier docs). Absent in older journals.
   */
  oldKeyAnswered?: string[];
  /** keyManagement 'operator': the step a person must take in the dashboard before the rotation can go on. */
  awaiting?: 'mint' | 'revoke' | null;
  lastError: { code: string; message: string } | null;
  steps: StepRecord[];
  startedAt: string;
  updatedAt: string;
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

/**
 * --store none: whether this rotation's new key, if any, is one nobody will hold once its run ends (not handed over
 * yet, the old key untouched). A run that never held it (a --resume) deletes it and starts again with a new key.
 */
export function newKeyUnheldWithoutStore(record: RotationRecord): boolean {
  if (record.options.store !== 'none' || !record.newKey.id || !canAbort(record)) return false;
  const phases = PHASES[record.mode];
  const handOver = phases.indexOf('hand-over');
  const at = phases.indexOf(record.phase);
  return at < handOver || (at === handOver && !record.handedOverAt);
}

/** Whether the hand-over had begun (a hook may have been given the new key) without being seen to finish. */
export function handOverBegun(record: RotationRecord): boolean {
  return record.phase === 'hand-over' && record.phaseStatus === 'started' && !record.handedOverAt;
}

/** Whether --abort has a new key to delete: one is named, or a create was sent whose key may exist. */
export function rollbackHasKey(record: RotationRecord): boolean {
  return canAbort(record) && (record.newKey.id !== null || (record.phase === 'create' && record.phaseStatus === 'started'));
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
 * Whether --keep-old set the old key to lapse and that time has passed: the old key no longer works, so the new key
 * is the only one left, and a roll-back would delete it.
 */
export function oldKeyLapsed(record: RotationRecord, now: Date): boolean {
  return !!record.oldKey.expiresAt && Date.parse(record.oldKey.expiresAt) <= now.getTime();
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

export function hookEnv(record: RotationRecord): Record<string, string> {
  return {
    KEYROT_USER_ID: record.userId,
    KEYROT_USER_EMAIL: record.userEmail,
    KEYROT_KEY_ID: record.newKey.id ?? '',
    KEYROT_KEY_NAME: record.newKey.name,
    KEYROT_OLD_KEY_ID: record.oldKey.id,
  };
}

export function labelFor(record: RotationRecord, phase: Phase): string {
  switch (phase) {
    case 'create':
      return record.options.store === 'none' ? `Create ${record.newKey.name} (kept in memory only: --store none)` : `Create ${record.newKey.name} and store it in the keychain`;
    case 'revoke':
      return `Revoke the old key ${record.oldKey.name}`;
    case 'finish':
      return record.options.store === 'none' ? 'Finish (--store none: keyrot keeps no copy of the new key)' : PHASE_LABELS.finish;
    default:
      return PHASE_LABELS[phase];
  }
}
