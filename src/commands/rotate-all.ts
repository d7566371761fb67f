// keyrot rotate --all: the keys a policy picks, across users, each rotated by the same journaled rotation as
// `keyrot rotate --user U --key K` (planRotation/resumeRotation of rotate.ts, under the user's lock, with its hooks and
// guarantees), several at once, all drawing on the one rate limiter of the API. A batch record ties the rotations
// together, so `keyrot rotate --all --resume` after a crash finishes every one of them.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Context } from '../cli/context.js';
import { parseExpiry, parseSpan } from '../core/duration.js';
import { maskFromLastChars, sanitizeForDisplay } from '../core/mask.js';
import { mapBounded } from '../core/pool.js';
import { nextGenerationName } from '../core/naming.js';
import { shellArg } from '../core/shell-arg.js';
import { PHASE_LABELS, summaryData, type RotationRecord } from '../core/rotation.js';
import { globToRegExp, hasPolicy, whySelected, type SelectionPolicy } from '../core/selection.js';
import { CancelledError, ExitCode, NotFoundError, RotationConflictError, UsageError, isKeyrotError, type ExitCodeValue } from '../errors.js';
import { BatchJournal, type BatchItem, type BatchRecord, type BatchSettings } from '../journal/batches.js';
import { acquireUserLock } from '../journal/lock.js';
import { stateError } from '../journal/state-dir.js';
import { RotationJournal } from '../journal/rotations.js';
import { probeWritable } from '../keychain/secret-store.js';
import type { ApiKey, User } from '../providers/types.js';
import { createBatchProgress, type BatchTask } from '../ui/batch-progress.js';
import { targetList } from '../destinations/index.js';
import { writeJobOutputs } from '../ui/github.js';
import { renderTable } from '../ui/table.js';
import { isAdmin, knownCreations, listUsersOnce, scanUsers, withManageUsers } from './account-scan.js';
import { pickUser } from './resolve.js';
import {
  CONFIRM_HAND_OVER_STEP,
  refuseWithoutEvidence,
  activeRotation,
  parseSettings,
  planRotation,
  resumeRotation,
  type RotateOptions,
  type RotateResult,
  type RotateSettings,
  type RotationSession,
} from '../session/rotation.js';
import { consentTo } from './consent.js';
import { parseTargetsEarly, requireHookWithoutStore, storeFor } from './hand-over.js';
import { withUserLock } from './user-lock.js';
import type { CommandModule } from './types.js';
import { say, displayText, displayLines, joinDisplay, type DisplayText } from '../ui/display-text.js';

/** Rotations under way at once by default: the rate limiter, not this, sets the pace of requests. */
const DEFAULT_CONCURRENCY = 10;
const MAX_CONCURRENCY = 100;
/** The pseudo user whose lock is the batch's: one batch of a provider at a time (user ids are never "batch"). */
const BATCH_LOCK_ID = 'batch';

export interface BatchPlanItem {
  userId: string;
  userEmail: string;
  keyId: string;
  keyName: string;
  /** Why the policy picked it ("expires in 5 days"). */
  why: string;
  newKeyName: string | null;
  /** The real run would stop this key's rotation with this error (the others go on). */
  problem: string | null;
}

export interface BatchItemResult {
  userId: string;
  userEmail: string;
  keyId: string;
  keyName: string;
  status: BatchItem['status'];
  newKey: { id: string | null; name: string; maskedKey: string } | null;
  error: { code: string; message: string; hint?: string } | null;
  rotation: Record<string, unknown> | null;
}

/** A check the real run makes before any change, and would stop on: its error as the real run would give it. */
export interface FailedPreflight {
  check: string;
  error: { code: string; exitCode: ExitCodeValue; message: string; hint?: string };
}

export type BatchResult =
  | { kind: 'batch-planned'; items: BatchPlanItem[]; left: DisplayText[]; steps: string[]; preflight: string[]; preflightFailed: FailedPreflight[]; nothing: DisplayText | null }
  // `nothing` (and an empty `items`): the policy selected no key, so no batch was started (`left`: users left out).
  | { kind: 'batch'; batchId: string; resumed: boolean; cancelled: boolean; items: BatchItemResult[]; record: string; finished: boolean; nothing?: DisplayText; left?: DisplayText[] };

const batchCommand: CommandModule<RotateOptions, BatchResult> = {
  emitsEvents: true,

  async run(options, ctx) {
    refuseSingleFlags(options);
    const policy = parsePolicy(options);
    const concurrency = parseConcurrency(options.concurrency);
    const wanted = await wantedUsers(options);
    if (options.resume && (hasPolicy(policy) || policy.match || wanted.length)) {
      throw new UsageError(say`--all --resume continues the unfinished batch as it was selected: it takes no selection flags.`);
    }
    const settings = parseSettings(options);
    if (options.expires !== undefined) parseExpiry(options.expires, ctx.now());
    if (!options.resume) requireHookWithoutStore(ctx, options.onNewKey, parseTargetsEarly(ctx, options));
    const provider = await ctx.provider();
    const identity = await provider.whoami();
    const batches = new BatchJournal(ctx.stateDir);
    const session: RotationSession = { provider, identity, journal: new RotationJournal(ctx.stateDir), self: null };
    const evidence = () =>
      refuseWithoutEvidence(
        ctx,
        provider,
        { check: options.check ?? null, noWait: !settings.wait, keepOld: Boolean(options.keepOld), onNewKey: options.onNewKey ?? null, to: targetList(options.to), usageSignalUsable: true },
        'standard',
        true,
      );
    if (options.dryRun) return planBatch(ctx, session, batches, policy, wanted, options, settings, evidence);
    if (!options.resume) evidence();
    const lock = await acquireUserLock(ctx.stateDir, provider.id, BATCH_LOCK_ID, 'a batch rotation (rotate --all)').catch((err: unknown) => {
      // Nothing was changed yet: a state directory keyrot cannot write is refused up front (exit 14).
      throw isKeyrotError(err) ? err : stateError(ctx.stateDir, err);
    });
    try {
      const unfinished = await batches.active(provider.id);
      if (options.resume) {
        if (!unfinished) throw new NotFoundError(say`No unfinished batch rotation to resume here (state in ${displayText(ctx.stateDir)}).`, { hint: say`Start one with keyrot rotate --all.` });
        return await resumeBatch(ctx, session, batches, unfinished, options, concurrency);
      }
      if (unfinished) throw unfinishedBatch(batches, unfinished);
      const { items, left, nothing } = await select(ctx, session, policy, wanted);
      // A scheduled run on a night when nothing is due is a success, not bad input.
      if (nothing !== null) return { kind: 'batch', batchId: '', resumed: false, cancelled: false, items: [], record: '', finished: true, nothing, left };
      for (const note of left) ctx.out.info(note);
      const names = distinctNewNames(items);
      for (const note of names.notes) ctx.out.info(note);
      const store = await storeFor(ctx, ctx.storeMode);
      if (ctx.storeMode === 'os') await probeWritable(store);
      await consentToBatch(ctx, items, Boolean(options.yes));
      const record: BatchRecord = {
        version: 1,
        id: randomUUID(),
        provider: provider.id,
        startedAt: ctx.now().toISOString(),
        updatedAt: ctx.now().toISOString(),
        settings: settingsOf(options, ctx.storeMode),
        items: items.map((i) => {
          const newName = names.byKeyId.get(i.key.id);
          return { userId: i.user.id, userEmail: i.user.email, keyId: i.key.id, keyName: i.key.name, rotationId: null, status: 'pending', error: null, newKey: null, ...(newName ? { newName } : {}) };
        }),
      };
      await batches.save(record);
      ctx.out.event('batch.started', { batchId: record.id, keys: record.items.length, users: new Set(items.map((i) => i.user.id)).size });
      const users = new Map(items.map((i) => [i.user.id, i.user]));
      return await runBatch(ctx, session, batches, record, options, settings, concurrency, users, false);
    } finally {
      await lock.release();
    }
  },

  render(result, ctx) {
    if (result.kind === 'batch' && result.nothing) {
      if (ctx.out.events) ctx.out.event('batch.done', batchJson(result));
      else ctx.out.data(joinDisplay([result.nothing, ...(result.left ?? [])], '\n'));
      return;
    }
    if (ctx.out.events) {
      if (result.kind === 'batch-planned') ctx.out.event('batch.planned', { keys: result.items, steps: result.steps, preflight: result.preflight, preflightFailed: result.preflightFailed });
      else ctx.out.event('batch.done', batchJson(result));
      return;
    }
    if (result.kind === 'batch-planned') {
      ctx.out.data(renderBatchPlan(result, ctx.out.stdoutColumns));
      return;
    }
    const s = ctx.out.style;
    const table = displayLines(
      renderTable(
        result.items,
        [
          { header: 'USER', value: (i) => i.userEmail, key: true },
          { header: 'KEY', value: (i) => i.keyName, key: true },
          { header: 'NEW KEY', value: (i) => (i.newKey ? `${i.newKey.name} ${i.newKey.maskedKey}` : '-') },
          { header: 'OUTCOME', value: (i) => OUTCOME_WORDS[i.status] },
          { header: 'DETAIL', value: (i) => (i.error ? i.error.message : i.status === 'done' ? 'old key revoked' : '-') },
        ],
        ctx.out.stdoutColumns,
      ),
    );
    const rows = table.slice(1).map((line, n) => {
      const status = result.items[n]?.status;
      return status === 'done' ? s.green(line) : status === 'failed' ? s.red(line) : status === 'gone' ? s.yellow(line) : line;
    });
    const counts = countOf(result.items);
    const next = nextStep(result);
    ctx.out.data(
      joinDisplay(
        [
          table[0] ?? say``,
          ...rows,
          say``,
          say`${counts.done} rotated, ${counts.failed} failed, ${counts.pending} not started${counts.gone ? say`, ${counts.gone} gone (rotated or revoked outside the batch)` : say``}, of ${result.items.length} ${plural(result.items.length, 'key')}.`,
          ...result.items.filter((i) => i.error?.hint).map((i) => say`  ${displayText(i.userEmail)} ${displayText(i.keyName)}: ${displayText(i.error?.hint ?? '', 2000)}`),
          // A batch that stopped short says Next once, in its closing message (outcome): not here as well.
          ...(next && !stoppedShort(result) ? [say`Next: ${displayText(next, 2000)}`] : []),
        ],
        '\n',
      ),
    );
  },

  toJson(result) {
    if (result.kind === 'batch-planned')
      return { dryRun: true, keys: result.items, left: result.left, steps: result.steps, preflight: result.preflight, preflightFailed: result.preflightFailed, nothing: result.nothing };
    return batchJson(result);
  },

  outcome(result) {
    if (result.kind === 'batch-planned') return plannedOutcome(result);
    if (result.kind !== 'batch') return undefined;
    const counts = countOf(result.items);
    const next = nextStep(result);
    const tail = next ? say` Next: ${displayText(next, 2000)}` : say``;
    if (result.cancelled) return { exitCode: ExitCode.cancelled, message: say`Cancelled: ${counts.done} of ${result.items.length} keys rotated.${tail}` };
    if (!stoppedShort(result)) return undefined;
    const code: ExitCodeValue = counts.done === 0 ? ExitCode.batchFailed : ExitCode.batchPartial;
    return { exitCode: code, message: say`${counts.done} of ${result.items.length} keys rotated; ${result.items.length - counts.done - counts.gone} not.${tail}` };
  },
};

/** $GITHUB_OUTPUT of a batch: how it ended, the counts, and each rotation's keys (ids and names, never a plaintext). */
function batchOutputs(result: Extract<BatchResult, { kind: 'batch' }>): Record<string, string> {
  const items = result.items;
  const counts = countOf(items);
  return {
    outcome: String(batchJson(result).outcome),
    keys: String(items.length),
    rotated: String(counts.done),
    failed: String(counts.failed),
    rotations: JSON.stringify(
      items.map((i) => ({ userId: i.userId, userEmail: i.userEmail, oldKeyId: i.keyId, newKeyId: i.newKey?.id ?? null, newKeyName: i.newKey?.name ?? null, outcome: i.status })),
    ),
  };
}

/** rotate --all; under GitHub Actions its outcome also goes to $GITHUB_OUTPUT for later steps (not a dry run's). */
export const rotateAllCommand: CommandModule<RotateOptions, BatchResult> = {
  ...batchCommand,
  async run(options, ctx) {
    const result = await batchCommand.run(options, ctx);
    if (result.kind === 'batch') await writeJobOutputs(ctx, batchOutputs(result));
    return result;
  },
};

const OUTCOME_WORDS: Record<BatchItem['status'], string> = { done: 'rotated', failed: 'FAILED', pending: 'not started', gone: 'gone' };

interface Candidate {
  user: User;
  key: ApiKey;
  why: string;
}

// ---------------------------------------------------------------------------------------------------------
// Flags

function refuseSingleFlags(options: RotateOptions): void {
  const single: Array<[keyof RotateOptions, string]> = [
    ['key', '--key'],
    ['name', '--name'],
    ['self', '--self'],
    ['abort', '--abort'],
    ['emergency', '--emergency'],
    ['keepOld', '--keep-old'],
  ];
  for (const [option, flag] of single) {
    if (options[option] !== undefined && options[option] !== false) {
      throw new UsageError(say`${displayText(flag)} is for the rotation of one key: it cannot be combined with --all.`, {
        hint: say`--all picks keys by --expiring-within, --never-expiring, --older-than, --user, --users-file and --match; each gets its next generation.`,
      });
    }
  }
}

function parsePolicy(options: RotateOptions): SelectionPolicy {
  if (options.match !== undefined && options.match.trim() === '') throw new UsageError(say`--match is empty: give a pattern such as "deploy-*".`);
  return {
    expiringWithinMs: options.expiringWithin === undefined ? null : parseSpan(options.expiringWithin, '--expiring-within'),
    neverExpiring: Boolean(options.neverExpiring),
    olderThanMs: options.olderThan === undefined ? null : parseSpan(options.olderThan, '--older-than'),
    match: options.match === undefined ? null : globToRegExp(options.match),
  };
}

function parseConcurrency(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CONCURRENCY;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_CONCURRENCY)
    throw new UsageError(say`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}; got "${displayText(sanitizeForDisplay(text, 40))}".`);
  return n;
}

/** --user (repeated) and --users-file (one id or e-mail a line; # comments): the users to pick keys from. */
async function wantedUsers(options: RotateOptions): Promise<string[]> {
  const given = options.user === undefined ? [] : Array.isArray(options.user) ? options.user : [options.user];
  let fromFile: string[] = [];
  if (options.usersFile !== undefined) {
    let text: string;
    try {
      text = await readFile(options.usersFile, 'utf8');
    } catch (err) {
      throw new UsageError(say`--users-file: cannot read ${displayText(sanitizeForDisplay(options.usersFile, 200))}: ${displayText((err as NodeJS.ErrnoException).code ?? (err as Error).message)}.`);
    }
    fromFile = text
      .split(/\r?\n/)
      .map((l) => l.replace(/#.*/, '').trim())
      .filter(Boolean);
    if (fromFile.length === 0) throw new UsageError(say`--users-file ${displayText(sanitizeForDisplay(options.usersFile, 200))} names no user.`);
  }
  const all = [...given, ...fromFile].map((u) => u.trim());
  if (all.some((u) => u === '')) throw new UsageError(say`--user is empty: give a user id or an e-mail address.`);
  return all;
}

function settingsOf(options: RotateOptions, store: 'os' | 'none'): BatchSettings {
  return {
    onNewKey: options.onNewKey ?? null,
    check: options.check ?? null,
    expires: options.expires ?? null,
    noWait: options.wait === false,
    waitTimeout: options.waitTimeout ?? null,
    pollInterval: options.pollInterval ?? null,
    hookTimeout: options.hookTimeout ?? null,
    store,
    ...(targetList(options.to).length ? { to: targetList(options.to) } : {}),
  };
}

/** The batch's flags, with any given again on the resume's command line in their place (a fixed hook, a longer wait). */
function resumedOptions(saved: BatchSettings, options: RotateOptions): RotateOptions {
  return {
    ...options,
    onNewKey: options.onNewKey ?? saved.onNewKey ?? undefined,
    check: options.check ?? saved.check ?? undefined,
    expires: options.expires ?? saved.expires ?? undefined,
    wait: options.wait === false || saved.noWait ? false : options.wait,
    waitTimeout: options.waitTimeout ?? saved.waitTimeout ?? undefined,
    pollInterval: options.pollInterval ?? saved.pollInterval ?? undefined,
    hookTimeout: options.hookTimeout ?? saved.hookTimeout ?? undefined,
    to: options.to ?? saved.to,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Selection

/**
 * The keys the policy picks, users in account order. Leaves out, and says why: the admin key's own user (its keys
 * rotate with --self), users with an unfinished rotation (finish it first). `nothing` says why when none is picked.
 */
async function select(ctx: Context, session: RotationSession, policy: SelectionPolicy, wanted: string[]): Promise<{ items: Candidate[]; left: DisplayText[]; nothing: DisplayText | null }> {
  const { provider, identity } = session;
  const users = await listUsersOnce(identity, provider);
  const chosen = wanted.length ? pickUsers(users, wanted) : users;
  const scanned = await withManageUsers(identity, () =>
    scanUsers(
      ctx,
      provider,
      chosen.filter((u) => !isAdmin(u, identity)),
      false,
    ),
  );
  const creations = policy.olderThanMs === null ? new Map<string, string>() : await knownCreations(ctx, provider.id);
  const unfinished = new Map((await session.journal.allActive()).filter((r) => r.provider === provider.id).map((r) => [r.userId, r]));
  const now = ctx.now();
  const items: Candidate[] = [];
  const left: DisplayText[] = [];
  const selfHow = provider.ownKeys ? say`rotate its key with keyrot rotate --self` : say`rotate its keys with an admin key of another account, or in ${displayText(provider.displayName)} itself`;
  for (const admin of chosen.filter((u) => isAdmin(u, identity))) left.push(say`Left out: ${displayText(admin.email)} is the admin key's own user (${selfHow}).`);
  for (const { user, keys } of scanned) {
    const due = keys.flatMap((key) => {
      const why = whySelected(key, creations.get(key.id), policy, now);
      return why === null ? [] : [{ user, key, why }];
    });
    const record = unfinished.get(user.id);
    if (due.length && record) {
      left.push(
        say`Left out: ${displayText(user.email)} has an unfinished rotation (${displayText(record.oldKey.name)} → ${displayText(record.newKey.name)}, stopped at "${displayText(PHASE_LABELS[record.phase])}"): finish it first with keyrot rotate --user ${displayText(shellArg(user.email))} --resume.`,
      );
      continue;
    }
    items.push(...due);
  }
  const known = policy.olderThanMs !== null ? say` (--older-than only picks keys whose creation keyrot recorded: ${creations.size} here)` : say``;
  const nothing = items.length ? null : say`No key matches the selection${known}: nothing to rotate. (keyrot audit shows every key and what is due.)`;
  return { items, left, nothing };
}

/**
 * The users named by --user / --users-file, each found as `rotate --user` finds one (an exact id or e-mail first; one
 * that matches several only ignoring case is a usage error listing them); one unknown is not found (exit 5), before any
 * change.
 */
function pickUsers(users: readonly User[], wanted: readonly string[]): User[] {
  const picked = new Set(wanted.map((name) => pickUser(users, name).id));
  return users.filter((u) => picked.has(u.id));
}

function batchConsentWhat(keys: number): string {
  return `Rotating ${keys} key${keys === 1 ? '' : 's'} revokes each old key`;
}

async function consentToBatch(ctx: Context, items: Candidate[], yes: boolean): Promise<void> {
  const users = new Set(items.map((i) => i.user.id)).size;
  if (!yes && ctx.interactive) {
    ctx.out.info(
      joinDisplay(
        [
          say`Selected ${items.length} ${plural(items.length, 'key')} of ${users} ${plural(users, 'user')}:`,
          renderTable(
            items,
            [
              { header: 'USER', value: (i) => i.user.email, key: true },
              { header: 'KEY', value: (i) => i.key.name, key: true },
              { header: 'WHY', value: (i) => i.why },
            ],
            ctx.out.stderrColumns,
          ),
        ],
        '\n',
      ),
    );
  }
  await consentTo(
    ctx,
    yes,
    `Rotate these ${items.length} keys? Each old key is revoked once its successor is handed over.`,
    batchConsentWhat(items.length),
    say`Add --dry-run to see the selection and the plan first.`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Running

async function resumeBatch(ctx: Context, session: RotationSession, batches: BatchJournal, record: BatchRecord, options: RotateOptions, concurrency: number): Promise<BatchResult> {
  if (record.settings.store !== ctx.storeMode) {
    throw new UsageError(say`This batch was started with --store ${displayText(`${record.settings.store}`)}: resume it with --store ${displayText(`${record.settings.store}`)}.`);
  }
  const merged = resumedOptions(record.settings, options);
  const settings = parseSettings(merged);
  const open = record.items.filter((i) => !settled(i));
  await consentTo(
    ctx,
    Boolean(options.yes),
    `Resume the batch started ${record.startedAt}: ${open.length} of ${record.items.length} keys still to rotate (each old key is revoked at the end)?`,
    `Resuming the batch revokes the old keys of ${open.length} rotation${open.length === 1 ? '' : 's'}`,
  );
  ctx.out.event('batch.resumed', { batchId: record.id, keys: record.items.length, open: open.length });
  return runBatch(ctx, session, batches, record, merged, settings, concurrency, new Map(), true);
}

/**
 * Runs every item not done yet, a user's keys one after another (one rotation per user at a time: its journal and lock
 * are per user), users `concurrency` at once. A failure stops only its own rotation unless --fail-fast, which starts no
 * new one. Every item's end is saved in the batch record; the record goes to history once every key is rotated.
 */
async function runBatch(
  ctx: Context,
  session: RotationSession,
  batches: BatchJournal,
  record: BatchRecord,
  options: RotateOptions,
  settings: RotateSettings,
  concurrency: number,
  users: Map<string, User>,
  resumed: boolean,
): Promise<BatchResult> {
  const open = record.items.filter((i) => !settled(i));
  const groups = new Map<string, BatchItem[]>();
  for (const item of open) groups.set(item.userId, [...(groups.get(item.userId) ?? []), item]);
  let saveFailure: unknown;
  const run: BatchRun = {
    batches,
    record,
    options,
    settings,
    users,
    finishedEarlier: resumed ? await session.journal.archivedOfBatch(record.id) : new Map(),
    resumed,
    saved: (write) => void write.catch((err: unknown) => (saveFailure ??= err)),
  };
  const progress = createBatchProgress(ctx.out, ctx.interactive && !ctx.out.quiet, open.length);
  let stop = false;
  try {
    await mapBounded([...groups.values()], concurrency, async (group) => {
      for (const item of group) {
        if (stop || ctx.signal.aborted) return;
        await rotateItem(ctx, session, run, item, progress.begin(`${item.userEmail} ${item.keyName}`));
        if (item.status === 'failed' && options.failFast) stop = true;
      }
    });
  } finally {
    progress.close();
  }
  try {
    await batches.save(record);
  } catch (err) {
    saveFailure ??= err;
  }
  // Each rotation's own journal says what is live; the batch record only ties them. A resume finds them without it.
  if (saveFailure)
    ctx.out.warn(
      say`The batch record ${displayText(batches.pathFor(record.provider))} could not be written (${displayText((saveFailure as Error).message, 2000)}): each rotation's journal still says where it stopped.`,
    );
  const finished = record.items.every(settled);
  const path = finished ? await batches.archive(record) : batches.pathFor(record.provider);
  return {
    kind: 'batch',
    batchId: record.id,
    resumed,
    cancelled: ctx.signal.aborted,
    record: path,
    finished,
    items: record.items.map((i) => itemResult(i, results.get(i))),
  };
}

/** Nothing left to do for an item: rotated, or its key gone from the provider. */
function settled(item: BatchItem): boolean {
  return item.status === 'done' || item.status === 'gone';
}

/** A batch item whose key the provider no longer lists: rotated or revoked outside the batch. */
class ItemGone extends Error {
  constructor(item: BatchItem, why = 'it was rotated or revoked outside this batch') {
    super(`${item.keyName} is no longer listed: ${why}, so there is nothing left to do for it.`);
  }
}

/** The summaries of this run's rotations, by item (a rotation finished by an earlier run has none here). */
const results = new WeakMap<BatchItem, RotateResult>();

/** What every rotation of one run of a batch shares. */
interface BatchRun {
  batches: BatchJournal;
  record: BatchRecord;
  options: RotateOptions;
  settings: RotateSettings;
  users: Map<string, User>;
  /** Rotations of this batch that finished in an earlier run, by the old key's id. */
  finishedEarlier: Map<string, RotationRecord>;
  /** A --resume: a key may have been rotated or revoked outside the batch since it was selected. */
  resumed: boolean;
  /**
   * Takes a save of the batch record that nobody waits for: the rotations' own journals are the truth, the record only
   * ties them, and the run waits for the last save at its end. The first failure is kept, to be told then.
   */
  saved(write: Promise<void>): void;
}

async function rotateItem(ctx: Context, base: RotationSession, run: BatchRun, item: BatchItem, task: BatchTask): Promise<void> {
  const { batches, record, options, settings, users, finishedEarlier, resumed, saved } = run;
  const tag = { user: { id: item.userId, email: item.userEmail }, key: { id: item.keyId, name: item.keyName } };
  let failureTold = false;
  const session: RotationSession = {
    ...base,
    view: {
      startStep: (label) => task.startStep(label),
      note: (m) => task.note(m),
      warn: (m) => task.warn(m),
      event: (type, data) => {
        if (type === 'rotation.failed') failureTold = true;
        ctx.out.event(type, { ...data, ...tag });
      },
    },
  };
  try {
    const user =
      users.get(item.userId) ??
      (await base.provider.getUser(item.userId).catch((err: unknown) => {
        // A user deleted since the batch began has no key left to rotate.
        throw resumed && err instanceof NotFoundError ? new ItemGone(item, `its user ${item.userEmail} no longer exists`) : err;
      }));
    const result = await withUserLock(ctx, base.provider, user, async (): Promise<RotateResult> => {
      const active = await activeRotation(ctx, session, user);
      if (active) {
        if (active.batchId === record.id && active.oldKey.id === item.keyId) return resumeRotation(ctx, session, active, options, settings);
        throw new RotationConflictError(
          say`${displayText(user.email)} has an unfinished rotation (${displayText(active.oldKey.name)} → ${displayText(active.newKey.name)}) that is not part of this batch.`,
          {
            hint: say`Finish it first (keyrot rotate --user ${displayText(shellArg(user.email))} --resume, or --abort), then keyrot rotate --all --resume.`,
          },
        );
      }
      // Killed after the rotation finished but before the batch record said so: it is done.
      const earlier = finishedEarlier.get(item.keyId);
      if (earlier?.status === 'done') return { kind: 'rotated', record: earlier, journal: '' };
      // Rotated or revoked outside the batch since it was selected: nothing left to do for it, said as such.
      if (resumed && !(await base.provider.listKeys(user.id)).some((k) => k.id === item.keyId)) throw new ItemGone(item);
      const expiresAt = options.expires === undefined ? undefined : parseExpiry(options.expires, ctx.now());
      const planned = await planRotation(ctx, session, user, { ...options, user: user.id, key: item.keyId, name: item.newName }, settings, expiresAt, await storeFor(ctx, ctx.storeMode));
      // The rotation's journal carries the batch and the old key: a resume finds it by them, so the batch record
      // need not be on disk before the rotation starts.
      item.rotationId = randomUUID();
      saved(batches.save(record));
      return planned.launch({ id: item.rotationId, batchId: record.id });
    });
    results.set(item, result);
    const r = 'record' in result ? result.record : null;
    if (r) item.rotationId = r.id;
    item.status = 'done';
    item.error = null;
    item.newKey = r ? { id: r.newKey.id, name: r.newKey.name } : null;
    task.finish('ok', say`${displayText(item.userEmail)} ${displayText(item.keyName)} → ${displayText(item.newKey?.name ?? '?')}`);
  } catch (err) {
    if (err instanceof ItemGone) {
      item.status = 'gone';
      item.error = null;
      ctx.out.event('rotation.skipped', { reason: 'gone', ...tag });
      task.finish('ok', say`${displayText(item.userEmail)} ${displayText(item.keyName)}: ${displayText(err.message, 2000)}`);
      saved(batches.save(record));
      return;
    }
    const known = isKeyrotError(err);
    item.status = err instanceof CancelledError && item.rotationId === null ? 'pending' : 'failed';
    item.error = { code: known ? err.code : 'internal', message: err instanceof Error ? err.message : String(err), ...(known && err.hint ? { hint: err.hint } : {}) };
    if (!failureTold) ctx.out.event('rotation.failed', { error: { code: item.error.code, message: item.error.message }, ...tag });
    task.finish('failed', say`${displayText(item.userEmail)} ${displayText(item.keyName)}: ${displayText(item.error.message, 2000)}`);
  }
  saved(batches.save(record));
}

function itemResult(item: BatchItem, result: RotateResult | undefined): BatchItemResult {
  const record = result && 'record' in result ? result.record : null;
  return {
    userId: item.userId,
    userEmail: item.userEmail,
    keyId: item.keyId,
    keyName: item.keyName,
    status: item.status,
    newKey: item.newKey ? { id: item.newKey.id, name: item.newKey.name, maskedKey: maskFromLastChars(record?.newKey.lastChars ?? null) } : null,
    error: item.error,
    rotation: record ? summaryData(record) : null,
  };
}

function countOf(items: readonly BatchItemResult[]): Record<BatchItem['status'], number> {
  const counts = { done: 0, failed: 0, pending: 0, gone: 0 };
  for (const i of items) counts[i.status]++;
  return counts;
}

/** How to go on after this run, or null when the batch is finished. */
/** Cancelled, or keys left neither rotated nor gone (a key gone from the provider is nothing left to do). */
function stoppedShort(result: Extract<BatchResult, { kind: 'batch' }>): boolean {
  const counts = countOf(result.items);
  return result.cancelled || counts.done + counts.gone !== result.items.length;
}

function nextStep(result: Extract<BatchResult, { kind: 'batch' }>): string | null {
  return result.finished ? null : 'keyrot rotate --all --resume finishes every unfinished rotation of this batch.';
}

function batchJson(result: Extract<BatchResult, { kind: 'batch' }>): Record<string, unknown> {
  const counts = countOf(result.items);
  // A run that selected nothing: a batch of no keys, done, that never existed (no id, no record).
  if (result.nothing)
    return { batchId: null, outcome: 'nothing-selected', resumed: false, counts: { keys: 0, ...counts }, record: null, next: null, rotations: [], left: result.left ?? [], message: result.nothing };
  const outcome = result.cancelled ? 'cancelled' : counts.done + counts.gone === result.items.length ? 'done' : counts.done === 0 ? 'failed' : 'partial';
  return { batchId: result.batchId, outcome, resumed: result.resumed, counts: { keys: result.items.length, ...counts }, record: result.record, next: nextStep(result), rotations: result.items };
}

function unfinishedBatch(batches: BatchJournal, record: BatchRecord): RotationConflictError {
  const open = record.items.filter((i) => !settled(i)).length;
  const path = batches.pathFor(record.provider);
  return new RotationConflictError(
    say`An unfinished batch rotation (started ${displayText(record.startedAt)}, ${open} of ${record.items.length} keys not rotated) is recorded in ${displayText(path)}.`,
    {
      hint: say`Finish it: keyrot rotate --all --resume. To drop it instead, set that file aside (mv '${displayText(path)}' '${displayText(path)}.dropped'): the rotations it started keep their own journals.`,
    },
  );
}

// ---------------------------------------------------------------------------------------------------------
// --dry-run

/** The selection, each key's plan and what would stop it, and the batch's preflight. Changes nothing. */
/**
 * Vultr allows a user two keys of one name (its create takes any name), and each would become NAME-v2: the second
 * would then find NAME-v2 made by the first and stop. The second and later of a user's selected keys of one name get
 * the next free generations instead (NAME-v3, …), chosen before any change and said once.
 */
export function distinctNewNames(items: ReadonlyArray<{ user: User; key: ApiKey }>): { byKeyId: Map<string, string>; notes: DisplayText[] } {
  const groups = new Map<string, Array<{ user: User; key: ApiKey }>>();
  for (const item of items) {
    const group = `${item.user.id}\0${item.key.name}`;
    groups.set(group, [...(groups.get(group) ?? []), item]);
  }
  const byKeyId = new Map<string, string>();
  const notes: DisplayText[] = [];
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const taken: string[] = [];
    for (const [n, { key }] of group.entries()) {
      const name = nextGenerationName(key.name, taken);
      taken.push(name);
      if (n > 0) byKeyId.set(key.id, name);
    }
    const first = group[0]!;
    notes.push(
      say`${displayText(first.user.email)} has ${group.length} keys named ${displayText(first.key.name)} (${joinDisplay(group.map((g) => displayText(g.key.id)))}): each gets a name of its own, ${joinDisplay(group.map((g, n) => say`${displayText(g.key.id)} → ${displayText(taken[n]!)}`))}.`,
    );
  }
  return { byKeyId, notes };
}

async function planBatch(
  ctx: Context,
  session: RotationSession,
  batches: BatchJournal,
  policy: SelectionPolicy,
  wanted: string[],
  options: RotateOptions,
  settings: RotateSettings,
  evidence: () => void,
): Promise<BatchResult> {
  const { provider, identity } = session;
  const { items, left, nothing } = await select(ctx, session, policy, wanted);
  const names = distinctNewNames(items);
  const store = await storeFor(ctx, ctx.storeMode);
  const expiresAt = options.expires === undefined ? undefined : parseExpiry(options.expires, ctx.now());
  let steps: string[] = [];
  // A keychain that cannot be written is said once, as a failed preflight line below; each key's plan then reads an
  // empty store rather than meet the same failure again, so the selection and the plan are still shown.
  let planStore = store;
  if (ctx.storeMode === 'os') await probeWritable(store).catch(async () => void (planStore = await storeFor(ctx, 'none')));
  const planned = await mapBounded(items, 4, async (c): Promise<BatchPlanItem> => {
    const base = { userId: c.user.id, userEmail: c.user.email, keyId: c.key.id, keyName: c.key.name, why: c.why };
    try {
      const fresh = await planRotation(ctx, session, c.user, { ...options, key: c.key.id, name: names.byKeyId.get(c.key.id) }, settings, expiresAt, planStore);
      if (steps.length === 0)
        steps = fresh.plan.steps.map((step) => batchStep(step).replace(fresh.plan.newKey.name, 'its next generation').replace(` ${fresh.plan.oldKey.name} (${fresh.plan.oldKey.id})`, ''));
      return { ...base, newKeyName: fresh.plan.newKey.name, problem: null };
    } catch (err) {
      if (!isKeyrotError(err)) throw err;
      return { ...base, newKeyName: null, problem: err.message };
    }
  });
  const preflight = [`the admin key authenticates (${identity.email}) and may manage users`];
  const preflightFailed: FailedPreflight[] = [];
  // Each check the real run makes before any change, in its order; one that fails is listed, not thrown, so the
  // selection and the plan are always shown.
  const check = async (what: string, run: () => Promise<string>) => {
    try {
      preflight.push(await run());
    } catch (err) {
      if (!isKeyrotError(err)) throw err;
      preflightFailed.push({ check: what, error: { code: err.code, exitCode: err.exitCode, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } });
    }
  };
  await check('evidence', async () => {
    evidence();
    if (options.check) return 'evidence: --check, for each key';
    if (options.keepOld) return 'evidence: none needed (--keep-old: both keys stay live for the grace period)';
    return options.wait === false ? 'evidence: none (--no-wait)' : "evidence: each key's own last use";
  });
  await check('state folder', async () => {
    const lock = await acquireUserLock(ctx.stateDir, provider.id, BATCH_LOCK_ID, 'a batch rotation (rotate --all)').catch((err: unknown) => {
      throw isKeyrotError(err) ? err : stateError(ctx.stateDir, err);
    });
    await lock.release();
    const unfinished = await batches.active(provider.id);
    if (unfinished) throw unfinishedBatch(batches, unfinished);
    return `the state folder ${ctx.stateDir} is writable, and no other batch is running or unfinished`;
  });
  if (ctx.storeMode === 'os') {
    await check('keychain', async () => {
      await probeWritable(store);
      return `${store.description} is writable`;
    });
  }
  if (items.length) {
    await check('consent', async () => {
      // Without a terminal consentTo refuses as the real run would; in one, the real run asks (never asked here).
      if (!ctx.interactive) await consentTo(ctx, Boolean(options.yes), '', batchConsentWhat(items.length));
      return options.yes ? 'consent: --yes' : 'consent: the real run asks you once';
    });
  }
  return { kind: 'batch-planned', items: planned, left, steps, preflight, preflightFailed, nothing };
}

/** A step of one rotation's plan as a batch takes it: without a hook, nobody is asked to confirm a hand-over. */
function batchStep(step: string): string {
  return step === CONFIRM_HAND_OVER_STEP ? 'hand over: consumers read the new key from the keychain (no hook, nobody is asked)' : step;
}

function renderBatchPlan(result: Extract<BatchResult, { kind: 'batch-planned' }>, columns: number): DisplayText {
  const users = new Set(result.items.map((i) => i.userId)).size;
  const failing = result.items.filter((i) => i.problem).length;
  // Steps, checks and errors are composed of keyrot's words and outside text: each line is cleaned whole.
  const line = (text: string) => displayText(text, 4000);
  return joinDisplay(
    [
      say`Dry run: nothing will change. ${result.items.length} ${plural(result.items.length, 'key')} of ${users} ${plural(users, 'user')} selected:`,
      renderTable(
        result.items,
        [
          { header: 'USER', value: (i) => i.userEmail, key: true },
          { header: 'KEY', value: (i) => i.keyName, key: true },
          { header: 'NEW KEY', value: (i) => i.newKeyName ?? '-' },
          { header: 'WHY', value: (i) => i.why },
          { header: 'PLAN', value: (i) => (i.problem ? `would stop: ${i.problem}` : 'rotate') },
        ],
        columns,
      ),
      ...result.left,
      ...(failing ? [say`${failing} of them would stop before any change; the others would go on.`] : []),
      say`Each rotation would:`,
      ...result.steps.map((s, n) => say`  ${n + 1}. ${line(s)}`),
      say`Preflight (what the real run checks before any change):`,
      ...result.preflight.map((c) => say`  ✔ ${line(c)}`),
      ...result.preflightFailed.map((f) => say`  ✖ ${line(f.check)}: ${line(f.error.message)}${f.error.hint ? say` ${line(f.error.hint)}` : say``}`),
      ...(result.nothing ? [result.nothing] : []),
    ],
    '\n',
  );
}

/** "1 key", "2 keys": the noun after a count. */
function plural(count: number, noun: 'key' | 'user'): DisplayText {
  return count === 1 ? displayText(noun) : displayText(`${noun}s`);
}

/**
 * A dry run exits as the real run would: with the first preflight failure's code, else the batch's code when keys
 * would stop (16 some, 17 all), else 0. Said after the plan, which is always printed.
 */
function plannedOutcome(result: Extract<BatchResult, { kind: 'batch-planned' }>): { exitCode: ExitCodeValue; message: DisplayText } | undefined {
  const first = result.preflightFailed[0];
  if (first)
    return {
      exitCode: first.error.exitCode,
      message: say`--dry-run: the real run would stop before any change (${displayText(first.check, 2000)}: ${displayText(first.error.message, 2000)}); nothing was changed.`,
    };
  const stopping = result.items.filter((i) => i.problem).length;
  if (stopping === 0) return undefined;
  const code: ExitCodeValue = stopping === result.items.length ? ExitCode.batchFailed : ExitCode.batchPartial;
  return { exitCode: code, message: say`--dry-run: ${stopping} of ${result.items.length} rotations would stop; nothing was changed.` };
}
