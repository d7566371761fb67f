// A hand-edited rotation journal (see test/helpers/edited-journal.ts).
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { editedRotation } from '../helpers/edited-journal.js';

describe.skipIf(!HAS_KEYCHAIN)('a hand-edited journal', () => {
  it('a journal of a newer keyrot (version 2) is not called damaged with advice to set it aside', async () => {
    const s = await editedRotation((r) => {
      r.version = 2;
    });
    const resumed = await s.run('resume', ['rotate', '--user', s.user.email, '--resume', '--no-wait', '--yes']);
    expect(resumed.code).not.toBe(0);
    expect(resumed.stderr).not.toMatch(/is damaged/);
    expect(resumed.code, resumed.stderr).toBe(14);
    expect(resumed.stderr).toMatch(/written by a newer keyrot/);
    expect(resumed.stderr).toMatch(/Upgrade keyrot/);
    expect(resumed.stderr).not.toMatch(/\bmv\b/);
  });
});
