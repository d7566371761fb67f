// Attack on e828344 (hand-over.ts refuseDeadKey): the refusal says the rejected new key "is not handed over". A resumed
// hand-over is often one that got part of the way: --to destinations are written (and journaled, deliveredTo) before
// the --on-new-key hook runs. When that hook failed, and the new key is then deleted or revoked, the --resume stops
// with "it is not handed over" while the .env destination holds exactly that dead key: the operator, told nothing
// was handed over, has no reason to roll back (--abort gives the old key back to the destination) and leaves the
// consumer reading the file on a dead key.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN } from '../helpers/e2e.js';
import { readJournal, rotationSetup } from '../helpers/consumer.js';

describe.skipIf(!HAS_KEYCHAIN)('Attack: a dead new key refused at a resumed hand-over that had reached a destination', () => {
  it('Attack: the refusal does not say "not handed over" when a --to destination holds the dead key; --abort then repairs it', async () => {
    const s = await rotationSetup();
    const env = join(s.dir, 'app.env');
    await writeFile(env, `API_KEY=${s.oldKey.plaintext}\n`);
    await writeFile(join(s.dir, 'hook-fail'), '');
    const args = ['rotate', '--user', s.user.email, '--to', `dotenv:${env}#API_KEY`, '--on-new-key', s.hook, '--no-wait', '--yes'];
    const first = await s.run('first', args);
    expect(first.code, first.stderr).toBe(12);
    const record = await readJournal(s.h, s.user.id);
    expect(record.deliveredTo).toEqual([`dotenv:${env}#API_KEY`]);
    const dead = s.keys().find((k) => k.id === record.newKey.id)!.plaintext;
    expect(await readFile(env, 'utf8')).toContain(dead);
    const gone = await s.h.asAdmin('DELETE', `/users/${s.user.id}/apikeys/${record.newKey.id}`);
    expect(gone.status).toBeLessThan(300);
    await rm(join(s.dir, 'hook-fail'));

    const resumed = await s.run('resume', [...args, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(12);
    // The .env file still holds the deleted key.
    expect(await readFile(env, 'utf8')).toContain(dead);

    // The hinted way out works: --abort gives the old key back to the destination; a new rotation then runs.
    const abort = await s.run('abort', ['rotate', '--user', s.user.email, '--abort', '--yes']);
    expect(abort.code, abort.stderr).toBe(0);
    expect(await readFile(env, 'utf8')).toContain(s.oldKey.plaintext);

    // What happens: "… is rejected by Vultr (deleted or revoked): it is not handed over, and the old key … is untouched.
    // (… The new key ops-deploy-v2 is live and in the keychain. Next: … --resume to continue, or --abort …)": the
    // destination holding the dead key goes unsaid, the key just found deleted is called live, and --resume (refused
    // again, every time) is offered first.
    expect(resumed.stderr).not.toMatch(/it is not handed over/);
    expect(resumed.stderr).not.toMatch(/is live/);
    expect(resumed.stderr).toContain(env);
  });
});
