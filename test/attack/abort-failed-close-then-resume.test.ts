// Attack on --abort's deferred keychain drop (src/core/rotation/abort.ts, 7735fde): the entries of the keys --abort
// deleted are now dropped only AFTER the journal write that closes the rotation. When that write fails (a full disk,
// an S3 state store answering 503 past its retries, a fenced save) or keyrot is killed just before it, the journal
// still says the rotation is live at the hand-over, and the keychain still holds the plaintext of a key that is
// deleted at the provider. `keyrot status` says "--resume or --abort"; a --resume then reads that plaintext
// (newSecret) and hands the DELETED key to the consumers (--on-new-key, --to): they switch to a dead key, an outage,
// while the old key they were using still works. Before the change the entry went with the confirmed delete, and the
// same --resume stopped at "The new key … is not in the keychain any more. Roll back with --abort".
import { describe, expect, it } from 'vitest';
import { abortRotation, runRotation } from '../../src/core/rotation.js';
import { KeyrotError, StateError } from '../../src/errors.js';
import { say } from '../../src/ui/display-text.js';
import { setUp, stopAtHandOver } from './engine-harness.js';

describe('Attack: --abort whose closing journal write fails, then --resume', () => {
  it('Attack: a --resume after an --abort that deleted the new key but could not close the journal never hands the deleted key to the consumers', async () => {
    const t = setUp();
    const { stopped, newKey } = await stopAtHandOver(t);

    // --abort: the old key is fine, so the roll-back goes on and deletes the new key (confirmed gone at the
    // provider); its one journal write, the one that closes the rotation, fails.
    t.journal.failSaves = 1;
    const aborted = await abortRotation(structuredClone(stopped), t.ports).then(
      () => null,
      (e: unknown) => e,
    );
    expect(aborted).toBeInstanceOf(KeyrotError);
    expect(t.provider.deleted.map((k) => k.id)).toContain(newKey.id);
    // The journal on disk is still the stopped rotation (its last landed write).
    expect(t.saves.at(-1)).toEqual(stopped);

    // The operator (or CI) follows `keyrot status` ("Next: --resume … or --abort") and resumes with the hook fixed.
    t.setHookFails(false);
    const handed: string[] = [];
    // A new process: its ports hold nothing from the runs before (keyrot keeps a run's keys in memory per ports).
    const resumePorts = {
      ...t.ports,
      runHook: async (...args: Parameters<typeof t.ports.runHook>) => {
        handed.push(args[1]);
        return t.ports.runHook(...args);
      },
    };
    await runRotation(structuredClone(stopped), resumePorts).then(
      () => null,
      (e: unknown) => e,
    );

    // What should happen: the resume stops before the hand-over (the new key is not held any more / is gone), as it
    // did before the change. On perf: the hook is given the deleted key's plaintext.
    expect(handed).not.toContain(newKey.secret);
    // The old key, which the consumers still run with, is never revoked.
    expect(t.provider.keys.map((k) => k.id)).toContain(t.oldKey.id);
  });

  it('Attack: with --to, the destination the --abort gave the old key back to is not then given the deleted key', async () => {
    const t = setUp();
    // --to vault: the destination takes the new key, then the hook fails: the rotation stops at the hand-over.
    t.record.options.to = ['vault:secret/app#API_KEY'];
    const vault: string[] = [];
    t.ports.deliverTo = async (_target, secret) => {
      vault.push(secret);
    };
    const { stopped, newKey } = await stopAtHandOver(t);
    expect(vault.at(-1)).toBe(newKey.secret);

    // --abort gives the old key back to the destination (journaled), deletes the new key; the closing write fails.
    let writes = 0;
    const abortPorts = {
      ...t.ports,
      save: async (record: Parameters<typeof t.ports.save>[0]) => {
        if (++writes === 2) throw new StateError(say`Could not write the rotation journal: no space left on device.`);
        return t.ports.save(record);
      },
    };
    await abortRotation(structuredClone(stopped), abortPorts).catch(() => undefined);
    expect(vault.at(-1)).toBe(t.oldKey.secret);
    expect(t.provider.deleted.map((k) => k.id)).toContain(newKey.id);

    // --resume (a new process), hook fixed.
    t.setHookFails(false);
    await runRotation(structuredClone(t.saves.at(-1)!), { ...t.ports }).catch(() => undefined);

    // What should happen: the destination keeps the old key, which works. On perf: it is overwritten with the
    // deleted key.
    expect(vault.at(-1)).not.toBe(newKey.secret);
    expect(vault.at(-1)).toBe(t.oldKey.secret);
  });
});
