// Step 6: the old key is rejected (or, untestable, no longer listed).
import { AuthError, VerificationFailedError } from '../../../errors.js';
import type { ApiKey } from '../../../providers/types.js';
import { entryName, keychainAccount } from '../../key-store.js';
import { byOperator, operatorFlowOf, rejectedThisRun, unlistedThisRun, type RotationPorts, type StepProgress, type StepResult } from '../ports.js';
import { hookEnv, type RotationRecord } from '../record.js';
import { say, displayText } from '../../display-text.js';

/** Proves the old key is gone. */
export async function verifyOldStep(record: RotationRecord, ports: RotationPorts, step: StepProgress): Promise<StepResult> {
  const result = await proveOldKeyGone(record, ports, step);
  await consumersStillWork(record, ports);
  return result;
}

/** The old key is revoked; proves it no longer authenticates (or, untestable, is no longer listed). */
export async function proveOldKeyGone(record: RotationRecord, ports: RotationPorts, step: StepProgress): Promise<{ detail: string }> {
  record.oldKeyStillAuthenticates = false;
  const secret = await ports.store.get(keychainAccount(ports.provider.id, record.userId, record.oldKey.id));
  if (secret === null) {
    // keyrot never held the old plaintext: the best proof left is that the key is no longer listed.
    if (byOperator(ports.provider)) return { detail: `unproven: keyrot does not hold its plaintext; check that ${ports.provider.displayName}'s dashboard shows it revoked` };
    // The revoke's delete-and-confirm listed the keys without it a moment ago in this run: the same fact, not asked twice.
    const gone = unlistedThisRun(ports, record.oldKey.id) ? 'no longer listed' : await provenGoneByListing(record, ports);
    return { detail: `${gone} (keyrot does not hold its plaintext to test it)` };
  }
  ports.protect(secret);
  if (byOperator(ports.provider)) return operatorFlowOf(ports).awaitRevoke(record, ports, step, secret);
  // The revoke's delete-and-confirm saw it rejected a moment ago in this run: the same 401, not asked twice.
  if (rejectedThisRun(ports, record.oldKey.id)) return { detail: 'rejected (401)' };
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
  ports.warn(say`THE OLD KEY ${displayText(record.oldKey.name)} STILL AUTHENTICATES after it was deleted. Treat it as live: check at the provider.`);
  // Thrown from this phase (not a later one) so that --resume tests the old key again.
  throw new VerificationFailedError(say`The old key ${displayText(record.oldKey.name)} still authenticates after it was revoked.`, {
    hint: say`The new key is live and in the keychain. Contact the provider; keyrot rotate --resume checks again.`,
  });
}

/**
 * The rotation guides' warning sign: failures right after the revoke mean a consumer still holds the old key. keyrot
 * cannot see consumers' traffic, but --check can: it runs once more now that only the new key works.
 */
export async function consumersStillWork(record: RotationRecord, ports: RotationPorts): Promise<void> {
  if (!record.options.check || record.mode !== 'standard') return;
  if (await ports.runCheck(record.options.check, hookEnv(record), record.options.hookTimeoutMs)) return;
  throw new VerificationFailedError(say`--check fails now that the old key ${displayText(record.oldKey.name)} is revoked: a consumer still uses the old key (it gets 401).`, {
    hint: say`Find it and give it the new key ${displayText(record.newKey.name)}; keyrot rotate --resume re-runs the check.`,
  });
}

/** Proof that the old key is gone when it cannot be tested: it is no longer listed. Returns the detail. */
export async function provenGoneByListing(record: RotationRecord, ports: RotationPorts): Promise<string> {
  let keys: ApiKey[];
  try {
    keys = await ports.provider.listKeys(record.userId);
  } catch (err) {
    // The admin key's own user: when the key just revoked was the admin key keyrot runs with, the
    // provider now rejects keyrot itself, which is the very proof sought.
    if (!(err instanceof AuthError) || record.options.usageSignalUsable) throw err;
    ports.warn(
      say`The old key ${displayText(record.oldKey.name)} was the admin key keyrot ran with, and it is now rejected. From now on use the new key ${displayText(record.newKey.name)} (keychain service "keyrot", account "${displayText(entryName(ports.store, keychainAccount(ports.provider.id, record.userId, record.newKey.id ?? '')))}").`,
    );
    return 'rejected (it was the admin key)';
  }
  if (keys.some((k) => k.id === record.oldKey.id)) {
    throw new VerificationFailedError(say`The old key ${displayText(record.oldKey.name)} is still listed after its deletion.`, {
      hint: say`keyrot rotate --resume deletes it again and re-checks.`,
    });
  }
  return 'no longer listed';
}
