// Step 2: the new key authenticates, reaches what the old key reaches, and has no twin of another run.
import { RotationConflictError, ScopeMismatchError, VerificationFailedError } from '../../../errors.js';
import type { ApiKey, AuthCheck } from '../../../providers/types.js';
import { deleteAndConfirm } from '../../delete-key.js';
import { keychainAccount } from '../../key-store.js';
import { shellArg } from '../../shell-arg.js';
import { addOthersKeyIds, ownUnheld } from '../ownership.js';
import { byOperator, newSecret, provedAuthenticates, save, type RotationPorts, type StepProgress, type StepResult } from '../ports.js';
import type { RotationRecord } from '../record.js';
import { TRANSITIONS } from '../transitions.js';
import { say, displayText } from '../../display-text.js';

/** Proves the new key authenticates. */
export async function verifyNewStep(record: RotationRecord, ports: RotationPorts, step: StepProgress): Promise<StepResult> {
  await stepBackFromTwin(record, ports);
  const secret = await newSecret(record, ports);
  const attempts = ports.verifyAttempts ?? 5;
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const check = await ports.provider.checkKey(secret);
    if (check.ok) {
      provedAuthenticates(ports, record.newKey.id ?? '');
      const scopes = await compareScopes(record, ports, check);
      ports.event('key.verified', { keyId: record.newKey.id, ...(check.limited ? { probe: 403 } : {}) });
      const details = [attempt > 1 ? `after ${attempt} attempts` : '', scopes].filter(Boolean);
      return { detail: details.length ? details.join('; ') : undefined };
    }
    last = check.message;
    if (attempt < attempts) {
      step.update(`not yet accepted (${check.reason}); retrying`);
      await ports.sleep((ports.verifyDelayMs ?? 1_000) * attempt);
    }
  }
  throw new VerificationFailedError(say`The new key ${displayText(record.newKey.name)} does not authenticate: ${displayText(last)}`, {
    hint: say`The old key is untouched. Retry with --resume, or roll back with --abort.`,
  });
}

/**
 * Another keyrot (another runner, with a state folder of its own) may be rotating this user at the same moment: its
 * new key then carries the same name as this run's. Whoever sees such a twin steps back before its key reaches a
 * consumer: it deletes its own new key and stops (exit 9), so two runs never leave two live new keys. Both may step
 * back; a rerun then finds the other's key (the next-generation check) or none, and goes on from there.
 */
export async function stepBackFromTwin(record: RotationRecord, ports: RotationPorts): Promise<void> {
  const id = record.newKey.id;
  if (!id || byOperator(ports.provider)) return;
  const twins = (await ports.provider.listKeys(record.userId)).filter((k) => k.name === record.newKey.name && k.id !== id && !record.preexistingKeyIds.includes(k.id));
  if (!twins.length) return;
  // Keys of this run's own creates whose answers were lost may be listed only now (a listing that lagged), but a lost
  // create may also have made nothing, and then a twin is another run's new key: nothing tells them apart. So this
  // run always steps back (deleting only the key it holds, which no consumer has yet), and names the twins it may
  // have made, for a person to delete the one nobody holds.
  const ownLost = Math.max(0, (ownUnheld(record) ?? 0) - 1);
  const unheld: ApiKey[] = [];
  for (const key of twins) if ((await ports.store.get(keychainAccount(ports.provider.id, record.userId, key.id))) === null) unheld.push(key);
  if (ownLost > 0)
    addOthersKeyIds(
      record,
      unheld.map((k) => k.id),
    );
  await deleteAndConfirm(ports.provider, record.userId, { id, name: record.newKey.name }, { secret: await newSecret(record, ports).catch(() => null), sleep: ports.sleep });
  await ports.store.delete(keychainAccount(ports.provider.id, record.userId, id));
  TRANSITIONS.forgetNewKey(record);
  await save(record, ports);
  const listed = twins.map((k) => `${k.name} (${k.id})`).join(', ');
  const mayBeOwn = ownLost > 0 && unheld.length > 0;
  const stepped = `This run stepped back: its new key ${id} is deleted, and ${record.oldKey.name} is untouched.`;
  throw new RotationConflictError(
    mayBeOwn
      ? say`${displayText(ports.provider.displayName)} lists ${displayText(listed)} beside this run's new key, and keyrot does not hold ${unheld.length === 1 ? say`it` : say`them`}: another keyrot's new key (a second runner rotating ${displayText(record.userEmail)}), or a key of this run's own whose create answer was lost and that the listing shows only now. Nothing tells which. ${displayText(stepped)}`
      : say`Another keyrot rotated ${displayText(record.userEmail)} at the same moment: ${displayText(ports.provider.displayName)} has ${displayText(listed)} beside this run's new key. ${displayText(stepped)}`,
    {
      hint: mayBeOwn
        ? say`If no other run is rotating ${displayText(record.userEmail)}, nobody holds ${displayText(unheld.map((k) => k.id).join(', '))}: delete ${unheld.length === 1 ? say`it` : say`them`} (keyrot revoke --user ${displayText(shellArg(record.userEmail))} --key <id>), then rotate again. Otherwise let the other run finish; its key is the one consumers get.`
        : say`Let the other run finish (another runner, or another state folder: keyrot status there shows it); its key is the one consumers get.`,
      facts: { concurrent: true },
    },
  );
}

/**
 * The new key's scopes against the old key's, where the provider can tell: listed scopes (copied at the create;
 * a provider that dropped one is caught), and the probe: 403 with the new key where the old key gets 2xx is the
 * rotation guides' "narrower scope" symptom. Throws ScopeMismatchError (exit 19; both keys stay live). Returns a detail.
 */
export async function compareScopes(record: RotationRecord, ports: RotationPorts, check: AuthCheck): Promise<string> {
  const { provider } = ports;
  const mismatch = (why: string) =>
    new ScopeMismatchError(say`Scope mismatch: ${displayText(why)}. Consumers given the new key would get 403 where the old key works (the new key has a narrower scope than the old one).`, {
      hint: byOperator(provider)
        ? say`Both keys stay live. Revoke ${displayText(record.newKey.name)} in the dashboard, roll back with --abort, and rotate again minting it with ${displayText(record.oldKey.name)}'s scopes.`
        : say`Both keys stay live. Roll back with --abort, then rotate again.`,
    });
  const oldScopes = record.oldKey.scopes ?? [];
  if (oldScopes.length && !byOperator(provider)) {
    const listed = (await provider.listKeys(record.userId)).find((k) => k.id === record.newKey.id);
    const missing = listed?.scopes ? oldScopes.filter((scope) => !listed.scopes?.includes(scope)) : [];
    if (missing.length) throw mismatch(`${record.newKey.name} lacks ${missing.join(', ')}, which ${record.oldKey.name} has`);
  }
  const copied = oldScopes.length ? `scopes ${oldScopes.join(' ')} as ${record.oldKey.name}` : '';
  if (!check.ok || (check.limited === undefined && check.reach === undefined)) return copied;
  const oldSecret = await ports.store.get(keychainAccount(provider.id, record.userId, record.oldKey.id));
  if (oldSecret === null) return check.limited === undefined ? copied : `valid: the probe answers 403 (${check.limited}); keyrot does not hold ${record.oldKey.name} to compare`;
  ports.protect(oldSecret);
  const old = await provider.checkKey(oldSecret);
  if (old.ok) {
    const refusedOnlyNew = refusedProbes(check).filter((probe) => !refusedProbes(old).includes(probe));
    // Where a provider names each refused probe, the entry carries that probe's own message.
    if (refusedOnlyNew.length)
      throw mismatch(
        `${refusedOnlyNew.length > 1 || check.refused ? refusedOnlyNew.join(' and ') : 'the probe'} answer${refusedOnlyNew.length > 1 ? '' : 's'} 403 to ${record.newKey.name}${check.refused ? '' : ` (${check.limited ?? ''})`} and 2xx to ${record.oldKey.name}`,
      );
    const unreached = check.reach && old.reach ? old.reach.filter((r) => !check.reach?.includes(r)) : [];
    if (unreached.length) {
      throw mismatch(`${record.newKey.name} does not reach ${unreached.join(', ')}, which ${record.oldKey.name} reaches: a key of another organization, or one with a narrower allow-list`);
    }
  }
  return check.limited === undefined ? copied || `reaches what ${record.oldKey.name} reaches` : `valid: the probe answers 403 (${check.limited}), as it does for ${record.oldKey.name}`;
}

/** The probes a key got 403 from (one unnamed probe where the provider has only one). */
export function refusedProbes(check: AuthCheck): string[] {
  if (!check.ok || check.limited === undefined) return [];
  return check.refused ?? ['the probe'];
}
