// Attack on today's journal change (core/rotation/machine.ts stepSavesFirst, steps/create.ts): a fresh rotation's
// first journal write is now the one in onCreateSent, made after createsSent was counted up and inside the step's
// try. When that write fails (a full disk, an S3 store answering 503), the create is not sent, but the failure path
// records the stop with saveBeside, and a store that takes that second write (space freed, a store back) is left with
// a journal saying "create started, 1 create sent". Before today the first write was at runRotation's start, outside
// the try: it failed alone and nothing was journaled. A --resume (or --abort) then believes one key of the new name
// may be its own with the plaintext lost, and deletes a key of that name that keyrot does not hold: another's key
// (a person's, or a second runner's with another state folder), which this rotation never made.
import { describe, expect, it } from 'vitest';
import { abortRotation, runRotation } from '../../src/core/rotation.js';
import { setUp } from './engine-harness.js';

async function failedFirstWrite() {
  const t = setUp();
  t.setHookFails(false);
  t.journal.failSaves = 1;
  const stop = await runRotation(t.record, t.ports).then(
    () => null,
    (e: unknown) => e,
  );
  expect(stop).toBeInstanceOf(Error);
  // The create was never sent.
  expect(t.provider.calls.filter((c) => c.method === 'createKey')).toHaveLength(0);
  return t;
}

describe('Attack: a fresh rotation whose first journal write fails', () => {
  it('Attack: the journal left behind does not say a create was sent when none was', async () => {
    const t = await failedFirstWrite();
    const last = t.saves.at(-1);
    // Before today: no journal at all. On perf: { phase: 'create', phaseStatus: 'started', createsSent: 1 }.
    expect(last?.createsSent ?? 0).toBe(0);
  });

  it("Attack: --resume after it deletes no key of the new name that keyrot does not hold (another's key)", async () => {
    const t = await failedFirstWrite();
    const journal = t.saves.at(-1);
    if (!journal) return; // No journal: nothing to resume, nothing deleted (the behaviour before today).
    // Meanwhile a person (or a runner with another state folder) made a key of that name; keyrot does not hold it.
    const others = t.provider.addKey('user-1', 'ops-deploy-v2');
    await runRotation(structuredClone(journal), t.ports).catch(() => undefined);
    expect(t.provider.deleted.map((k) => k.id)).not.toContain(others.id);
  });

  it("Attack: --abort after it deletes no key of the new name that keyrot does not hold (another's key)", async () => {
    const t = await failedFirstWrite();
    const journal = t.saves.at(-1);
    if (!journal) return;
    const others = t.provider.addKey('user-1', 'ops-deploy-v2');
    await abortRotation(structuredClone(journal), t.ports).catch(() => undefined);
    expect(t.provider.deleted.map((k) => k.id)).not.toContain(others.id);
  });
});
