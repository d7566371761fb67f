// How a stop is told: what is live, what next; and whether a stop left nothing to go on with.
import { KeyNotReturnedError, KeychainError, RotationConflictError, RotationIncompleteError, UsageError, isKeyrotError } from '../../errors.js';
import { rotateCommandOf, type RotationPorts } from './ports.js';
import { PHASES, PHASE_LABELS, canAbort, rollbackHasKey, type RotationRecord } from './record.js';
import { say, displayText } from '../display-text.js';

/**
 * Whether a stop left nothing to go on with: a create answered without a key (that key is deleted), or refused by
 * the provider (a 4xx: nothing was made). The record is then closed, not left for a --resume that would only send
 * the same request again.
 */
export function nothingCreated(record: RotationRecord, err: unknown): boolean {
  if (record.newKey.id !== null || !canAbort(record)) return false;
  if (err instanceof RotationConflictError && err.facts.concurrent === true) return true;
  // An answer without a key: the key it made is deleted (found by name, with any orphan of an earlier lost answer).
  if (err instanceof KeyNotReturnedError) return true;
  // A refusal after a lost answer, in this run or an earlier one: a key may have been made (the listing had not
  // shown it yet); --resume looks again.
  if (record.createOutcomeUnknown || (isKeyrotError(err) && err.facts.afterLostAnswer === true)) return false;
  // A wrong key pasted for a person's mint is a retry at the same step, not the end of the rotation.
  return record.phase === 'create' && record.awaiting !== 'mint' && (err instanceof UsageError || answered4xx(err));
}

/** The provider answered 4xx (a 403 for a role that may not issue keys, a 401, a 404): it refused, and made nothing. */
export function answered4xx(err: unknown): boolean {
  const status = isKeyrotError(err) ? err.facts.status : undefined;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/** The error to show when a rotation stops: the original code, plus what is live and how to go on. */
export function explainFailure(record: RotationRecord, err: unknown, ports: Pick<RotationPorts, 'invocation'>): unknown {
  if (!isKeyrotError(err)) return err;
  // A create answered without a key changed nothing (the key it made is deleted): there is nothing to go on with.
  if (nothingCreated(record, err)) return err;
  // Exit 8 promises that no key was created: a keychain failing once a new key is live is a stop part-way (12).
  if (err instanceof KeychainError && record.newKey.id !== null) {
    return explainFailure(
      record,
      new RotationIncompleteError(err.message, { cause: err, hint: say`Make the keychain available (unlocked) again.`, ...(err.data ? { data: err.data } : {}), facts: err.facts }),
      ports,
    );
  }
  const oldLive = canAbort(record)
    ? say` The old key is untouched.`
    : say` The old key ${displayText(record.oldKey.name)} is revoked (or being revoked)${PHASES[record.mode].indexOf(record.phase) < PHASES[record.mode].indexOf('hand-over') || record.handedOverAt ? say`` : say`: consumers need the new key now`}.`;
  const newName = displayText(record.newKey.name);
  const newHeld =
    !record.newKey.id || err.facts.newKeyUsable === false
      ? say``
      : record.options.store === 'none'
        ? say` The new key ${newName} is live; consumers have it, keyrot keeps no copy (--store none).`
        : say` The new key ${newName} is live and in the keychain.`;
  const command = displayText(rotateCommandOf(record, ports), 2000);
  const next = rollbackHasKey(record) ? say`${command} --resume to continue, or --abort to roll back` : say`${command} --resume to continue`;
  const hint = say`${err.hint ? say`${err.hint} ` : say``}Stopped at "${displayText(PHASE_LABELS[record.phase])}".${oldLive}${newHeld} Next: ${next}.`;
  // Keep the original class (and so its exit code); only the hint and data grow.
  return err.amend(hint, { rotationId: record.id, phase: record.phase, resumable: true });
}
