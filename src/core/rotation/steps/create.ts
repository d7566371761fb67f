// Step 1: create the new key and store it before anything else can fail.
import { RotationConflictError } from '../../../errors.js';
import { entryName, keychainAccount } from '../../key-store.js';
import { shellArg } from '../../shell-arg.js';
import { createAndStoreKey, deleteOrphans, discardNewKey } from '../../create-key.js';
import type { CreatedKey } from '../../../providers/types.js';
import { maskFromLastChars, maskSecret } from '../../mask.js';
import { adoptHeldKey, countOrphansDeleted, keepOthersKeys, keptKeyIds, ownUnheld } from '../ownership.js';
import { byOperator, operatorFlowOf, remember, save, type RotationPorts, type StepProgress, type StepResult } from '../ports.js';
import type { RotationRecord } from '../record.js';
import { TRANSITIONS } from '../transitions.js';
import { say, displayText } from '../../display-text.js';

/** Creates the new key (or adopts/cleans up the one a lost answer may have made) and stores it. */
export async function createStep(record: RotationRecord, ports: RotationPorts, _step: StepProgress): Promise<StepResult> {
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
  // Written with the count, before the create is sent (onCreateSent is createAndStoreKey's first act): the journal
  // says the create may have happened before the provider can have made anything (machine.ts, stepSavesFirst).
  // Begun before this run when the journal said so: a failed write then leaves it begun.
  let begun = record.phaseStatus === 'started';
  TRANSITIONS.begin(record);
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
          const sent = record.createsSent;
          record.createsSent = (sent ?? 0) + 1;
          try {
            await save(record, ports);
          } catch (err) {
            // Not journaled, so not sent: the stop's own journal write must not claim a create that never happened
            // (a resume would take a key of the new name that nobody holds for this run's, and delete it).
            record.createsSent = sent;
            if (!begun) TRANSITIONS.noEffect(record);
            throw err;
          }
          begun = true;
        },
        onOrphansDeleted: countOrphansDeleted(record, ports),
        onStored: async (key) => {
          remember(ports, key.id, key.secret);
          TRANSITIONS.holdNewKey(record, { id: key.id, lastChars: key.secret.slice(-5) });
          await save(record, ports).catch((err: unknown) => discardFencedKey(record, ports, key, err));
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
 * A create sent while this run held the lock but answered after its lease lapsed and another runner took the
 * rotation over (a paused VM, a slow provider): the journal refuses this run's write, so the key just made is in no
 * journal, and its plaintext came to this run alone and was never handed over. It is deleted and confirmed gone, so
 * no untracked key stays live beside the taker's; if the delete fails, the plaintext goes to a rescue file and the
 * error says which key is live. Either way the run says what it did, never that it changed no key.
 */
async function discardFencedKey(record: RotationRecord, ports: RotationPorts, key: CreatedKey, err: unknown): Promise<never> {
  if (!(err instanceof RotationConflictError)) throw err;
  const { secret, ...made } = key;
  const what = `This run's lock lapsed and another keyrot runner took the rotation over while this run's create was in flight; the provider then made ${key.name} (${key.id}), which no journal tracks`;
  const data = { keyId: key.id, journal: err.data?.['record'] ?? null };
  const discarded = await discardNewKey(() => ports.provider, record.userId, made, secret, ports.rescue, ports.sleep);
  if (discarded.kind === 'rescued') {
    throw new RotationConflictError(say`${displayText(what)}. Deleting it failed: it is live, and its plaintext is in this machine's keychain and in ${displayText(discarded.path)} (mode 0600).`, {
      hint: say`Once the other runner is done (keyrot status), delete it: keyrot revoke --user ${displayText(shellArg(record.userEmail))} --key ${displayText(key.id)}.`,
      data,
    });
  }
  throw new RotationConflictError(say`${displayText(what)}: keyrot deleted it and confirmed it is gone. This run changed no other key; the runner that took over carries the rotation on.`, {
    hint: say`See keyrot status for the rotation the other runner carries on.`,
    data,
  });
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
    say`${displayText(listed.map((k) => `${k.name} (${k.id})`).join(', '))} ${listed.length === 1 ? say`is` : say`are`} still listed: keys of the new key's name that this rotation cannot tell from another run's, one of which may be its own with the plaintext lost. keyrot makes no further key until they are settled.`,
    {
      hint: say`Once the other run is done, delete the one of them nobody holds (keyrot revoke --user ${displayText(shellArg(record.userEmail))} --key <id>), then --resume; or roll back with --abort.`,
      facts: { unheldKeyIds: listed.map((k) => k.id) },
    },
  );
}
