// Ownership of keys a lost create may have made: which unheld keys of the new key's name can be this rotation's own
import { CancelledError, RotationConflictError } from '../../errors.js';
import { deleteOrphans, discardNewKey } from '../create-key.js';
import { keychainAccount } from '../key-store.js';
import { save, saveBeside, type RotationPorts } from './ports.js';
import { handOverBegun, newKeyUnheldWithoutStore, type RotationRecord } from './record.js';
import { TRANSITIONS } from './transitions.js';
import { say, displayText } from '../display-text.js';

// (and so deleted by it), and which are another's (never deleted). Every clean-up of a lost create goes through here.
/**
 * How many unheld keys of the new key's name can be this rotation's own: the creates it sent, less the orphans it
 * deleted. undefined for a journal of an older keyrot (no count: every such key counts as its own, as it did).
 */
export function ownUnheld(record: RotationRecord): number | undefined {
  return record.createsSent === undefined ? undefined : Math.max(0, record.createsSent - (record.orphansDeleted ?? 0));
}

/** Keys reconciliation leaves alone: the user's keys from before the rotation, and keys it found to be another's. */
export function keptKeyIds(record: RotationRecord): Set<string> {
  return new Set([...record.preexistingKeyIds, ...(record.othersKeyIds ?? [])]);
}

/** Runs `check`; when it finds unheld keys that are not all this rotation's, records them as never to be deleted. */
export async function keepOthersKeys<T>(record: RotationRecord, ports: RotationPorts, check: () => T | Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    const ids = err instanceof RotationConflictError ? err.facts.unheldKeyIds : undefined;
    if (ids) {
      addOthersKeyIds(record, ids);
      await saveBeside(record, ports);
    }
    throw err;
  }
}

export function addOthersKeyIds(record: RotationRecord, ids: readonly string[]): void {
  record.othersKeyIds = [...new Set([...(record.othersKeyIds ?? []), ...ids])];
}

export function countOrphansDeleted(record: RotationRecord, ports: RotationPorts): (count: number) => Promise<void> {
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
export async function discardCancelledCreate(record: RotationRecord, ports: RotationPorts, err: unknown): Promise<void> {
  if (!(err instanceof CancelledError) || record.phase !== 'create' || record.phaseStatus !== 'started' || record.newKey.id) return;
  const provider = await ports.cleanupProvider();
  await keepOthersKeys(record, ports, () =>
    deleteOrphans(
      { userId: record.userId, name: record.newKey.name, preexistingKeyIds: keptKeyIds(record), ownUnheld: ownUnheld(record) },
      { provider, store: ports.store, note: ports.note, onOrphansDeleted: countOrphansDeleted(record, ports) },
    ),
  );
}

export async function adoptHeldKey(record: RotationRecord, ports: RotationPorts): Promise<boolean> {
  for (const key of await ports.provider.listKeys(record.userId)) {
    if (key.name !== record.newKey.name || record.preexistingKeyIds.includes(key.id)) continue;
    const secret = await ports.store.get(keychainAccount(ports.provider.id, record.userId, key.id));
    if (secret === null) continue;
    ports.protect(secret);
    TRANSITIONS.holdNewKey(record, { id: key.id, lastChars: secret.slice(-5) });
    await save(record, ports);
    return true;
  }
  return false;
}

/**
 * --store none: a new key not yet handed over is held by nobody once this process ends. On a failure
 * (`ending`) or on resume (when this process never held it) it is deleted, and the rotation goes back to
 * creating a key. If the delete fails, the rescue file takes the plaintext (when this process has it).
 */
export async function discardUnheldNewKey(record: RotationRecord, ports: RotationPorts, ending: boolean): Promise<{ id: string; name: string } | null> {
  const id = record.newKey.id;
  // Once the revoke has begun the new key is the user's only key: it is never deleted, whoever holds it.
  if (!id || !newKeyUnheldWithoutStore(record)) return null;
  const secret = await ports.store.get(keychainAccount(ports.provider.id, record.userId, id));
  if (secret !== null && !ending) return null;
  const discarded = await discardNewKey(
    // After a cancel (Ctrl-C, a cancelled CI job) the run's own requests are aborted: the clean-up has its own.
    async () => (ending ? await ports.cleanupProvider() : ports.provider),
    record.userId,
    { id, name: record.newKey.name, lastChars: record.newKey.lastChars, expiresAt: null },
    secret,
    ports.rescue,
    ports.sleep,
  );
  if (discarded.kind === 'rescued') {
    ports.warn(say`--store none: the new key ${displayText(record.newKey.name)} (${displayText(id)}) could not be deleted; its plaintext is in ${displayText(discarded.path)} (mode 0600).`);
    return null;
  }
  // A hand-over that had begun may have reached some consumers: it is not "never handed over", but it cannot be
  // finished without the plaintext, so a new key is made and handed over to all of them.
  const why = handOverBegun(record)
    ? `its hand-over had begun but did not finish, and keyrot keeps no copy to finish it (no keychain holds it); ${ending ? 'a --resume makes' : 'this run makes'} a new key and hands that one over`
    : 'it was never handed over, and no keychain holds it';
  ports.note(say`--store none: deleted the new key ${displayText(record.newKey.name)} (${displayText(id)}): ${displayText(why)}.`);
  TRANSITIONS.backToCreate(record);
  await save(record, ports);
  return { id, name: record.newKey.name };
}
