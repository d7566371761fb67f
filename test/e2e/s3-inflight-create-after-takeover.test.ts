// Attack: fencing by journal version stops a lapsed holder's next journal write, but not a provider call it had
// already sent. Runner 1 writes "create started", sends the create, and is paused (SIGSTOP) with its request in
// flight; its lease lapses; runner 2 resumes, finds no new key yet, and makes its own; then runner 1's create lands.
// The user must end with one new key, and the old holder must not say it stopped "before changing any key".
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { collect, HAS_KEYCHAIN } from '../helpers/e2e.js';
import { rotationSetup } from '../helpers/consumer.js';
import { freshBucket, HAS_CEPH, s3Env, useCeph } from '../helpers/s3.js';

useCeph();

describe.skipIf(!HAS_KEYCHAIN || !HAS_CEPH)('a lapsed holder with a create in flight (Ceph RGW)', () => {
  it('leaves exactly one new key live, and does not claim it changed nothing', async () => {
    const s = await rotationSetup();
    const b = await freshBucket();
    const env = (name: string, extra: Record<string, string> = {}) => ({ XDG_STATE_HOME: join(s.dir, name), KEYROT_STATE_DIR: b.root, ...s3Env(), ...extra });
    // Runner 1's create reaches the provider late (a slow network, a paused VM whose packets were queued).
    s.h.sandbox.addFault({ method: 'POST', path: '/users/*/apikeys', action: 'delay', delayMs: 9_000, times: 1 });
    const old = s.h.spawn(['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes', '--json'], { env: env('runner1', { KEYROT_LEASE_SECONDS: '2' }) });
    const oldDone = collect(old, 60_000);
    const until = Date.now() + 20_000;
    while ((await b.read(`rotations/vultr-${s.user.id}.json`).catch(() => null))?.phaseStatus !== 'started' && Date.now() < until) await sleep(50);
    await sleep(300);
    old.kill('SIGSTOP');
    await sleep(3_500);
    const taker = await s.run('taker', ['rotate', '--user', s.user.email, '--resume', '--on-new-key', s.hook, '--no-wait', '--yes'], { env: env('runner2') });
    expect(taker.code, taker.stderr).toBe(0);
    await sleep(9_500);
    old.kill('SIGCONT');
    const fenced = s.sc.output('fenced', await oldDone);
    const names = s.keys().map((k) => `${k.name}`);
    expect(names, `old holder exit ${fenced.code}: ${fenced.stderr.slice(0, 400)}`).toEqual(['ops-deploy-v2']);
    if (fenced.code === 9) expect(fenced.stderr).not.toMatch(/before changing any key/);
  }, 90_000);
});
