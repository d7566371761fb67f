// A hand-edited rotation journal (see test/helpers/edited-journal.ts).
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { editedRotation } from '../helpers/edited-journal.js';

describe.skipIf(!HAS_KEYCHAIN)('a hand-edited journal', () => {
  it("status 'done' while both keys are live: status does not say the old key is gone", async () => {
    const s = await editedRotation((r) => {
      r.status = 'done';
    });
    const st = await s.run('status', ['status']);
    expect(st.code, st.stderr).toBe(0);
    // Both keys are live at the provider; status must not list only the new one as live.
    const live = st.stdout.split('\n').find((l) => /^\s+live\s/.test(l)) ?? '';
    expect(live, st.stdout).toContain(s.oldKey.id);
  });
});
