// Step 1: create the new key and store it before anything else can fail.
import { RotationConflictError } from '../../../errors.js';
import { entryName, keychainAccount } from '../../key-store.js';
import { shellArg } from '../../shell-arg.js';
import { createAndStoreKey, deleteOrphans } from '../../create-key.js';
import { maskFromLastChars, maskSecret } from '../../mask.js';
import { adoptHeldKey, countOrphansDeleted, keepOthersKeys, keptKeyIds, ownUnheld } from '../ownership.js';
import { byOperator, markStarted, operatorFlowOf, remember, save, type RotationPorts, type StepProgress, type StepResult } from '../ports.js';
import type { RotationRecord } from '../record.js';
import { TRANSITIONS } from '../transitions.js';

/** Creates the new key (or adopts/cleans up the one a lost answer may have made) and stores it. */
export async function createStep(record: RotationRecord, ports: RotationPorts, step: StepProgress): Promise<StepResult> {
  if (record.newKey.id) return { detail: `${record.newKey.name} already created` };
  if (byOperator(ports.provider)) return operatorFlowOf(ports).receiveMintedKey(record, ports);
  const req = { userId: record.userId, name: record.newKey.name, preexistingKeyIds: keptKeyIds(record), ...(record.oldKey.scopes ? { scopes: record.oldKey.scopes } : {}) };
  if (record.phaseStatus === 'started') {
    // Resuming a create that may have happened: adopt a key we hold, delete one we do not.
    const adopted = await adoptHeldKey(record, ports);
    if (adopted) return { detail: `${record.newKey.name} recovered from the keychain` };
    await keepOthersKeys(record, ports, () => deleteOrphans({ ...req, ownUnheld: ownUnheld(record) }, { ...ports, onOrphansDeleted: countOrphansDeleted(record, ports) }));
    await refuseWhileUntold(record, ports);
  }
  // A create never started: the count starts here (a journal of an older keyrot, mid-create, has none).
  if (record.phaseStatus === 'pending') record.createsSent ??= 0;
  await markStarted(record, ports);
  const stored = await keepOthersKeys(record, ports, () =>
    createAndStoreKey(
      { ...req, expiresAt: record.newKey.expiresAt ? new Date(record.newKey.expiresAt) : null, ownUnheldBefore: ownUnheld(record) },
      {
        provider: ports.provider,
        store: ports.store,
        rescue: ports.rescue,
        note: ports.note,
        sleep: ports.sleep,
        onCreateSent: async () => {
          record.createsSent = (record.createsSent ?? 0) + 1;
          await save(record, ports);
        },
        onOrphansDeleted: countOrphansDeleted(record, ports),
        onStored: async (key) => {
          remember(ports, key.id, key.secret);
          TRANSITIONS.holdNewKey(record, { id: key.id, lastChars: key.secret.slice(-5) });
          await save(record, ports);
          // Metadata for audits, off the rotation's path: it never fails the rotation, nor waits for the disk.
          void ports.keyCreated?.({ id: key.id, name: key.name, lastChars: record.newKey.lastChars, expiresAt: key.expiresAt }, record.userId);
          ports.event('key.created', { keyId: key.id, name: key.name, maskedKey: maskSecret(key.secret) });
          if (record.options.store !== 'none') {
            ports.event('keychain.written', { account: entryName(ports.store, keychainAccount(ports.provider.id, record.userId, key.id)), store: ports.store.description });
          }
        },
      },
    ),
  );
  return { detail: `id ${stored.key.id}, ${maskFromLastChars(record.newKey.lastChars)}` };
}

/**
 * Keys of the new key's name that this rotation could not tell from another's (othersKeyIds) and that are still
 * listed: one may be this rotation's own, live with its plaintext lost. Until a person has deleted the one nobody
 * holds (or the other run has finished with its own), no further key is made: a create now would leave two keys
 * beyond the old one, one of them held by nobody.
 */
async function refuseWhileUntold(record: RotationRecord, ports: RotationPorts): Promise<void> {
  const others = record.othersKeyIds ?? [];
  if (!others.length) return;
  const listed = (await ports.provider.listKeys(record.userId)).filter((k) => others.includes(k.id));
  if (!listed.length) return;
  throw new RotationConflictError(
    `${listed.map((k) => `${k.name} (${k.id})`).join(', ')} ${listed.length === 1 ? 'is' : 'are'} still listed: keys of the new key's name that this rotation cannot tell from another run's, one of which may be its own with the plaintext lost. keyrot makes no further key until they are settled.`,
    {
      hint: `Once the other run is done, delete the one of them nobody holds (keyrot revoke --user ${shellArg(record.userEmail)} --key <id>), then --resume; or roll back with --abort.`,
      facts: { unheldKeyIds: listed.map((k) => k.id) },
    },
  );
}
