// Step 7: the old key's keychain entry goes.
import { keychainAccount } from '../../key-store.js';
import type { RotationPorts, StepProgress, StepResult } from '../ports.js';
import type { RotationRecord } from '../record.js';
import { say, displayText } from '../../display-text.js';

/** Drops the old key's entry and says what the keychain holds. */
export async function finishStep(record: RotationRecord, ports: RotationPorts, _step: StepProgress): Promise<StepResult> {
  await ports.store.delete(keychainAccount(ports.provider.id, record.userId, record.oldKey.id));
  if (record.options.store === 'none') return { detail: `keyrot keeps no copy of ${record.newKey.name} (--store none): the consumers have it` };
  // Said only when true: the entry is read, not assumed.
  const held = record.newKey.id ? await ports.store.get(keychainAccount(ports.provider.id, record.userId, record.newKey.id)) : null;
  if (held === null) {
    ports.warn(say`The keychain no longer holds the new key ${displayText(record.newKey.name)}: keyrot holds no key of ${displayText(record.userEmail)}.`);
    return { detail: `the keychain holds no key of ${record.userEmail}` };
  }
  return { detail: `the keychain holds only ${record.newKey.name} for ${record.userEmail}` };
}
