// Attack: a journal whose new key is the old key (planted in a shared bucket or a state folder, or left by a bug).
// --resume must refuse it: "revoking the old key" would then delete the one key the consumers use.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collect, HAS_KEYCHAIN } from '../helpers/e2e.js';
import { authStatus, journalPath, rotationSetup, waitForJournal } from '../helpers/consumer.js';

describe.skipIf(!HAS_KEYCHAIN)('a journal naming one key as both old and new', () => {
  it('is refused by --resume, and the live key is not deleted', async () => {
    const s = await rotationSetup();
    await writeFile(join(s.dir, 'hook-hang'), '');
    const child = s.h.spawn(['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes']);
    const done = collect(child, 60_000);
    await waitForJournal(s.h, s.user.id, (j) => j.phase === 'hand-over');
    child.kill('SIGKILL');
    await done;
    const file = journalPath(s.h, s.user.id);
    const journal = JSON.parse(await readFile(file, 'utf8'));
    // The journal now names the old key as the new one too (planted, or a bug elsewhere).
    journal.newKey = { ...journal.newKey, id: s.oldKey.id };
    journal.phase = 'revoke';
    journal.phaseStatus = 'pending';
    await writeFile(file, JSON.stringify(journal, null, 2));
    const r = await s.run('resume', ['rotate', '--user', s.user.email, '--resume', '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(
      s.keys().map((k) => k.id),
      `resume exit ${r.code}: ${r.stderr.slice(0, 300)}`,
    ).toContain(s.oldKey.id);
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
    expect(r.code).not.toBe(0);
  }, 90_000);
});
