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
    // The journal is named as damaged (status done before the finish step), never read as a finished rotation.
    expect(st.stdout + st.stderr).toMatch(/damaged|status done, but the rotation never finished/i);
    // Both keys are live at the provider: no line may show only the new one as live.
    for (const live of st.stdout.split('\n').filter((l) => /^\s+live\s/.test(l))) expect(live, st.stdout).toContain(s.oldKey.id);
    expect(st.stdout).toMatch(/Damaged journals \(1\)/);
  });
});
