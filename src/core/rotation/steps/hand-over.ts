// Step 3: the new key reaches its consumers.
import { CancelledError, RotationIncompleteError } from '../../../errors.js';
import { entryName, keychainAccount } from '../../key-store.js';
import { freshlyProven, markStarted, newSecret, save, type RotationPorts, type StepProgress, type StepResult } from '../ports.js';
import { canAbort, hookEnv, type HookProcess, type RotationRecord } from '../record.js';
import { say, displayText } from '../../display-text.js';

/**
 * A hook an earlier run journaled and did not see end (keyrot was killed): stopped, and gone, before this run
 * discards the key it was given or hands over another. Else it could finish last and install a deleted key.
 */
export async function stopOrphanedHook(record: RotationRecord, ports: RotationPorts): Promise<void> {
  const proc = record.hookProcess;
  if (!proc) return;
  if (ports.stopHook && (await ports.stopHook(proc))) {
    ports.note(say`Stopped the --on-new-key hook an interrupted run left running (process group ${proc.pid}) before going on.`);
  }
  record.hookProcess = null;
  await save(record, ports);
}

/**
 * Runs --on-new-key with the journal naming its process group while it runs, so a run killed meanwhile leaves the next
 * one what to stop (stopOrphanedHook). Every hand-over hook goes through here, --self's included.
 */
export async function runJournaledHook(record: RotationRecord, ports: RotationPorts, secret: string, env: Record<string, string>): Promise<void> {
  const journalHook = async (proc: HookProcess | null) => {
    record.hookProcess = proc;
    await save(record, ports);
  };
  try {
    await ports.runHook(record.options.onNewKey ?? '', secret, env, record.options.hookTimeoutMs, journalHook);
  } finally {
    // Ended (or stopped by keyrot): nothing left for a later run to stop.
    if (record.hookProcess) await journalHook(null).catch(() => undefined);
  }
}

/** Hands the new key to its consumers. */
export async function handOverStep(record: RotationRecord, ports: RotationPorts, _step: StepProgress): Promise<StepResult> {
  const secret = await newSecret(record, ports);
  await refuseDeadKey(record, ports, secret);
  await markStarted(record, ports);
  let detail: string;
  try {
    detail = await handOver(record, ports, secret);
  } catch (err) {
    // "Nothing was changed" (a prompt's usual words) is false here: say what is live.
    if (err instanceof CancelledError) {
      const old = canAbort(record) ? `the old key ${record.oldKey.name} is untouched` : `the old key ${record.oldKey.name} is revoked`;
      throw new CancelledError(say`Cancelled at the hand-over: the new key ${displayText(record.newKey.name)} is live; ${displayText(old)}.`);
    }
    throw err;
  }
  // The usage baseline is taken after the hand-over, on the provider's clock: any later activity counts.
  record.handedOverAt = ports.now().toISOString();
  if (record.mode === 'standard' && record.options.usageSignalUsable && !record.options.noWait) {
    const seen = await ports.provider.observeUsage(record.userId, record.newKey.id ?? '');
    record.usageBaseline = seen.lastUsedAt?.toISOString() ?? null;
  }
  return { detail };
}

/**
 * --to: each destination gets the key in turn, and is journaled as having it before the next is tried, so that
 * --abort knows whom to give the old key back and a resumed hand-over knows where the new one already is (a
 * destination written again gets the same value: delivery is idempotent). Returns the step's detail, '' for none.
 */
async function deliverToDestinations(record: RotationRecord, ports: RotationPorts, secret: string): Promise<string> {
  const targets = record.options.to ?? [];
  if (!targets.length) return '';
  if (!ports.deliverTo) throw new Error('--to needs a deliverTo port');
  for (const target of targets) {
    await ports.deliverTo(target, secret);
    if (!(record.deliveredTo ??= []).includes(target)) record.deliveredTo.push(target);
    await save(record, ports);
    ports.event('destination.done', { keyId: record.newKey.id, target });
  }
  return `delivered to ${targets.join(', ')}`;
}

/** Gives the new key to the consumers (the hook, or the operator in a terminal); returns the step's detail. */
export async function handOver(record: RotationRecord, ports: RotationPorts, secret: string): Promise<string> {
  const adopted = (await ports.adoptNewKey?.(secret, record)) ?? null;
  const detail = await handOverToConsumers(record, ports, secret);
  return adopted ? `${adopted}; ${detail}` : detail;
}

export async function handOverToConsumers(record: RotationRecord, ports: RotationPorts, secret: string): Promise<string> {
  if (ports.deliver) return ports.deliver(secret, record);
  const destinations = await deliverToDestinations(record, ports, secret);
  if (record.options.onNewKey) {
    await runJournaledHook(record, ports, secret, hookEnv(record));
    ports.event('hook.done', { keyId: record.newKey.id });
    return destinations ? `${destinations}; hook succeeded` : 'hook succeeded';
  }
  if (destinations) return destinations;
  if (ports.confirmHandover) {
    const account = entryName(ports.store, keychainAccount(ports.provider.id, record.userId, record.newKey.id ?? ''));
    const ok = await ports.confirmHandover(`Update every consumer of ${record.oldKey.name} to the new key ${record.newKey.name} (keychain service "keyrot", account "${account}"). Done?`);
    if (!ok) throw new CancelledError(say`Hand-over not confirmed.`);
    return 'confirmed by the operator';
  }
  return 'no hook: consumers read the new key from the keychain';
}

/**
 * A key this run did not just prove is tried before it is handed over: a resumed hand-over may find it deleted (an
 * --abort that stopped once it had deleted it leaves the journal and the keychain entry), and consumers given a dead
 * key stop working. Only a rejection (401) stops it: a 403 or an IP refusal is a key that works where its consumers are.
 */
async function refuseDeadKey(record: RotationRecord, ports: RotationPorts, secret: string): Promise<void> {
  const id = record.newKey.id ?? '';
  if (freshlyProven(ports, id) !== null) return;
  const check = await ports.provider.checkKey(secret);
  if (check.ok || check.reason !== 'rejected') return;
  const holding = record.deliveredTo?.length ? say` ${displayText(record.deliveredTo.join(', '))} already ${record.deliveredTo.length === 1 ? say`holds` : say`hold`} it.` : say``;
  throw new RotationIncompleteError(
    say`The new key ${displayText(record.newKey.name)} (${displayText(id)}) is rejected by ${displayText(ports.provider.displayName)} (deleted or revoked): keyrot hands it to no one more, and the old key ${displayText(record.oldKey.name)} is ${displayText(canAbort(record) ? 'untouched' : 'revoked')}.${holding}`,
    {
      hint: canAbort(record)
        ? say`Roll back with --abort${record.deliveredTo?.length ? say` (it gives the old key back to them)` : say``}, then rotate again.`
        : say`Close the rotation with --abort (nothing is left to roll back), then create a key with keyrot create and hand it over.`,
      facts: { newKeyUsable: false },
    },
  );
}
