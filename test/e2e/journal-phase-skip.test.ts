// A hand-edited rotation journal (see test/helpers/edited-journal.ts).
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { editedRotation } from '../helpers/edited-journal.js';

describe.skipIf(!HAS_KEYCHAIN)('a hand-edited journal', () => {
  it("phase moved to 'revoke' before any hand-over: --resume does not revoke the old key consumers still use", async () => {
    const s = await editedRotation((r) => {
      r.phase = 'revoke';
      r.phaseStatus = 'pending';
    });
    const resumed = await s.run('resume', ['rotate', '--user', s.user.email, '--resume', '--no-wait', '--yes']);
    // The journal says the new key was never handed over (handedOverAt null, no hand-over step ok): the consumer's
    // key file still holds the old key, which --resume must not revoke.
    expect(await readFile(s.keyFile, 'utf8')).toBe(s.oldKey.plaintext);
    expect(
      s.keys().map((k) => k.id),
      resumed.stdout + resumed.stderr,
    ).toContain(s.oldKey.id);
    expect(resumed.code, resumed.stderr).toBe(14);
    expect(resumed.stderr).toMatch(/damaged \(phase revoke, but no hand-over step is recorded as done\)/);
  });
});
