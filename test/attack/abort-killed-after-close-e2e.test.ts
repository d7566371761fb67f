// Attack on --abort's deferred keychain drop (7735fde, findings6.md F2): --abort killed (kill -9, an OOM kill, a CI job
// cancelled hard) right after the journal write that closes the rotation lands, before it drops the deleted key's
// keychain entry and moves the journal to history/. The journal then says "aborted" where an unfinished rotation's
// sits, and the deleted key's plaintext is still in the keychain. keyrot used to offer --resume, which took the aborted
// record up again and handed the deleted key to the consumers. What such a kill leaves is made here by hand (the
// attacker's first version reached it with strace holding fsyncs, a race a loaded machine lost).
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { abortKilledAfterClose } from '../helpers/edited-journal.js';

describe.skipIf(!HAS_KEYCHAIN)('Attack: --abort killed right after its closing journal write', () => {
  it('Attack: the --resume keyrot then offers never hands the deleted new key to the consumers', async () => {
    const s = await abortKilledAfterClose();

    const resumed = await s.run('resume', ['rotate', '--user', s.user.email, '--resume', '--no-wait', '--yes']);

    // The finished journal is moved aside, not taken up again; the consumers keep the old key, which stays.
    expect(resumed.stderr).toMatch(/had been rolled back already; its journal is moved to/);
    expect(await readFile(s.keyFile, 'utf8')).toBe(s.oldKey.plaintext);
    expect(s.keys().map((k) => k.id)).toContain(s.oldKey.id);
  });
});
