// keyrot status: what keyrot has under way and what it holds. Unfinished, paused (--keep-old) and failed rotations
// with what is live and the command that goes on; recent finished ones; keychain entries whose key the provider no
// longer has (removed only with consent). Read from the journals and the keychain; the provider is asked only when
// the keychain holds user keys to check.
import { dirname } from 'node:path';
import type { Context } from '../cli/context.js';
import { formatDuration } from '../core/duration.js';
import { maskFromLastChars } from '../core/mask.js';
import { compareText } from '../core/order.js';
import { DEFAULT_PROFILE } from '../core/profiles.js';
import { PHASE_LABELS, SELF_USER_ID, canAbort, newKeyUnheldWithoutStore, rollbackHasKey, oldKeyLapsed, rotateCommandOf, type RotationRecord } from '../core/rotation.js';
import { isKeyrotError } from '../errors.js';
import { lockHolder, type LockOwner } from '../journal/lock.js';
import { RotationJournal } from '../journal/rotations.js';
import { stateDir } from '../journal/state-dir.js';
import { entryName, keychainAccount, parseKeyAccount, type SecretStore } from '../keychain/secret-store.js';
import { listedKeys } from './resolve.js';
import { consentTo } from './consent.js';
import type { CommandModule } from './types.js';
import { shellArg } from '../core/shell-arg.js';
import { say, displayText, joinDisplay, type DisplayText } from '../ui/display-text.js';

export interface StatusOptions {
  /** Remove the keychain entries of keys that no longer exist (asks in a terminal, --yes without one). */
  prune?: boolean;
  yes?: boolean;
}

/** How many finished rotations status shows. */
const RECENT = 10;

export interface RotationStatus {
  record: RotationRecord;
  /** running with a live keyrot process; running without one (killed); paused (--keep-old); failed; finished but not yet archived. */
  state: 'in-progress' | 'interrupted' | 'paused' | 'failed' | 'done' | 'aborted';
  holder: LockOwner | null;
  oldKey: 'live' | 'lapsed' | 'being revoked' | 'revoked';
  newKey: 'not created' | 'live';
  grace: { until: string; leftMs: number } | null;
  /** Commands that go on, each with what it does; empty while another keyrot process works on it. */
  next: Array<{ command: string; does: string }>;
  journal: string;
}

export interface StaleEntry {
  account: string;
  userId: string;
  userEmail: string | null;
  keyId: string;
}

/**
 * `stale`: entries of keys the user no longer has (safe to remove: key ids are unique). `unknownUsers`: entries of user
 * ids this account does not list, which may be deleted users or another account's users (used without --profile):
 * keyrot cannot tell them apart, so it never removes them.
 */
export type KeychainStatus = { checked: true; entries: number; stale: StaleEntry[]; unknownUsers: Array<Omit<StaleEntry, 'userEmail'>>; removed: string[] } | { checked: false; reason: string };

export interface StatusResult {
  rotations: RotationStatus[];
  damaged: string[];
  recent: RotationRecord[];
  keychain: KeychainStatus;
  pruneHint: string;
}

export const statusCommand: CommandModule<StatusOptions, StatusResult> = {
  async run(options, ctx) {
    const journal = new RotationJournal(ctx.stateDir);
    const { records, damaged } = await journal.scan();
    const prefix = commandPrefix(ctx);
    const rotations = await Promise.all(records.map((r) => rotationStatus(ctx, r, journal.pathFor(r.provider, r.userId), prefix)));
    rotations.sort((a, b) => compareText(a.record.startedAt, b.record.startedAt));
    const recent = await journal.history(RECENT);
    const keychain = await staleEntries(ctx, records, Boolean(options.prune));
    if (keychain.checked && keychain.stale.length > 0) {
      const count = `${keychain.stale.length} keychain entr${keychain.stale.length === 1 ? 'y' : 'ies'}`;
      const question = `Remove ${count} of keys that no longer exist at ${ctx.providerFactory.displayName}? Their plaintexts are deleted from the keychain.`;
      let remove = false;
      if (options.prune) {
        await consentTo(ctx, Boolean(options.yes), question, `Pruning deletes ${count}`);
        remove = true;
      } else if (ctx.interactive && !ctx.out.json && !ctx.out.events) {
        // The offer: shown before the question, so the person sees what would go.
        ctx.out.info(renderStale(keychain.stale));
        remove = await ctx.prompts.confirm(question, '--prune --yes');
      }
      if (remove) keychain.removed = await prune(ctx, await ctx.secretStore(), keychain.stale);
    }
    return { rotations, damaged, recent, keychain, pruneHint: `${prefix} status --prune` };
  },

  render(r, ctx) {
    const s = ctx.out.style;
    const out: DisplayText[] = [];
    if (r.rotations.length === 0) out.push(say`No unfinished rotation.`);
    else out.push(s.bold(say`Unfinished rotations (${r.rotations.length})`));
    for (const st of r.rotations) {
      const rec = st.record;
      out.push(say`  ${s.bold(displayText(rec.userEmail))}  ${displayText(rec.oldKey.name)} → ${displayText(rec.newKey.name)}  ${describeState(st)}`);
      out.push(say`    live   ${liveText(st)}`);
      if (st.state === 'paused' && !st.record.awaiting) out.push(say`    grace  ${graceText(st)}`);
      if (st.next.length === 0) out.push(say`    next   wait for keyrot (pid ${displayText(String(st.holder?.pid))}) to finish it`);
      for (const [i, n] of st.next.entries()) out.push(say`    ${i === 0 ? say`next  ` : say`      `} ${displayText(n.command, 2000)}   (${displayText(n.does, 2000)})`);
    }
    if (r.damaged.length) {
      out.push(say``, s.bold(say`Damaged journals (${r.damaged.length}): each blocks its user's rotations`));
      for (const path of r.damaged.map((p) => displayText(p, 2000))) out.push(say`  ${path}   (set it aside: mv '${path}' '${path}.damaged'; then rotate --resume adopts what the provider shows)`);
    }
    out.push(say``, r.recent.length ? s.bold(say`Recent rotations (${r.recent.length})`) : say`No finished rotation yet.`);
    for (const rec of r.recent)
      out.push(
        say`  ${displayText(rec.updatedAt.slice(0, 16).replace('T', ' '))}  ${displayText(rec.userEmail)}  ${displayText(rec.oldKey.name)} → ${displayText(rec.newKey.name)}  ${rec.status === 'done' ? say`done` : say`rolled back`}`,
      );
    out.push(say``);
    const k = r.keychain;
    if (!k.checked) out.push(say`Keychain: not checked (${displayText(k.reason)})`);
    else if (k.stale.length === 0) {
      const known = k.entries - k.unknownUsers.length;
      out.push(say`Keychain: ${known} key ${entries(known)} of this account's users, each of a key that still exists.`);
    } else {
      const left = k.stale.filter((e) => !k.removed.includes(e.account));
      if (k.removed.length) out.push(say`${s.green(say`✔`)} Removed ${k.removed.length} keychain ${entries(k.removed.length)} of keys that no longer exist.`);
      if (left.length) out.push(renderStale(left), say`  Remove them: ${displayText(r.pruneHint, 2000)} (asks; --yes without a terminal).`);
    }
    if (k.checked && k.unknownUsers.length) {
      const users = new Set(k.unknownUsers.map((e) => e.userId)).size;
      out.push(
        say`Keychain: ${k.unknownUsers.length} ${entries(k.unknownUsers.length)} of ${users} user${users === 1 ? say`` : say`s`} this account does not list, or of an admin key's own keys (rotate --self; maybe another account's: keyrot --profile keeps accounts apart); left alone.`,
      );
    }
    ctx.out.data(joinDisplay(out, '\n'));
  },

  toJson: (r) => ({
    rotations: r.rotations.map((st) => ({
      rotationId: st.record.id,
      provider: st.record.provider,
      userId: st.record.userId,
      userEmail: st.record.userEmail,
      mode: st.record.mode,
      state: st.state,
      phase: st.record.phase,
      step: PHASE_LABELS[st.record.phase],
      pid: st.holder?.pid ?? null,
      error: st.record.lastError,
      oldKey: { id: st.record.oldKey.id, name: st.record.oldKey.name, maskedKey: maskFromLastChars(st.record.oldKey.lastChars), state: st.oldKey },
      newKey: {
        id: st.record.newKey.id,
        name: st.record.newKey.name,
        maskedKey: maskFromLastChars(st.record.newKey.lastChars),
        state: st.newKey,
        storedInKeychain: st.record.options.store !== 'none',
      },
      grace: st.grace ? { until: st.grace.until, remainingMs: Math.max(0, st.grace.leftMs), overdue: st.grace.leftMs < 0 } : null,
      next: st.next,
      startedAt: st.record.startedAt,
      updatedAt: st.record.updatedAt,
      journal: st.journal,
    })),
    damagedJournals: r.damaged,
    recent: r.recent.map((rec) => ({
      rotationId: rec.id,
      userId: rec.userId,
      userEmail: rec.userEmail,
      status: rec.status,
      oldKey: { id: rec.oldKey.id, name: rec.oldKey.name },
      newKey: { id: rec.newKey.id, name: rec.newKey.name },
      startedAt: rec.startedAt,
      finishedAt: rec.updatedAt,
    })),
    keychain: r.keychain.checked
      ? { checked: true, entries: r.keychain.entries, stale: r.keychain.stale, unknownUsers: r.keychain.unknownUsers, removed: r.keychain.removed }
      : { checked: false, reason: r.keychain.reason },
  }),
};

async function rotationStatus(ctx: Context, record: RotationRecord, journal: string, prefix: string): Promise<RotationStatus> {
  const holder = record.status === 'running' ? await lockHolder(ctx.stateDir, record.provider, record.userId) : null;
  const state: RotationStatus['state'] = record.status === 'running' ? (holder ? 'in-progress' : 'interrupted') : record.status;
  const lapsed = oldKeyLapsed(record, ctx.now());
  const oldKey = lapsed ? 'lapsed' : canAbort(record) ? 'live' : record.phase === 'revoke' ? 'being revoked' : 'revoked';
  const graceUntil = record.status === 'paused' ? record.graceUntil : null;
  const grace = graceUntil ? { until: graceUntil, leftMs: new Date(graceUntil).getTime() - ctx.now().getTime() } : null;
  // The command as the user types it: this profile, this state folder, this provider.
  // The provider as this run was told it (--provider kubeadapt, --provider-file f.json), or the record's own.
  const provider = record.provider === ctx.providerFactory.id ? (ctx.providerFlag ? ` ${ctx.providerFlag}` : '') : ` --provider ${record.provider}`;
  const resume = rotateCommandOf(record).replace(/^keyrot/, `${prefix}${provider}`);
  const next: RotationStatus['next'] = [];
  if (state !== 'in-progress') {
    const revokes = oldKey === 'live' ? `; revokes ${record.oldKey.name} at the end` : '';
    const does =
      record.awaiting === 'mint'
        ? `takes the key minted in the dashboard (add --new-key-stdin to pipe it in)${revokes}`
        : state === 'paused' && !record.awaiting
          ? `ends the grace period${revokes}`
          : newKeyUnheldWithoutStore(record)
            ? `starts again: ${record.hookProcess ? 'stops the --on-new-key hook the interrupted run left running, ' : ''}deletes ${record.newKey.name} (nobody holds its plaintext: --store none), creates a new key and hands it over${revokes}`
            : `continues from "${PHASE_LABELS[record.phase]}"${revokes}`;
    next.push({ command: `${resume} --resume`, does });
    if (rollbackHasKey(record) && !lapsed) {
      const deletes = record.othersKeyIds?.length ? `deletes none of ${record.othersKeyIds.join(', ')} (named ${record.newKey.name}: keyrot cannot tell its own)` : `deletes ${record.newKey.name}`;
      next.push({ command: `${resume} --abort`, does: `rolls back: ${deletes}, keeps ${record.oldKey.name}` });
    }
  }
  return { record, state, holder, oldKey, newKey: record.newKey.id ? 'live' : 'not created', grace, next, journal };
}

/** `keyrot` with the global flags that select this profile and state folder, for commands status prints. */
function commandPrefix(ctx: Context): string {
  const profile = ctx.profile === DEFAULT_PROFILE ? '' : ` --profile ${ctx.profile}`;
  const root = ctx.profile === DEFAULT_PROFILE ? ctx.stateDir : dirname(dirname(ctx.stateDir));
  // A folder given with --state-dir must be given again; one from KEYROT_STATE_DIR or the default is found anyway.
  const dir = root === stateDir(ctx.env) ? '' : ` --state-dir ${shellArg(root)}`;
  return `keyrot${profile}${dir}`;
}

function entries(count: number): DisplayText {
  return count === 1 ? say`entry` : say`entries`;
}

function describeState(st: RotationStatus): DisplayText {
  const at = say`at "${displayText(PHASE_LABELS[st.record.phase])}"`;
  const [oldName, newName] = [displayText(st.record.oldKey.name), displayText(st.record.newKey.name)];
  const holder = st.holder;
  switch (st.state) {
    case 'in-progress':
      // A shared lock may be another runner's: name its host, and when its lease ends unless renewed.
      if (holder?.until !== undefined)
        return say`in progress ${at} (keyrot on ${displayText(holder.host)}, pid ${displayText(String(holder.pid))}, since ${displayText(holder.since)}; lease until ${displayText(holder.until)})`;
      return say`in progress ${at} (keyrot pid ${displayText(String(holder?.pid))}, since ${displayText(String(holder?.since))})`;
    case 'interrupted':
      return say`interrupted ${at} (no keyrot is running it)`;
    case 'paused':
      if (st.record.awaiting === 'mint') return say`paused for a person: mint ${newName} in the dashboard, ${at}`;
      if (st.record.awaiting === 'revoke') return say`paused for a person: revoke ${oldName} in the dashboard, ${at}`;
      if (st.oldKey === 'lapsed') return say`paused (--keep-old): the grace period is over and ${oldName} has lapsed; finish it, ${at}`;
      return say`paused with both keys live (--keep-old), ${at}`;
    case 'failed': {
      const error = st.record.lastError;
      return say`failed ${at}${error ? say`: ${displayText(error.message, 2000)} (${displayText(error.code.replace(/_/g, ' '))})` : say``}`;
    }
    default:
      return say`${displayText(st.state)}, not yet filed away`;
  }
}

function liveText(st: RotationStatus): DisplayText {
  const { oldKey, newKey, options } = st.record;
  const parts: DisplayText[] = [];
  const key = (k: { name: string; id: string | null; lastChars: string | null }) => say`${displayText(k.name)} (${displayText(String(k.id))}, ${displayText(maskFromLastChars(k.lastChars))})`;
  if (st.oldKey !== 'revoked')
    parts.push(say`${key(oldKey)}${st.oldKey === 'being revoked' ? say` [being revoked]` : st.oldKey === 'lapsed' ? say` [lapsed at ${displayText(String(oldKey.expiresAt))}]` : say``}`);
  if (newKey.id) parts.push(say`${key(newKey)}${options.store === 'none' ? say` [keyrot keeps no copy: --store none]` : say``}`);
  return parts.length ? joinDisplay(parts, ' and ') : say`no key of this rotation (${displayText(newKey.name)} not created yet, ${displayText(oldKey.name)} revoked)`;
}

function graceText(st: RotationStatus): DisplayText {
  if (!st.grace) return say`no end recorded (paused by an older keyrot): finish when the consumers have the new key`;
  const until = displayText(st.grace.until);
  return st.grace.leftMs >= 0
    ? say`${displayText(formatDuration(st.grace.leftMs))} left (ends ${until})`
    : say`OVER by ${displayText(formatDuration(-st.grace.leftMs))} (ended ${until}): finish it now`;
}

function renderStale(stale: readonly StaleEntry[]): DisplayText {
  return joinDisplay(
    [
      say`Keychain: ${stale.length} ${entries(stale.length)} of keys that no longer exist:`,
      ...stale.map((e) => say`  ${displayText(e.account)}   (key ${displayText(e.keyId)} of ${displayText(e.userEmail ?? e.userId)} was deleted)`),
    ],
    '\n',
  );
}

/**
 * The keychain entries of user keys this provider no longer has. Keys an unfinished rotation names are never stale
 * (its finish step drops the old key's entry itself). Not checked (with the reason) when the keychain or the provider
 * cannot be read, unless --prune asked for it: then that failure is the error.
 */
async function staleEntries(ctx: Context, records: readonly RotationRecord[], required: boolean): Promise<KeychainStatus> {
  const provider = ctx.providerFactory.id;
  try {
    const store = await ctx.secretStore();
    // Accounts as the keychain really names them (a profile's are prefixed), for the person who looks them up.
    const entries = parseEntries(await store.list(), provider).map((e) => ({ ...e, account: entryName(store, e.account) }));
    if (entries.length === 0) return { checked: true, entries: 0, stale: [], unknownUsers: [], removed: [] };
    const api = await ctx.provider();
    const inRotation = new Set(records.flatMap((r) => [r.oldKey.id, r.newKey.id ?? '']));
    const users = new Map((await api.listUsers()).map((u) => [u.id, u.email]));
    const stale: StaleEntry[] = [];
    const unknownUsers: Array<Omit<StaleEntry, 'userEmail'>> = [];
    for (const userId of new Set(entries.map((e) => e.userId))) {
      const mine = entries.filter((e) => e.userId === userId);
      if (userId === SELF_USER_ID || !users.has(userId)) {
        // An unknown user may be another account's; and "self" entries (rotate --self) are the own keys of
        // whichever admin key made them, which the one in force now may not be (another account, a colleague's
        // login): neither can be proven stale here, so neither is ever offered for removal.
        unknownUsers.push(...mine);
        continue;
      }
      const keys = new Set((await listedKeys(ctx, store, api, userId)).map((k) => k.id));
      for (const e of mine) if (!keys.has(e.keyId) && !inRotation.has(e.keyId)) stale.push({ ...e, userEmail: users.get(userId) ?? null });
    }
    return { checked: true, entries: entries.length, stale, unknownUsers, removed: [] };
  } catch (err) {
    if (required || !isKeyrotError(err)) throw err;
    return { checked: false, reason: err.message };
  }
}

/** The user-key entries among keychain accounts ("vultr:<user-id>:<key-id>"; not the admin entry, not probes). */
function parseEntries(accounts: readonly string[], provider: string): Array<{ account: string; userId: string; keyId: string }> {
  const entries: Array<{ account: string; userId: string; keyId: string }> = [];
  for (const account of accounts) {
    const parsed = parseKeyAccount(account);
    if (parsed?.provider === provider) entries.push({ account, userId: parsed.userId, keyId: parsed.keyId });
  }
  return entries;
}

/** Deletes the entries (and the key index's records of them); returns the accounts removed. */
async function prune(ctx: Context, store: SecretStore, stale: readonly StaleEntry[]): Promise<string[]> {
  const removed: string[] = [];
  for (const e of stale) {
    await store.delete(keychainAccount(ctx.providerFactory.id, e.userId, e.keyId));
    await ctx.keyIndex
      .remove(ctx.providerFactory.id, e.keyId)
      .catch((err: Error) => ctx.out.warn(say`Could not drop ${displayText(e.keyId)} from keyrot's key index: ${displayText(err.message, 2000)}`));
    removed.push(e.account);
  }
  return removed;
}
