// Attack on e828344 (hand-over.ts refuseDeadKey) in the emergency order (create, verify-new, revoke, verify-old,
// hand-over). An --emergency rotation whose hand-over hook failed has the old key revoked already; the new key is then
// deleted (a colleague cleaning up, a key expired by --expires). The --resume is refused, rightly, with "Create a new
// key with keyrot create and hand it over yourself." The user does; but the rotation's journal stays where an
// unfinished rotation's sits, and no keyrot command can ever close it: --resume is refused again (the dead key),
// --abort is refused (the old key is revoked), and every new rotate of that user is refused ("has an unfinished
// rotation … Continue it with --resume"). The user can never rotate that key with keyrot again without editing state
// files by hand.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { readJournal, rotationSetup } from '../helpers/consumer.js';

describe.skipIf(!HAS_KEYCHAIN)('Attack: an --emergency hand-over whose new key is rejected', () => {
  it('Attack: after the refusal, following its hint leaves the user able to rotate again', async () => {
    const s = await rotationSetup();
    await writeFile(join(s.dir, 'hook-fail'), '');
    const first = await s.run('first', ['rotate', '--user', s.user.email, '--emergency', '--on-new-key', s.hook, '--yes']);
    expect(first.code, first.stderr).toBe(12);
    const record = await readJournal(s.h, s.user.id);
    expect(record.phase).toBe('hand-over');
    expect(s.keys().map((k) => k.id)).not.toContain(s.oldKey.id);
    // The new key goes (deleted by someone else, or expired).
    const gone = await s.h.asAdmin('DELETE', `/users/${s.user.id}/apikeys/${record.newKey.id}`);
    expect(gone.status).toBeLessThan(300);
    await rm(join(s.dir, 'hook-fail'));

    const resumed = await s.run('resume', ['rotate', '--user', s.user.email, '--resume', '--yes']);
    expect(resumed.code, resumed.stderr).toBe(12);
    expect(resumed.stderr).toMatch(/is rejected by Vultr .*Close the rotation with --abort \(nothing is left to roll back\), then create a key with keyrot create/s);
    expect(resumed.stderr).not.toMatch(/is live/);
    // Nothing was handed over: the consumers still have the (revoked) old key.
    expect(s.keys()).toHaveLength(0);

    // The hint, followed: --abort closes the rotation (it deletes nothing: nothing works), then keyrot create.
    const abort = await s.run('abort', ['rotate', '--user', s.user.email, '--abort', '--yes']);
    expect(abort.code, abort.stderr).toBe(0);
    expect(abort.stderr).toMatch(/no key of this rotation works/);
    const made = await s.run('create', ['create', '--user', s.user.email, '--name', 'replacement', '--on-new-key', s.hook, '--yes']);
    expect(made.code, made.stderr).toBe(0);
    expect(s.keys().map((k) => k.name)).toEqual(['replacement']);
  });
});
