// The rotation engine's session: plans a fresh rotation, resumes one from its journal, adopts one from the
// provider's state, aborts one, and runs the engine (core/rotation) with the real adapters plugged into its ports.
// `rotate` and `rotate --all` both compose it; neither imports the other's command.
import { setTimeout as delay } from 'node:timers/promises';
import type { Context } from '../cli/context.js';
import { formatDuration, parseDuration, parseSpan } from '../core/duration.js';
import { maskFromLastChars } from '../core/mask.js';
import { nextGenerationName } from '../core/naming.js';
import {
  PHASES,
  PHASE_LABELS,
  abortRotation,
  canAbort,
  newKeyUnheldWithoutStore,
  newRotationRecord,
  noEvidenceReason,
  nothingCreated,
  runRotation,
  TRANSITIONS,
  type RotationMode,
  type RotationOptions,
  type RotationPorts,
  type RotationRecord,
} from '../core/rotation.js';
import { CancelledError, NotFoundError, RotationConflictError, StateError, UsageError, isKeyrotError } from '../errors.js';
import { writeRescueFile } from '../journal/rescue.js';
import type { RotationJournal } from '../journal/rotations.js';
import { stateError } from '../journal/state-dir.js';
import { keychainAccount, type SecretStore } from '../keychain/secret-store.js';
import { newKeyExpiry, type NewKeyExpiry } from '../core/rotation/lifetime.js';
import { adoptDashboardKey, dashboardFlow, dashboardKey, keepDashboardKey, restoreDashboardAdmin } from '../providers/operator-flow.js';
import type { ApiKey, Identity, Provider, User } from '../providers/types.js';
import { addMaskLine, appendStepSummary, inGithubActions, rotationOutputs, rotationSummaryMarkdown, writeJobOutputs } from '../ui/github.js';
import { parseTarget, parseTargets, targetList } from '../destinations/index.js';
import { consentTo } from '../commands/consent.js';
import { chooseKey, findKey, heldAmong, refuseRunningAdminKey } from '../commands/resolve.js';
import { OwnKeysProvider, SELF_USER_ID, type SelfTarget } from '../commands/rotate-self.js';
import { DEFAULT_HOOK_TIMEOUT, runLogged, runNewKeyHook, storeFor } from '../commands/hand-over.js';
import { isAdmin } from '../commands/account-scan.js';
import { shellArg } from '../core/shell-arg.js';
import { stopHookGroup } from '../hooks/process-group.js';
import { say, displayText, joinDisplay, type DisplayText } from '../ui/display-text.js';
import { randomUUID } from '../random.js';

export interface RotateOptions {
  /** Repeated (--all): several users. */
  user?: string | string[];
  key?: string;
  name?: string;
  expires?: string;
  onNewKey?: string;
  /** --to, repeatable: built-in destinations given the new key before --on-new-key. */
  to?: string | string[];
  check?: string;
  waitTimeout?: string;
  pollInterval?: string;
  hookTimeout?: string;
  /** false with --no-wait. */
  wait?: boolean;
  /** true, or a grace period ("7d") after which the old key lapses by itself (where the provider can set expiries). */
  keepOld?: boolean | string;
  /** The key a person minted in the dashboard, on stdin (keyManagement 'operator'). */
  newKeyStdin?: boolean;
  /** Overrides the provider's per-key last-used refresh interval. */
  usageRefresh?: string;
  yes?: boolean;
  resume?: boolean;
  abort?: boolean;
  emergency?: boolean;
  dryRun?: boolean;
  /** Rotate the admin key keyrot runs with (its own user's keys). */
  self?: boolean;
  /** rotate --all: every key the selection flags pick (rotate-all.ts). */
  all?: boolean;
  expiringWithin?: string;
  neverExpiring?: boolean;
  olderThan?: string;
  usersFile?: string;
  match?: string;
  failFast?: boolean;
  concurrency?: string;
}

export interface RotationPlan {
  user: { id: string; email: string };
  mode: RotationMode;
  oldKey: { id: string; name: string; maskedKey: string };
  /** The new key's expiry, and in words where it comes from (the lifetime rule: core/rotation/lifetime.ts). */
  newKey: { name: string; expiresAt: string | null; expiry?: string };
  steps: DisplayText[];
  usageSignal: string;
  /** --dry-run: the preflight checks the real run would make, each passed. */
  preflight?: DisplayText[];
}

export type RotateResult = { kind: 'planned'; plan: RotationPlan } | { kind: 'rotated' | 'paused' | 'aborted'; record: RotationRecord; journal: string };

export const DEFAULTS = { waitTimeout: '10m', pollInterval: '5s', hookTimeout: DEFAULT_HOOK_TIMEOUT, grace: '7d' };

export function parseSettings(options: RotateOptions, store: 'os' | 'none' = 'os') {
  if (options.resume && options.abort) throw new UsageError(say`--resume and --abort cannot be combined.`);
  if (options.emergency && store === 'none') {
    // Revoke-then-hand-over with no keychain: between the two the only key of the user would live in this
    // process's memory alone, and a kill -9 or a failing revoke would leave nobody holding it.
    throw new UsageError(say`--emergency revokes the old key before the hand-over, so with --store none the only working key would exist in keyrot's memory alone.`, {
      hint: say`Keep the keychain (drop --store none), or drop --emergency and pass --no-wait: the new key is then handed over first and the old one revoked right after.`,
    });
  }
  if (options.dryRun && (options.resume || options.abort)) throw new UsageError(say`--dry-run plans a new rotation: it cannot be combined with --resume or --abort.`);
  if (options.emergency && options.keepOld) throw new UsageError(say`--emergency revokes the old key first: it cannot be combined with --keep-old.`);
  const settings = {
    wait: options.wait !== false,
    waitTimeoutMs: parseDuration(options.waitTimeout ?? DEFAULTS.waitTimeout, '--wait-timeout'),
    pollIntervalMs: parseDuration(options.pollInterval ?? DEFAULTS.pollInterval, '--poll-interval'),
    hookTimeoutMs: parseDuration(options.hookTimeout ?? DEFAULTS.hookTimeout, '--hook-timeout'),
    graceMs: options.keepOld ? parseSpan(typeof options.keepOld === 'string' ? options.keepOld : DEFAULTS.grace, '--keep-old') : undefined,
  };
  if (settings.pollIntervalMs < 100) throw new UsageError(say`--poll-interval must be at least 100ms.`);
  // A grace shorter than a second would be over (the old key's expiry in the past) before the provider saw it.
  if (settings.graceMs !== undefined && settings.graceMs < 1_000) throw new UsageError(say`--keep-old: a grace period must be at least 1s.`);
  if (settings.hookTimeoutMs <= 0 || settings.waitTimeoutMs <= 0) throw new UsageError(say`Time-outs must be greater than zero.`);
  return {
    ...settings,
    // An explicit period also sets the old key's expiry, where the provider can move one.
    expireOldMs: typeof options.keepOld === 'string' ? parseSpan(options.keepOld, '--keep-old') : null,
    usageRefreshMs: options.usageRefresh === undefined ? undefined : parseDuration(options.usageRefresh, '--usage-refresh'),
  };
}

export type Settings = ReturnType<typeof parseSettings>;

/**
 * Flags given with --resume replace the journaled settings they name, so that a fixed hook or a longer wait
 * can be passed on the command line instead of being silently ignored.
 */
export function applyResumeOverrides(journaled: RotationOptions, options: RotateOptions, settings: RotateSettings): void {
  if (options.onNewKey !== undefined) journaled.onNewKey = options.onNewKey;
  if (options.to !== undefined) journaled.to = targetList(options.to);
  if (options.check !== undefined) journaled.check = options.check;
  if (options.waitTimeout !== undefined) journaled.waitTimeoutMs = settings.waitTimeoutMs;
  if (options.pollInterval !== undefined) journaled.pollIntervalMs = settings.pollIntervalMs;
  if (options.hookTimeout !== undefined) journaled.hookTimeoutMs = settings.hookTimeoutMs;
  if (settings.usageRefreshMs !== undefined) journaled.usageRefreshMs = settings.usageRefreshMs;
  // Commander leaves `wait` true unless --no-wait was given.
  if (options.wait === false) journaled.noWait = true;
}

/** The hand-over step of a plan without --on-new-key, where the operator confirms it (a batch never asks). */
export const CONFIRM_HAND_OVER_STEP = say`ask you to update the consumers`;

export function planOf(
  provider: Provider,
  user: User,
  mode: RotationMode,
  oldKey: { id: string; name: string; lastChars: string | null },
  newName: string,
  expiresAt: Date | null,
  options: RotationOptions,
  expiry?: NewKeyExpiry,
): RotationPlan {
  const operator = provider.capabilities.keyManagement === 'operator';
  const perKey = provider.capabilities.usageSignal === 'per-key' && options.usageSignalUsable;
  const quiet = formatDuration(2 * (options.usageRefreshMs ?? provider.capabilities.usageRefreshMs ?? 0));
  // Names and commands are outside text (the provider's, the user's): each made display-safe where it is placed.
  const [name, old, dashboard] = [displayText(newName), displayText(oldKey.name), displayText(provider.displayName)];
  const command = (text: string): DisplayText => displayText(text, 2000);
  const timeout = displayText(formatDuration(options.waitTimeoutMs));
  const steps = PHASES[mode].map((phase): DisplayText => {
    switch (phase) {
      case 'create': {
        if (operator) return say`ask you to mint ${name} in ${dashboard}'s dashboard with ${old}'s scopes, take it (hidden prompt or --new-key-stdin) and store it in the keychain`;
        const why = expiry ? displayText(expiry.why, 2000) : undefined;
        const expires = expiresAt ? say` (expires ${displayText(expiresAt.toISOString())}${why ? say`: ${why}` : say``})` : why && !expiry?.why.startsWith('never, like') ? say` (${why})` : say``;
        return say`create ${name}${expires} and ${options.store === 'none' ? say`keep it in memory only (--store none)` : say`store it in the keychain`}`;
      }
      case 'hand-over':
        if (user.id === SELF_USER_ID)
          return say`install the new key as the admin key${options.onNewKey ? say` (and run --on-new-key with it on its stdin: ${command(options.onNewKey)})` : say``}, then use it`;
        return handOverPlan(options);
      case 'wait':
        if (perKey && !options.noWait) {
          return say`wait up to ${timeout} until ${name} is used and ${old} stays unused for ${displayText(quiet)} (each key's own last use)${options.check ? say` and --check passes: ${command(options.check)}` : say``}`;
        }
        if (options.noWait) return say`not wait for consumers (--no-wait)`;
        if (options.check) return say`run --check until it passes, up to ${timeout}: ${command(options.check)} (the evidence that consumers use the new key)`;
        if (options.keepOld) return say`not wait: both keys stay live for the grace period (--keep-old)`;
        return options.onNewKey || options.to?.length ? say`ask you whether the consumers work with the new key` : say`take your confirmation of the hand-over as the evidence`;
      case 'revoke':
        if (operator) return say`check ${name} still works, then ask you to revoke ${old} in the dashboard and poll until it is rejected (401), up to ${timeout}`;
        return say`check ${name} still works, then delete the old key ${old} (${displayText(oldKey.id)})`;
      case 'finish':
        return options.store === 'none' ? say`finish: keyrot keeps no copy of the new key` : say`finish: drop the old key's keychain entry`;
      default:
        return displayText(PHASE_LABELS[phase].toLowerCase());
    }
  });
  if (options.keepOld) {
    const expire = options.expireOldMs && provider.setKeyExpiry ? say`; ${old} set to expire then` : say``;
    steps.splice(
      steps.findIndex((s) => s.startsWith('check ')),
      0,
      say`stop here, both keys live (--keep-old) for a grace period of ${displayText(formatDuration(options.graceMs ?? 0))}${expire}, until --resume`,
    );
  }
  return {
    user: { id: user.id, email: user.email },
    mode,
    oldKey: { id: oldKey.id, name: oldKey.name, maskedKey: maskFromLastChars(oldKey.lastChars) },
    newKey: { name: newName, expiresAt: expiresAt?.toISOString() ?? null, ...(expiry ? { expiry: expiry.why } : {}) },
    steps,
    usageSignal: provider.capabilities.usageSignal,
  };
}

/**
 * The admin key keyrot runs with is rotated with --self, which installs the new key where the admin key comes
 * from (the keychain entry of `keyrot login`, or --on-new-key for an environment variable). Rotated as a user key,
 * that entry (or CI secret) would be left holding a revoked key: refused before any change (resolve.ts
 * refuseRunningAdminKey, the rule revoke applies too).
 */
export async function refuseAdminKeyAsOldKey(ctx: Context, provider: Provider, identity: Identity, user: User, oldKey: ApiKey): Promise<void> {
  if (!isAdmin(user, identity)) return;
  await refuseRunningAdminKey(ctx, provider, user, oldKey, 'rotate', identity.email);
}

/** The hand-over step of a plan: destinations, then the hook; or the operator's confirmation. */
function handOverPlan(options: RotationOptions): DisplayText {
  const parts = [
    ...(options.to?.length ? [say`write it to ${joinDisplay(options.to.map((to) => displayText(to)))}`] : []),
    ...(options.onNewKey ? [say`run --on-new-key with the new key on its stdin: ${displayText(options.onNewKey, 2000)}`] : []),
  ];
  return parts.length ? joinDisplay(parts, ', then ') : CONFIRM_HAND_OVER_STEP;
}

/**
 * A rotation whose switch nothing could show is refused before any change: without a terminal (or in a batch,
 * where nobody is asked about each key), without --check, a provider whose usage cannot tell keys apart, and
 * neither --keep-old nor --no-wait.
 */
export function refuseWithoutEvidence(
  ctx: Context,
  provider: Provider,
  options: Pick<RotationOptions, 'check' | 'noWait' | 'keepOld' | 'onNewKey' | 'to' | 'usageSignalUsable'>,
  mode: RotationMode,
  batch: boolean,
): void {
  // Only a signal that moves for either key misleads; per-key providers, and those with none (their rule unchanged), pass.
  if (provider.capabilities.usageSignal !== 'per-user' || !options.usageSignalUsable) return;
  if (mode !== 'standard' || options.noWait || options.keepOld || options.check) return;
  // In a terminal the person's word is the evidence; a batch asks nobody about each key.
  if (ctx.interactive && !batch) return;
  throw new UsageError(say`Nothing would show that the consumers use the new key: ${displayText(noEvidenceReason(provider.displayName, provider.capabilities.usageSignal))}.`, {
    hint: say`Pass --check CMD (a command that proves the consumers work with the new key: the rotation goes on as soon as it passes), --keep-old GRACE (both keys stay live; finish later with --resume), or --no-wait (revoke on your own word). Nothing was changed.`,
  });
}

/** Settings of a new (or adopted) rotation from the flags; refuses combinations the user's identity forbids. */
export function rotationOptionsFor(ctx: Context, options: RotateOptions, settings: RotateSettings, mode: RotationMode, identity: Identity, user: User): RotationOptions {
  const usageSignalUsable = !isAdmin(user, identity);
  if (!usageSignalUsable && mode === 'emergency') {
    // The exposed key may be the admin key itself: revoking it would cut keyrot off half-way.
    throw new UsageError(
      say`--emergency revokes the old key mid-rotation, and the admin key belongs to ${displayText(user.email)} itself: if it is the key being revoked, keyrot would lose its own access.`,
      {
        hint: say`Run it with the admin key of another user with manage_users, or without --emergency.`,
      },
    );
  }
  if (!usageSignalUsable && mode === 'standard' && settings.wait && !options.check) {
    throw new UsageError(say`The admin key belongs to ${displayText(user.email)} itself: keyrot's own calls would count as that user's activity, so waiting for usage proves nothing.`, {
      hint: say`Pass --check CMD to confirm the consumers, or --no-wait.`,
    });
  }
  return {
    onNewKey: options.onNewKey ?? null,
    check: options.check ?? null,
    noWait: !settings.wait || mode === 'emergency',
    keepOld: Boolean(options.keepOld),
    ...(settings.graceMs !== undefined ? { graceMs: settings.graceMs } : {}),
    waitTimeoutMs: settings.waitTimeoutMs,
    pollIntervalMs: settings.pollIntervalMs,
    hookTimeoutMs: settings.hookTimeoutMs,
    usageSignalUsable,
    store: ctx.storeMode,
    ...(targetList(options.to).length ? { to: [...new Set(targetList(options.to))] } : {}),
    ...(settings.usageRefreshMs !== undefined ? { usageRefreshMs: settings.usageRefreshMs } : {}),
    ...(settings.expireOldMs ? { expireOldMs: settings.expireOldMs } : {}),
  };
}

/** A damaged journal: the error grows what the provider shows for the user, so the way out can be chosen. */
export async function explainDamagedJournal(ctx: Context, provider: Provider, user: User, err: unknown): Promise<never> {
  if (!(err instanceof StateError)) throw err;
  const keys = await provider.listKeys(user.id).catch(() => null);
  if (keys) {
    const held = await heldAmong(ctx, await ctx.secretStore().catch(() => null), provider.id, user.id, keys);
    const shown = keys.map((k) => `${k.name} (${k.id}, ${maskFromLastChars(k.lastChars)}${held?.has(k.id) ? ', held by keyrot' : ''})`);
    err.message = say`${err.message} ${displayText(provider.displayName)} shows for ${displayText(user.email)}: ${displayText(shown.join('; ') || 'no keys')}.`;
  }
  throw err;
}

/** Pairs of keys where one is named as the next generation of the other (deploy / deploy-v2). */
export function unfinishedPairs(keys: readonly ApiKey[]): Array<{ old: ApiKey; next: ApiKey }> {
  const pairs: Array<{ old: ApiKey; next: ApiKey }> = [];
  for (const old of keys) {
    const successor = nextGenerationName(old.name, []);
    for (const next of keys) if (next.id !== old.id && next.name === successor) pairs.push({ old, next });
  }
  return pairs;
}

export function strayNextGeneration(ctx: Context, provider: Provider, user: User, old: ApiKey, next: ApiKey): RotationConflictError {
  const [who, nextName, nextId] = [displayText(shellArg(user.email)), displayText(next.name), displayText(next.id)];
  const flags = say`--user ${who} --key ${displayText(old.id)}`;
  return new RotationConflictError(
    say`${displayText(user.email)} already has ${displayText(next.name)} (${displayText(next.id)}) beside ${displayText(old.name)}, and no rotation known here (state in ${displayText(ctx.stateDir)}) made it: another machine, or an earlier run whose state was lost, is rotating ${displayText(old.name)}.`,
    {
      hint: say`Adopt it from ${displayText(provider.displayName)}'s state: keyrot rotate ${flags} --resume (needs ${nextName}'s plaintext in this keychain); or delete it: keyrot revoke --user ${who} --key ${nextId} --yes, then rotate again; or restore that run's state directory; or, if ${nextName} is unrelated, rotate to another name with --name. keyrot never makes a third key on its own.`,
      data: { oldKeyId: old.id, strayKeyId: next.id },
    },
  );
}

/**
 * --resume without a journal here: continue the rotation the provider's state shows (a key and its next generation,
 * side by side), provided this keychain holds the new key's plaintext, without which keyrot could neither prove the
 * key works nor hand it over.
 */
export async function adoptFromProvider(ctx: Context, session: RotationSession, user: User, options: RotateOptions, settings: RotateSettings): Promise<RotateResult> {
  const { provider, identity } = session;
  const keys = await provider.listKeys(user.id);
  const nothing = `${user.email} has no unfinished rotation to resume: no journal here (${ctx.stateDir})`;
  let pair: { old: ApiKey; next: ApiKey } | undefined;
  if (options.key !== undefined) {
    const old = findKey(keys, options.key, user.email);
    const nextName = options.name ?? nextGenerationName(old.name, []);
    const next = keys.find((k) => k.name === nextName && k.id !== old.id);
    if (!next) throw new NotFoundError(say`${displayText(nothing)}, and no key named ${displayText(nextName)} beside ${displayText(old.name)}.`);
    pair = { old, next };
  } else {
    const pairs = unfinishedPairs(keys);
    if (pairs.length > 1) {
      throw new UsageError(
        say`${displayText(user.email)} has several keys beside their next generation: pass --key with the old one: ${displayText(pairs.map((p) => `${p.old.name} (${p.old.id})`).join(', '))}.`,
      );
    }
    pair = pairs[0];
    if (!pair) throw new NotFoundError(say`${displayText(nothing)}, and no key beside its next generation (such as deploy and deploy-v2) at ${displayText(provider.displayName)}.`);
  }
  const { old, next } = pair;
  const store = await storeFor(ctx, ctx.storeMode);
  const secret = ctx.storeMode === 'os' ? await store.get(keychainAccount(provider.id, user.id, next.id)) : null;
  if (secret === null || (next.lastChars !== null && !secret.endsWith(next.lastChars))) {
    throw new RotationConflictError(say`keyrot does not hold the plaintext of ${displayText(next.name)} (${displayText(next.id)}) here, so it can neither prove that key works nor hand it over.`, {
      hint: say`Restore the state directory of the run that created it (--state-dir), or delete it (keyrot revoke --user ${displayText(shellArg(user.email))} --key ${displayText(next.id)} --yes) and rotate again.`,
    });
  }
  ctx.out.protect(secret);
  const mode: RotationMode = options.emergency ? 'emergency' : 'standard';
  const record = newRotationRecord({
    id: randomUUID(),
    provider: provider.id,
    user,
    mode,
    oldKey: old,
    newName: next.name,
    expiresAt: next.expiresAt,
    preexistingKeyIds: keys.filter((k) => k.id !== next.id).map((k) => k.id),
    options: rotationOptionsFor(ctx, options, settings, mode, identity, user),
    now: ctx.now(),
  });
  // The key exists and is held: the rotation goes on from proving it, and hands it over again (hooks are idempotent).
  TRANSITIONS.adopt(record, { id: next.id, lastChars: secret.slice(-5) });
  await consentTo(
    ctx,
    Boolean(options.yes),
    `Adopt the rotation ${provider.displayName} shows for ${user.email}: ${next.name} replaces ${old.name}, which is revoked at the end?`,
    `Adopting the rotation revokes ${old.name} at the end`,
  );
  ctx.out.event('rotation.started', { rotationId: record.id, userId: user.id, userEmail: user.email, mode, oldKeyId: old.id, newKeyName: next.name, adopted: true });
  return runIn(ctx, session, record, store);
}

export async function finished(record: RotationRecord, journal: RotationJournal): Promise<RotateResult> {
  if (record.status === 'paused') return { kind: 'paused', record, journal: journal.pathFor(record.provider, record.userId) };
  return { kind: 'rotated', record, journal: await journal.archive(record) };
}

/**
 * What a rotation of one user needs beyond its flags: the provider and identity it runs with, the journal, the
 * --self target if any, and for a rotation inside a batch (rotate --all) the batch's own view of its output.
 */
export interface RotationSession {
  provider: Provider;
  identity: Identity;
  journal: RotationJournal;
  self: SelfTarget | null;
  view?: RotationView;
  /** The flags of this run (a person's minted key on stdin, ...), for the ports that need them. */
  options?: RotateOptions;
}

/** A batch's ports for one of its rotations: its live line, its events tagged with the user and key, its messages. */
export type RotationView = Pick<RotationPorts, 'startStep' | 'event' | 'note' | 'warn'>;

export type RotateSettings = ReturnType<typeof parseSettings>;

/** The user's unfinished rotation (call it under the user's lock); a damaged journal says what the provider shows. */
export async function activeRotation(ctx: Context, session: RotationSession, user: User): Promise<RotationRecord | null> {
  return session.journal.active(session.provider.id, user.id).catch((err: unknown) => explainDamagedJournal(ctx, session.provider, user, err));
}

/**
 * A journal that says done or rolled back, still where an unfinished rotation's sits (a run killed after its last
 * write, before it moved the journal aside): --resume and --abort finish that move, and say what the rotation was;
 * it is never taken up again. Under the user's lock. Null when the rotation is not finished.
 */
export async function finishedAlready(ctx: Context, session: RotationSession, active: RotationRecord): Promise<RotateResult | null> {
  if (active.status !== 'done' && active.status !== 'aborted') return null;
  const journal = await session.journal.archive(active);
  ctx.out.info(
    say`This rotation of ${displayText(active.userEmail)} had ${displayText(active.status === 'done' ? 'finished' : 'been rolled back')} already; its journal is moved to ${displayText(journal)}.`,
  );
  return { kind: active.status === 'done' ? 'rotated' : 'aborted', record: active, journal };
}

/** Continues an unfinished rotation from its journal (under the user's lock, with consent given). */
export async function resumeRotation(ctx: Context, session: RotationSession, active: RotationRecord, options: RotateOptions, settings: RotateSettings): Promise<RotateResult> {
  const finished = await finishedAlready(ctx, session, active);
  if (finished) return finished;
  // The journal remembers where the new key lives: --store given now or not.
  const store = await storeFor(ctx, active.options.store ?? 'os');
  // Resuming a --keep-old rotation means: the grace period is over, finish it.
  active.options.keepOld = false;
  applyResumeOverrides(active.options, options, settings);
  refuseResumeThatCannotFinish(ctx, session.provider, active);
  return runIn(ctx, session, active, store);
}

/**
 * A --resume that could never finish is refused before it changes or waits for anything: the wait still ahead with
 * nothing to show the switch (see refuseWithoutEvidence), or a --store none rotation that must prove its new key
 * before the revoke, with no copy of it in this process: only --check can.
 */
function refuseResumeThatCannotFinish(ctx: Context, provider: Provider, record: RotationRecord): void {
  const phases = PHASES[record.mode];
  const ahead = phases.slice(Math.max(0, phases.indexOf(record.phase)));
  const abort = canAbort(record) ? say`, or roll back with --abort` : say``;
  const hint = say`Pass --check CMD with --resume (a command that proves the consumers work with the new key)${abort}. Nothing was changed.`;
  if (ahead.includes('wait')) {
    try {
      refuseWithoutEvidence(ctx, provider, record.options, record.mode, Boolean(record.batchId));
    } catch (err) {
      if (err instanceof UsageError)
        err.hint = say`Pass --check CMD with --resume (a command that proves the consumers work with the new key), or --no-wait to revoke on your own word${abort}. Nothing was changed.`;
      throw err;
    }
  }
  // --self is the exception: the new key is the admin key this run authenticates with, proven by every call.
  // A new key nobody holds is deleted first and the rotation starts again from a new one, proven as it is made.
  if (
    record.options.store === 'none' &&
    record.userId !== SELF_USER_ID &&
    ahead.includes('revoke') &&
    !ahead.includes('create') &&
    record.options.check === null &&
    record.newKey.id !== null &&
    !newKeyUnheldWithoutStore(record)
  ) {
    throw new UsageError(say`keyrot keeps no copy of ${displayText(record.newKey.name)} (--store none): it cannot prove the new key works before revoking ${displayText(record.oldKey.name)}.`, {
      hint,
    });
  }
}

/** A fresh rotation, planned: every check made and the plan known; `launch` journals it and runs it. */
export interface PlannedRotation {
  plan: RotationPlan;
  launch(tie?: { id: string; batchId: string }): Promise<RotateResult>;
}

/**
 * Plans a fresh rotation of `user`'s key (`options.key`, else the one keyrot holds, the only one, or one asked for),
 * under the user's lock, and refuses what would go wrong (a stray next generation, a name taken). Changes nothing.
 */
export async function planRotation(
  ctx: Context,
  session: RotationSession,
  user: User,
  options: RotateOptions,
  settings: RotateSettings,
  /** --expires as given: undefined when absent, null for "never". The new key's expiry is newKeyExpiry's. */
  requested: Date | null | undefined,
  store: SecretStore,
): Promise<PlannedRotation> {
  const { provider, identity, self } = session;
  const keys = await provider.listKeys(user.id);
  // No journal here, yet the provider shows a key and its next generation side by side: another machine, or
  // a run whose state was lost (an ephemeral CI runner), is in the middle of rotating it. Never make a third.
  if (options.key === undefined && options.name === undefined) {
    const pair = unfinishedPairs(keys)[0];
    if (pair) throw strayNextGeneration(ctx, provider, user, pair.old, pair.next);
  }
  const oldKey = self
    ? self.oldKey(keys)
    : (dashboardKey(provider, keys, options.key) ?? (await chooseKey(ctx, keys, options.key, await heldAmong(ctx, store, provider.id, user.id, keys), user.email)));
  if (!self) await refuseAdminKeyAsOldKey(ctx, provider, identity, user, oldKey);
  // keyrot's own calls use the admin key, so waiting on its usage proves nothing; and a leaked admin key is
  // revoked as soon as the new one is installed, which is the standard order without the wait.
  const mode: RotationMode = options.emergency && !self ? 'emergency' : 'standard';
  const rotationOptions = rotationOptionsFor(ctx, options, self ? { ...settings, wait: false } : settings, mode, identity, user);
  // A batch weighs this once for all its keys (rotate-all.ts), before any of them.
  if (!options.all) refuseWithoutEvidence(ctx, provider, rotationOptions, mode, false);
  // A destination that can never take the key (no token, a repository the token cannot see) is refused now.
  for (const destination of parseTargets(rotationOptions.to, { env: ctx.env, signal: ctx.signal })) await destination.preflight();
  const successor = nextGenerationName(oldKey.name, []);
  const stray = options.name === undefined ? keys.find((k) => k.name === successor && k.id !== oldKey.id) : undefined;
  if (stray) throw strayNextGeneration(ctx, provider, user, oldKey, stray);
  const newName = options.name ?? successor;
  if (options.name === undefined && newName.length > 255) {
    throw new UsageError(say`The new key's name would be the old name with its generation bumped, ${newName.length} characters: ${displayText(provider.displayName)} allows 255.`, {
      hint: say`Pass --name with a shorter name.`,
    });
  }
  if (keys.some((k) => k.name === newName)) throw new UsageError(say`${displayText(user.email)} already has a key named "${displayText(newName)}": pick another --name.`);
  const expiry = newKeyExpiry({
    now: ctx.now(),
    oldExpiresAt: oldKey.expiresAt,
    recorded: await recordedCreation(ctx, provider.id, oldKey.id),
    requested,
    ...(options.expiringWithin !== undefined ? { policyWindowMs: parseSpan(options.expiringWithin, '--expiring-within') } : {}),
  });
  const expiresAt = expiry.expiresAt;
  return {
    plan: planOf(provider, user, mode, oldKey, newName, expiresAt, rotationOptions, expiry),
    async launch(tie) {
      const record = newRotationRecord({
        id: tie?.id ?? randomUUID(),
        provider: provider.id,
        user,
        mode,
        oldKey,
        newName,
        expiresAt,
        preexistingKeyIds: keys.map((k) => k.id),
        options: rotationOptions,
        now: ctx.now(),
        ...(tie ? { batchId: tie.batchId } : {}),
      });
      const event = session.view?.event ?? ((type, data) => ctx.out.event(type, data));
      event('rotation.started', { rotationId: record.id, userId: user.id, userEmail: user.email, mode, oldKeyId: oldKey.id, newKeyName: newName });
      await self?.prepare(store, record);
      await keepDashboardKey(ctx, provider, store, record);
      return runIn(ctx, session, record, store);
    },
  };
}

/** Runs (or resumes) `record` with this session's ports, then archives it (or, paused, leaves it for --resume). */
export async function runIn(ctx: Context, session: RotationSession, record: RotationRecord, store: SecretStore): Promise<RotateResult> {
  await session.self?.resume(store, record);
  return finished(await runReported(ctx, record, portsIn(ctx, session, store), session.journal), session.journal);
}

export function portsIn(ctx: Context, session: RotationSession, store: SecretStore): RotationPorts {
  const ports = { ...makePorts(ctx, session.provider, store, session.journal, session.options), ...session.view };
  // A batch hands keys over through --on-new-key or the keychain: nobody is asked to confirm each of them.
  if (session.view) {
    ports.confirmHandover = null;
    ports.confirmSwitch = null;
  }
  if (session.provider.operator) ports.adoptNewKey = (secret, record) => adoptDashboardKey(ctx, session.provider, secret, record);
  if (session.self) {
    ports.deliver = session.self.deliver(ports);
    // Clean-ups after a cancel go through the caller's own keys (/apikeys), like the rest of --self.
    const cleanup = ports.cleanupProvider;
    ports.cleanupProvider = async () => new OwnKeysProvider(await cleanup());
  }
  return ports;
}

export function makePorts(ctx: Context, provider: Provider, store: SecretStore, journal: RotationJournal, options: RotateOptions = {}): RotationPorts {
  const signal = ctx.signal;
  return {
    provider,
    cleanupProvider: () => ctx.cleanupProvider(),
    store,
    // Error messages end up in the record (lastError); any secret one quotes is masked before it reaches disk.
    save: (record) =>
      journal.save(ctx.out.cleanData(record)).catch((err: unknown) => {
        // The rotation stops before its next side effect and says what is live (explainFailure): exit 14.
        throw isKeyrotError(err) ? err : stateError(journal.pathFor(record.provider, record.userId), err);
      }),
    // Where the rotation stands (the old key untouched, or already revoked with --emergency) is added on the way up.
    runHook: (command, secret, env, timeoutMs, onStart) => runNewKeyHook(ctx, command, secret, env, timeoutMs, undefined, onStart),
    stopHook: (proc) => stopHookGroup(proc),
    async runCheck(command, env, timeoutMs) {
      const { outcome } = await runLogged(ctx, '--check', command, undefined, env, timeoutMs);
      return outcome.exitCode === 0 && !outcome.timedOut;
    },
    confirmHandover: ctx.interactive ? (message) => ctx.steps.whilePaused(() => ctx.prompts.confirm(message, '--on-new-key')) : null,
    confirmSwitch: ctx.interactive ? (message) => ctx.steps.whilePaused(() => ctx.prompts.confirm(message, '--check')) : null,
    async deliverTo(target, secret) {
      // Under GitHub Actions the runner masks the key in every later log line before the destination has it.
      if (inGithubActions(ctx.env)) ctx.out.workflowCommand(addMaskLine(secret));
      await parseTarget(target, { env: ctx.env, signal }).deliver(secret);
    },
    receiveKey: (instructions, name) => receiveKey(ctx, options, instructions, name),
    ...(ctx.providerFlag ? { invocation: `keyrot ${ctx.providerFlag} rotate` } : {}),
    ...(provider.operator ? { operatorFlow: dashboardFlow } : {}),
    rescue: (key, userId) => writeRescueFile(ctx.stateDir, provider.id, userId, key),
    // Vultr reports no creation date: keyrot's own record is what `audit` and `rotate --all --older-than` go by.
    keyCreated: (key, userId) =>
      ctx.keyIndex
        .add({ provider: provider.id, userId, keyId: key.id, name: key.name, createdAt: ctx.now().toISOString(), expiresAt: key.expiresAt?.toISOString() ?? null, lastChars: key.lastChars })
        .catch((err: unknown) =>
          ctx.out.warn(say`The new key is created and stored, but its creation time could not be recorded in ${displayText(ctx.stateDir)}: ${displayText((err as Error).message, 2000)}`),
        ),
    startStep: (label) => ctx.steps.start(label),
    event: (type, data) => ctx.out.event(type, data),
    // The engine's notes and warnings are plain strings (RotationPorts.note/warn): converting those ports is still to do.
    note: (m) => ctx.out.info(m),
    warn: (m) => ctx.out.warn(m),
    protect: (secret) => ctx.out.protect(secret),
    now: () => ctx.now(),
    async sleep(ms) {
      try {
        await delay(ms, undefined, { signal });
      } catch {
        throw signal.reason instanceof CancelledError ? signal.reason : new CancelledError(say`Cancelled.`);
      }
    },
    signal,
  };
}

/** A key a person minted: from --new-key-stdin, else a hidden prompt after the instructions; null with neither. */
export async function receiveKey(ctx: Context, options: RotateOptions, instructions: string, name: string): Promise<string | null> {
  if (options.newKeyStdin) {
    const key = (await ctx.readStdin()).split(/\r?\n/)[0]?.trim() ?? '';
    if (!key) throw new UsageError(say`--new-key-stdin: stdin was empty.`, { hint: say`Pipe the minted key in: printf %s "$KEY" | keyrot … --new-key-stdin` });
    return key;
  }
  if (!ctx.interactive) return null;
  return ctx.steps.whilePaused(async () => {
    // The provider's instructions name the keys: outside text, cleaned whole.
    ctx.out.info(displayText(instructions, 2000));
    return (await ctx.prompts.secret(`Paste the new key ${name} (input hidden)`, '--new-key-stdin')).trim() || null;
  });
}

/**
 * Runs the rotation and, however it ends, appends its summary to $GITHUB_STEP_SUMMARY when that is set. A create
 * the provider accepted without sending the key changed nothing (that key is deleted): the record is closed, so the
 * user is not told to resume a rotation that has nothing live.
 */
export async function runReported(ctx: Context, record: RotationRecord, ports: RotationPorts, journal: RotationJournal): Promise<RotationRecord> {
  const report = async () => {
    await appendStepSummary(ctx, rotationSummaryMarkdown(record));
    // A batch's rotations are reported by the batch, once (rotate-all.ts).
    if (!record.batchId) await writeJobOutputs(ctx, rotationOutputs(record));
  };
  try {
    const done = await runRotation(record, ports);
    await report();
    return done;
  } catch (err) {
    if (nothingCreated(record, err)) {
      TRANSITIONS.close(record);
      await journal.save(record);
      await journal.archive(record);
    }
    await report();
    throw err;
  }
}

/**
 * --abort of `active` (under the user's lock, with consent given): where the key keyrot runs with came from is put
 * back first (--self, a dashboard-minted key), then the new key is deleted. Returns the archived result.
 */
export async function abortActive(ctx: Context, session: RotationSession, active: RotationRecord): Promise<RotateResult> {
  // The journal remembers where the new key lives: --store given now or not.
  const store = await storeFor(ctx, active.options.store ?? 'os');
  const ports = portsIn(ctx, session, store);
  ports.beforeAbort = async (record) => {
    await session.self?.restore(store, record);
    await restoreDashboardAdmin(ctx, session.provider, store, record);
  };
  const record = await abortRotation(active, ports);
  return { kind: 'aborted', record, journal: await session.journal.archive(record) };
}

/** keyrot's own record of a key's creation (its key index), for the lifetime rule; null when it has none. */
async function recordedCreation(ctx: Context, providerId: string, keyId: string): Promise<{ createdAt: string; expiresAt: string | null } | null> {
  const records = await ctx.keyIndex.all().catch(() => []);
  return records.find((r) => r.provider === providerId && r.keyId === keyId) ?? null;
}
