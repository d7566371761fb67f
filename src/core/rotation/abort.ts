// Rolling back an unfinished rotation: only while the old key is untouched and still works.
import { KeychainError, StateError, UsageError } from '../../errors.js';
import type { ApiKey } from '../../providers/types.js';
import { refuseOthersKeys } from '../create-key.js';
import { deleteAndConfirm } from '../delete-key.js';
import { keychainAccount } from '../key-store.js';
import { keepOthersKeys, keptKeyIds, ownUnheld } from './ownership.js';
import { byOperator, operatorFlowOf, rotateCommandOf, save, type RotationPorts } from './ports.js';
import { canAbort, oldKeyLapsed, type RotationRecord } from './record.js';
import { TRANSITIONS } from './transitions.js';
import { stopOrphanedHook } from './steps/hand-over.js';
import { say, displayText, type DisplayText } from '../display-text.js';

/** Throws when the rotation can no longer be rolled back: the old key revoked, or lapsed at the end of its grace. */
export function assertAbortable(record: RotationRecord, ports: Pick<RotationPorts, 'invocation' | 'now'>): void {
  if (!canAbort(record)) throw cannotRollBack(record, ports, say`The old key ${displayText(record.oldKey.name)} is already revoked (or being revoked): this rotation cannot be rolled back.`);
  if (oldKeyLapsed(record, ports.now())) {
    throw cannotRollBack(
      record,
      ports,
      say`The old key ${displayText(record.oldKey.name)} lapsed at ${displayText(String(record.oldKey.expiresAt))} (the end of the --keep-old grace period): rolling back would delete ${displayText(record.newKey.name)}, the only key that still works.`,
    );
  }
}

/** A refused --abort: why, and the --resume that finishes the rotation instead. */
export function cannotRollBack(record: RotationRecord, ports: Pick<RotationPorts, 'invocation'>, message: DisplayText): UsageError {
  return new UsageError(message, { hint: say`Finish it with: ${displayText(rotateCommandOf(record, ports))} --resume` });
}

/**
 * assertAbortable, and the old key as the provider lists it now: one that has lapsed (its own expiry, or the one
 * --keep-old set, whatever the journal knows) or is gone cannot be rolled back to, and the new key would be the only
 * working key left. Unless the new key is gone too (newKeyGone): then there is nothing to keep, and the roll-back goes
 * on; what it returns is said beside it.
 */
export async function assertAbortableNow(record: RotationRecord, ports: Pick<RotationPorts, 'invocation' | 'now' | 'provider' | 'store' | 'protect'>): Promise<DisplayText | null> {
  // The old key revoked (emergency order, or a revoke done) and the new key gone too: nothing works and nothing is
  // left to roll back, so --abort closes the rotation rather than leave it open for ever.
  if (!canAbort(record) && record.status !== 'done' && record.status !== 'aborted' && !byOperator(ports.provider)) {
    if (await newKeyGone(record, ports, await ports.provider.listKeys(record.userId))) return nothingWorks(record, say`is revoked`);
  }
  assertAbortable(record, ports);
  // Nothing to delete (no new key was made, or could have been): nothing to weigh against the old key.
  const mayHaveNewKey = record.newKey.id !== null || (record.phase === 'create' && record.phaseStatus === 'started');
  if (byOperator(ports.provider) || !mayHaveNewKey) return null;
  const listed = await ports.provider.listKeys(record.userId);
  const old = listed.find((k) => k.id === record.oldKey.id);
  const why = !old ? say`is no longer listed` : old.expiresAt && old.expiresAt.getTime() <= ports.now().getTime() ? say`expired at ${displayText(old.expiresAt.toISOString())}` : null;
  if (!why) return null;
  if (!(await newKeyGone(record, ports, listed)))
    throw cannotRollBack(record, ports, say`The old key ${displayText(record.oldKey.name)} ${why}: rolling back would delete ${displayText(record.newKey.name)}, the only key that may still work.`);
  return nothingWorks(record, why);
}

/** What --abort says when it goes on although the old key no longer works (`why`): the new key is gone too. */
function nothingWorks(record: RotationRecord, why: DisplayText): DisplayText {
  return say`The old key ${displayText(record.oldKey.name)} ${why}, and the new key ${displayText(record.newKey.name)} is gone too (not listed, and rejected): no key of this rotation works; create one with keyrot create.`;
}

/**
 * The new key the journal names is gone: not listed, and rejected (401) when keyrot tries it. Rolling back then
 * deletes nothing that works. Without its plaintext here (--store none; another machine's keychain, with a shared
 * state store) a listing alone, which may lag, does not say it is gone. An --abort that stopped part-way leaves the
 * entry to try it with: it drops the entries of the keys it deleted only once its journal says the rotation is closed.
 */
async function newKeyGone(record: RotationRecord, ports: Pick<RotationPorts, 'provider' | 'store' | 'protect'>, listed: readonly ApiKey[]): Promise<boolean> {
  const id = record.newKey.id;
  if (id === null || listed.some((k) => k.id === id)) return false;
  const secret = await ports.store.get(keychainAccount(ports.provider.id, record.userId, id));
  if (secret === null) return false;
  ports.protect(secret);
  // Rejected, and only that: a key refused for its scopes or for this machine's address (403) still works elsewhere.
  const check = await ports.provider.checkKey(secret);
  return !check.ok && check.reason === 'rejected';
}

/**
 * The key the journal names as new is deleted only if this rotation can own it: not the old key, listed under the
 * new key's name, and ending in the characters the journal recorded. A journal edited by hand (or restored from
 * another rotation) would otherwise delete any key of the user, one someone else holds. Refused before any change.
 */
async function assertOwnsNewKey(record: RotationRecord, ports: Pick<RotationPorts, 'provider'>): Promise<void> {
  const id = record.newKey.id;
  if (id === null || byOperator(ports.provider)) return;
  const listed = (await ports.provider.listKeys(record.userId)).find((k) => k.id === id);
  // Not listed: nothing of anyone's to lose; the delete below confirms it is gone.
  if (!listed && id !== record.oldKey.id) return;
  const why =
    id === record.oldKey.id
      ? 'is the old key'
      : listed!.name !== record.newKey.name
        ? `is named ${listed!.name}, not ${record.newKey.name}`
        : record.newKey.lastChars && listed!.lastChars && !listed!.lastChars.endsWith(record.newKey.lastChars) && !record.newKey.lastChars.endsWith(listed!.lastChars)
          ? 'does not end in the characters the journal recorded'
          : null;
  if (why) {
    throw new StateError(
      say`The journal names ${displayText(listed?.name ?? record.oldKey.name)} (${displayText(id)}) as the new key, but it ${displayText(why)}: keyrot deletes only a key this rotation made, and deleted nothing.`,
      {
        hint: say`Check this user's rotation journal (edited by hand, or from another rotation?); delete the new key ${displayText(record.newKey.name)} yourself if it is yours.`,
      },
    );
  }
}

/** Rolls back an unfinished rotation: deletes the new key and its keychain entry; the old key stays. */
export async function abortRotation(record: RotationRecord, ports: RotationPorts): Promise<RotationRecord> {
  await stopOrphanedHook(record, ports);
  await revokeHadNoEffect(record, ports);
  const nothingWorks = await assertAbortableNow(record, ports);
  await assertOwnsNewKey(record, ports);
  if (nothingWorks) ports.warn(nothingWorks);
  // The old key is put back only where it still is: a revoked one is given to nobody.
  if (canAbort(record)) {
    await ports.beforeAbort?.(record);
    const restored = await restoreOldKeyExpiry(record, ports);
    if (restored) ports.note(say`--keep-old had moved the old key's expiry: ${displayText(restored)}.`);
    await giveBackOldKey(record, ports);
  }
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
    if (stillListed.length) ports.warn(say`Still listed, and never deleted by keyrot: ${displayText(stillListed.map((k) => `${k.name} (${k.id})`).join(', '))}; delete the one nobody holds.`);
    if (query.ownUnheld === 0 && made.length > 0)
      ports.warn(say`Left ${displayText(made.map((k) => `${k.name} (${k.id})`).join(', '))} alone: this rotation's creates made no key that is still listed.`);
    else {
      await keepOthersKeys(record, ports, () => refuseOthersKeys(query, made, 'since this rotation began'));
      ids.push(...made.map((k) => k.id));
    }
  }
  const kept: string[] = [];
  const dropped: string[] = [];
  for (const id of ids) {
    const account = keychainAccount(provider.id, record.userId, id);
    if (byOperator(provider) && !(await operatorFlowOf(ports).keepUntilRevoked(record, ports, id, account))) {
      kept.push(id);
      continue;
    }
    if (!byOperator(provider)) await deleteAndConfirm(provider, record.userId, { id, name: record.newKey.name }, { secret: await ports.store.get(account), sleep: ports.sleep });
    dropped.push(account);
  }
  const none = stillListed.length ? `deleted none: ${stillListed.map((k) => k.id).join(', ')} still listed` : 'no new key existed';
  step.finish('ok', ids.length ? (kept.length ? `kept ${kept.join(', ')} in the keychain until it is revoked` : `deleted ${ids.join(', ')}`) : none);
  TRANSITIONS.close(record);
  await save(record, ports);
  // Only now: a run that stops before its journal says closed keeps the entry that proves the key is gone (newKeyGone).
  // The keys are deleted and the rotation closed: an entry that cannot go is said, and left as harmless.
  for (const account of dropped) {
    await ports.store.delete(account).catch((err: unknown) => {
      if (!(err instanceof KeychainError)) throw err;
      ports.warn(say`The new key is deleted, but its keychain entry ${displayText(account)} could not be removed (${displayText(err.message)}): remove it by hand.`);
    });
  }
  ports.event('rotation.aborted', { userId: record.userId, deletedKeyIds: ids });
  return record;
}

/**
 * --abort after --to destinations took the new key: each gets the old key back before the new one is deleted, where
 * keyrot holds the old key's plaintext (the keychain); where it does not, it says which destinations are left
 * holding a key about to be deleted.
 */
async function giveBackOldKey(record: RotationRecord, ports: RotationPorts): Promise<void> {
  const given = record.deliveredTo ?? [];
  if (!given.length) return;
  const old = await ports.store.get(keychainAccount(ports.provider.id, record.userId, record.oldKey.id)).catch(() => null);
  if (old === null || !ports.deliverTo) {
    ports.warn(
      say`${displayText(given.join(', '))} ${given.length === 1 ? say`holds` : say`hold`} the new key ${displayText(record.newKey.name)}, deleted now, and keyrot does not hold the old key ${displayText(record.oldKey.name)} to give back: put it there yourself.`,
    );
    return;
  }
  ports.protect(old);
  const step = await ports.startStep(`Give the old key ${record.oldKey.name} back to ${given.join(', ')}`);
  for (const target of [...given]) {
    await ports.deliverTo(target, old);
    record.deliveredTo = (record.deliveredTo ?? []).filter((t) => t !== target);
    await save(record, ports);
  }
  step.finish('ok', `${given.join(', ')} ${given.length === 1 ? 'holds' : 'hold'} ${record.oldKey.name} again`);
}

/** --abort after --keep-old moved the old key's expiry: the old key gets its own expiry back before anything else. */
export async function restoreOldKeyExpiry(record: RotationRecord, ports: RotationPorts): Promise<string | null> {
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
 * A revoke that stopped part-way (a 429, a lost answer, a 2xx that did nothing) leaves the journal at revoke/started,
 * which alone would refuse every --abort, even once the new key has expired. The provider says whether the old key
 * went: still listed, unexpired, and (where keyrot holds it) still authenticating, it was not revoked, and the
 * rotation can be rolled back.
 */
async function revokeHadNoEffect(record: RotationRecord, ports: RotationPorts): Promise<void> {
  if (record.phase !== 'revoke' || record.phaseStatus !== 'started' || record.status === 'done' || record.status === 'aborted' || byOperator(ports.provider)) return;
  const old = (await ports.provider.listKeys(record.userId)).find((k) => k.id === record.oldKey.id);
  if (!old || (old.expiresAt && old.expiresAt.getTime() <= ports.now().getTime())) return;
  const secret = await ports.store.get(keychainAccount(ports.provider.id, record.userId, record.oldKey.id));
  if (secret !== null) {
    ports.protect(secret);
    if (!(await ports.provider.checkKey(secret)).ok) return;
  }
  TRANSITIONS.noEffect(record);
  await save(record, ports);
}
