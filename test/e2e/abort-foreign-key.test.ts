// --abort must not trust the journal's newKey.id alone. A journal edited by hand (or restored from a backup of another
// rotation) that names a key keyrot never made and does not hold would lose a key someone else holds:
// the abort should delete only a key it can tie to this rotation (held in the keychain, or of the new key's name).
import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { journalPath, rotationSetup } from '../helpers/consumer.js';

describe.skipIf(!HAS_KEYCHAIN)('--abort of a hand-edited journal', () => {
  it('never deletes a key of the user that the rotation did not make and keyrot does not hold', async () => {
    const s = await rotationSetup({ email: 'ci@example.com' });
    const backup = s.keys().find((k) => k.name === 'ci-backup')!;
    const paused = await s.run('keep-old', ['rotate', '--user', s.user.email, '--key', s.oldKey.id, '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes']);
    expect(paused.code, paused.stderr).toBe(0);
    const file = journalPath(s.h, s.user.id);
    const record = JSON.parse(await readFile(file, 'utf8'));
    record.newKey.id = backup.id;
    await writeFile(file, JSON.stringify(record));
    const before = s.keys().length;
    const r = await s.run('abort', ['rotate', '--user', s.user.email, '--abort', '--yes']);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    // ci-backup belongs to someone else (never created by keyrot, not in the keychain): it must still be there.
    expect(s.keys().map((k) => k.id)).toContain(backup.id);
    // Refused (journal inconsistent with the provider), naming the key, and nothing deleted: the real new key stays too.
    expect(r.code, r.stderr).toBe(14);
    expect(r.stderr).toMatch(/ci-backup/);
    expect(s.keys().length).toBe(before);
  });
});
