// A hand-edited rotation journal (see test/helpers/edited-journal.ts).
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { editedRotation } from '../helpers/edited-journal.js';

describe.skipIf(!HAS_KEYCHAIN)('a hand-edited journal', () => {
  it('junk in steps: a rotation that completes does not end in "Internal error" (exit 1)', async () => {
    const s = await editedRotation((r) => {
      r.steps = [null, 5];
    });
    const resumed = await s.run('resume', ['rotate', '--user', s.user.email, '--resume', '--no-wait', '--yes']);
    expect(resumed.stderr).not.toMatch(/Internal error/);
    // Either it refuses the journal as damaged (exit 14, nothing changed) or it reports the rotation it completed (0).
    expect([0, 14], resumed.stderr).toContain(resumed.code);
    // keyrot refuses it as damaged before any change: the old key is not revoked on the strength of a junk journal.
    expect(resumed.code, resumed.stderr).toBe(14);
    expect(resumed.stderr).toMatch(/damaged \(step 1 is not a step/);
    expect(s.keys().map((k) => k.id)).toContain(s.oldKey.id);
  });
});
