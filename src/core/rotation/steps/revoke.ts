// Step 5: the old key goes, and only once the new one is proven to still work.
import { VerificationFailedError } from '../../../errors.js';
import { KeyStillLiveError, deleteAndConfirm } from '../../delete-key.js';
import { TRANSITIONS } from '../transitions.js';
import { keychainAccount } from '../../key-store.js';
import {
  FRESH_PROOF_MS,
  byOperator,
  freshlyProven,
  heldThisRun,
  markStarted,
  provedRejected,
  provedUnlisted,
  save,
  operatorFlowOf,
  type RotationPorts,
  type StepProgress,
  type StepResult,
} from '../ports.js';
import { hookEnv, type RotationRecord } from '../record.js';
import { say, displayText } from '../../display-text.js';

/** Revokes the old key once the new one is proven still to work. */
export async function revokeStep(record: RotationRecord, ports: RotationPorts, step: StepProgress): Promise<StepResult> {
  // The last moment the old key can still be kept: never revoke it unless the new key still works (it may have
  // been deleted, or have expired, during a --keep-old grace period or a long wait).
  const proof = await newKeyStillWorks(record, ports, step);
  step.update(proof);
  await markStarted(record, ports);
  if (byOperator(ports.provider)) return operatorFlowOf(ports).askToRevoke(record, ports);
  // Through the one delete-and-confirm step: a 2xx that leaves the old key listed fails here, in the revoke phase, so
  // that --resume sends the delete again (verify-old only re-checks).
  const oldSecret = await ports.store.get(keychainAccount(ports.provider.id, record.userId, record.oldKey.id));
  if (oldSecret) ports.protect(oldSecret);
  let outcome: 'deleted' | 'already-gone';
  try {
    outcome = await deleteAndConfirm(ports.provider, record.userId, record.oldKey, {
      secret: oldSecret,
      sleep: ports.sleep,
      // The admin key's own user: the key just deleted may be the one keyrot runs with, whose listing is then refused.
      listRefusedIsProof: !record.options.usageSignalUsable,
      checkFirst: true,
      onRejected: () => provedRejected(ports, record.oldKey.id),
      onUnlisted: () => provedUnlisted(ports, record.oldKey.id),
    });
  } catch (err) {
    // The old key is still listed and works: nothing was revoked, so --abort stays possible (e.g. once the new key
    // has expired, rolling back is the only way on).
    if (err instanceof KeyStillLiveError) {
      ports.warn(
        oldSecret
          ? say`THE OLD KEY ${displayText(record.oldKey.name)} STILL AUTHENTICATES after it was deleted, and ${displayText(ports.provider.displayName)} still lists it. Treat it as live: check at the provider.`
          : say`THE OLD KEY ${displayText(record.oldKey.name)} IS STILL LISTED after it was deleted. Treat it as live: check at the provider.`,
      );
      TRANSITIONS.noEffect(record);
      await save(record, ports);
    }
    throw err;
  }
  ports.event('old.revoked', { keyId: record.oldKey.id, name: record.oldKey.name, outcome });
  return { detail: `${record.oldKey.name} (${record.oldKey.id})${outcome === 'already-gone' ? ' was already gone' : ''}` };
}

/**
 * Proof, right before the revoke, that the new key is still there and still authenticates. Throws
 * VerificationFailedError (the old key is then kept) when it was deleted, has expired or is rejected. Returns the
 * detail to show. Without its plaintext (--store none, resumed by another process) it cannot be tested: then it
 * must at least be listed and unexpired.
 */
export async function newKeyStillWorks(record: RotationRecord, ports: RotationPorts, step: StepProgress): Promise<string> {
  const id = record.newKey.id;
  const name = `${record.newKey.name} (${id ?? 'no id'})`;
  const stop = (why: string) =>
    new VerificationFailedError(say`The new key ${displayText(name)} ${displayText(why)}: the old key ${displayText(record.oldKey.name)} was NOT revoked, and stays live.`, {
      hint: say`Roll back with --abort (it cleans up the new key), then rotate again.`,
      facts: { newKeyUsable: false },
    });
  if (!id) throw stop('was never recorded');
  // Proven by this run seconds ago (--no-wait, --emergency: verify-new, the hook, then here): the same fact is not
  // asked again, unless the key's own expiry falls inside that time.
  const expiresAt = record.newKey.expiresAt ? Date.parse(record.newKey.expiresAt) : null;
  // Only where no wait stood between (a wait or a --keep-old grace is when keys get deleted or expire).
  const noWaitBetween = (record.mode === 'emergency' || record.options.noWait) && !record.options.keepOld;
  const age = !noWaitBetween || byOperator(ports.provider) || (expiresAt !== null && expiresAt - ports.now().getTime() <= FRESH_PROOF_MS) ? null : freshlyProven(ports, id);
  // Keys a person manages in the dashboard cannot be listed: the key itself is asked instead, below.
  if (!byOperator(ports.provider) && age === null) {
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
    ports.warn(say`The keychain lost the entry of the new key ${displayText(name)} during the rotation: keyrot wrote it back from memory before revoking the old key.`);
    secret = inMemory;
  }
  if (secret === null) {
    if (record.options.store !== 'none') throw stop('is no longer in the keychain');
    // --store none, resumed: keyrot holds no copy to test. Only the consumers can prove the key still works.
    if (record.options.check === null) {
      throw new VerificationFailedError(
        say`keyrot holds no copy of the new key ${displayText(name)} (--store none), so it cannot prove the key still authenticates: the old key ${displayText(record.oldKey.name)} was NOT revoked, and stays live.`,
        { hint: say`Pass --check CMD with --resume (a command that proves your consumers work with the new key), or roll back with --abort.` },
      );
    }
    step.update('running --check: keyrot holds no copy of the new key to test it');
    if (!(await ports.runCheck(record.options.check, hookEnv(record), record.options.hookTimeoutMs))) throw stop('failed --check');
    return 'new key listed and unexpired; --check passed (keyrot holds no copy to test it: --store none)';
  }
  ports.protect(secret);
  if (age !== null) return `new key proven by this run ${Math.round(age / 1000)} s ago`;
  step.update('checking the new key still authenticates');
  const check = await ports.provider.checkKey(secret);
  if (!check.ok) throw stop(`no longer authenticates (${check.reason}: ${check.message})`);
  return 'new key still authenticates';
}
