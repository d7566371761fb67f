// Rotations shared across runners through an S3 bucket (--state-dir s3://BUCKET/PREFIX), against a real Ceph RGW
// started for this file: runners have separate homes (and, where said, no keychain), and share only the bucket.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { collect, HAS_KEYCHAIN, json, type RunResult } from '../helpers/e2e.js';
import { createsFor, rotationSetup, type RotationSetup } from '../helpers/consumer.js';
import { freshBucket, HAS_CEPH, s3Env, useCeph } from '../helpers/s3.js';

useCeph();

const NO_KEYCHAIN = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus' };
const changes = (s: RotationSetup) => s.h.sandbox.requests().filter((q) => q.method !== 'GET');

/** A runner: its own home (state folder for what stays local), the shared bucket, and `extra` variables. */
async function runnerEnv(s: RotationSetup, name: string, root: string, extra: Record<string, string> = {}) {
  return { XDG_STATE_HOME: join(s.dir, name), KEYROT_STATE_DIR: root, ...s3Env(), ...extra };
}

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe().catch(() => null);
    if (got) return got;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Ends a hook left hanging by `hook-hang` (its sleep), so the runner it belongs to goes on. */
async function releaseHook(s: RotationSetup): Promise<void> {
  await rm(join(s.dir, 'hook-hang'), { force: true });
  const pid = Number((await import('node:fs/promises').then((fs) => fs.readFile(join(s.dir, 'hook.pid'), 'utf8')).catch(() => '0')).trim());
  if (pid) spawnSync('pkill', ['-P', String(pid), 'sleep']);
}

describe.skipIf(!HAS_KEYCHAIN || !HAS_CEPH)('shared state in an S3 bucket (Ceph RGW)', () => {
  it('two runners start rotating one user at once: exactly one rotates, the other exits 9 before any change', async () => {
    const s = await rotationSetup();
    const b = await freshBucket();
    // The winner's hand-over hangs until the loser has answered, so the loser meets a rotation under way.
    await writeFile(join(s.dir, 'hook-hang'), '');
    const args = ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes', '--json'];
    const one = collect(s.h.spawn(args, { env: await runnerEnv(s, 'runner1', b.root) }), 60_000);
    // The second runner has no keychain at all: --store none, the key goes through the hook only.
    const two = collect(s.h.spawn([...args, '--store', 'none'], { env: await runnerEnv(s, 'runner2', b.root, NO_KEYCHAIN) }), 60_000);
    const first = await Promise.race([one.then((r) => ['one', r] as const), two.then((r) => ['two', r] as const)]);
    const [, loser] = first;
    expect(loser.code, loser.stderr).toBe(9);
    expect(json(loser).error.message).toMatch(/Another keyrot runner \(host .+, pid \d+, since .+\) is working on the keys of ops@example.com/);
    await releaseHook(s);
    const winner = s.sc.output('winner', await (first[0] === 'one' ? two : one));
    s.sc.output('loser', loser);
    expect(winner.code, winner.stderr).toBe(0);
    // One create, one delete (the old key), and the user has exactly the new key.
    expect(createsFor(s.h, s.user.id)).toHaveLength(1);
    expect(changes(s).filter((q) => q.method === 'DELETE')).toHaveLength(1);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy-v2']);
    // The records are in the bucket: the journal archived, the lock released (an empty object), no secret there.
    const keys = await b.keys();
    expect(keys.some((k) => k.startsWith('team/rotations/history/'))).toBe(true);
    expect(await b.read(`rotations/vultr-${s.user.id}.json`)).toBeNull();
    expect(await b.read(`locks/vultr-${s.user.id}.lock`)).toBeNull();
    for (const k of keys) s.sc.output(`bucket ${k}`, { code: 0, signal: null, stdout: JSON.stringify(await b.read(k.slice('team/'.length)).catch(() => '')), stderr: '' });
    expect(await s.sc.leaks()).toEqual([]);
  });

  it('a rotation killed with kill -9 on one runner is finished by --resume on another (--store none), once the lease lapsed', async () => {
    const s = await rotationSetup();
    const b = await freshBucket();
    const lease = { KEYROT_LEASE_SECONDS: '5' };
    // Both runners headless, as in CI: no keychain, the key goes to its consumers through the hook; its check does
    // not pass yet (the consumers are not on the new key), so it waits in the wait phase until it is killed.
    const child = s.h.spawn(['rotate', '--user', s.user.email, '--store', 'none', '--on-new-key', s.hook, '--check', 'false', '--wait-timeout', '60s', '--poll-interval', '200ms', '--yes'], {
      env: await runnerEnv(s, 'runner1', b.root, { ...lease, ...NO_KEYCHAIN }),
    });
    const done = collect(child, 60_000);
    await waitFor('the wait phase in the bucket', async () => (await b.read(`rotations/vultr-${s.user.id}.json`))?.phase === 'wait');
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    const killedAt = Date.now();
    const runner2 = await runnerEnv(s, 'runner2', b.root, NO_KEYCHAIN);
    // Within the lease the dead runner's lock still holds, and the message says when it ends.
    const early = await s.run('early resume', ['rotate', '--user', s.user.email, '--resume', '--store', 'none', '--no-wait', '--yes'], { env: runner2 });
    expect(early.code, early.stderr).toBe(9);
    expect(early.stderr).toMatch(/lease ends at/);
    // keyrot status on the other runner reads the shared journal; here the bucket is named by a profile's state-dir.
    const config = join(s.dir, 'config');
    await mkdir(join(config, 'keyrot'), { recursive: true });
    await writeFile(join(config, 'keyrot', 'config'), `[team]\nstate-dir = ${b.root}\n`);
    const status = await s.run('status', ['--profile', 'team', 'status', '--json'], { env: { ...runner2, KEYROT_STATE_DIR: undefined, XDG_CONFIG_HOME: config } });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.stringify(json(status))).toContain(s.user.id);
    // keyrot audit there reads it too: the user's unfinished rotation is named.
    const audit = await s.run('audit', ['audit', '--json'], { env: runner2 });
    expect(audit.stdout, audit.stderr).toContain('"newKeyName": "ops-deploy-v2"');
    await sleep(Math.max(0, killedAt + 6_500 - Date.now()));
    // keyrot there holds no copy of the new key: --check proves the consumers work with it (they call the API with it).
    const check = join(s.dir, 'check.mjs');
    await writeFile(
      check,
      `const key = (await import('node:fs')).readFileSync(${JSON.stringify(s.keyFile)}, 'utf8').trim();\nconst r = await fetch(${JSON.stringify(`${s.h.sandbox.url}/account`)}, { headers: { Authorization: 'Bearer ' + key } });\nprocess.exit(r.status === 200 ? 0 : 1);\n`,
    );
    const resumed = await s.run('resume', ['rotate', '--user', s.user.email, '--resume', '--store', 'none', '--check', `node '${check}'`, '--no-wait', '--yes'], { env: runner2 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy-v2']);
    expect(createsFor(s.h, s.user.id)).toHaveLength(1);
    expect(await b.read(`rotations/vultr-${s.user.id}.json`)).toBeNull();
    expect(await s.sc.leaks()).toEqual([]);
  });

  it('a lease taken over fences the old holder: paused past its lease, it is stopped by the store before any change', async () => {
    const s = await rotationSetup();
    const b = await freshBucket();
    await writeFile(join(s.dir, 'hook-hang'), '');
    const args = ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes', '--json'];
    const old = s.h.spawn(args, { env: await runnerEnv(s, 'runner1', b.root, { KEYROT_LEASE_SECONDS: '2' }) });
    const oldDone = collect(old, 60_000);
    await waitFor('the hand-over', async () => (await b.read(`rotations/vultr-${s.user.id}.json`))?.phase === 'hand-over');
    // A paused VM: it renews nothing while stopped.
    old.kill('SIGSTOP');
    await sleep(3_500);
    await releaseHook(s);
    const taker = await s.run('taker', ['rotate', '--user', s.user.email, '--resume', '--on-new-key', s.hook, '--no-wait', '--yes'], { env: await runnerEnv(s, 'runner2', b.root) });
    expect(taker.code, taker.stderr).toBe(0);
    const before = changes(s).length;
    old.kill('SIGCONT');
    const fenced = s.sc.output('fenced', await oldDone);
    expect(fenced.code, fenced.stderr).toBe(9);
    expect(json(fenced).error.message).toMatch(/was changed by another keyrot runner/);
    // The old holder changed nothing at the provider after it woke up; one key, the new one, is live.
    expect(changes(s).length).toBe(before);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy-v2']);
    expect(createsFor(s.h, s.user.id)).toHaveLength(1);
  });

  it('rotate --all keeps its batch record and every journal in the bucket, and archives them there', async () => {
    const s = await rotationSetup();
    const b = await freshBucket();
    const r = await s.run('all', ['rotate', '--all', '--store', 'none', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes', '--json'], { env: await runnerEnv(s, 'runner1', b.root, NO_KEYCHAIN) });
    expect(r.code, r.stderr).toBe(0);
    const keys = await b.keys();
    expect(keys.filter((k) => k.startsWith('team/batches/history/'))).toHaveLength(1);
    expect(keys.filter((k) => k.startsWith('team/rotations/history/')).length).toBeGreaterThan(1);
    expect(await b.read('batches/vultr.json')).toBeNull();
    // Nothing of it in the runner's local folder but what must stay there.
    const local = await readdir(join(s.dir, 'runner1'), { recursive: true, withFileTypes: true }).catch(() => []);
    expect(local.filter((e) => e.isFile()).map((e) => e.name)).toEqual([]);
    expect(await s.sc.leaks()).toEqual([]);
  });

  it('bad credentials, a missing bucket: one clear line, exit 14, nothing changed', async () => {
    const s = await rotationSetup();
    const b = await freshBucket();
    const args = ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes'];
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['bad credentials', await runnerEnv(s, 'r1', b.root, { AWS_SECRET_ACCESS_KEY: 'wrong-secret' }), /refused keyrot's credentials \(HTTP 403/],
      ['missing bucket', await runnerEnv(s, 'r2', 's3://keyrot-no-such-bucket/team'), /does not exist at http:\/\/127\.0\.0\.1:\d+ \(HTTP 404 NoSuchBucket\)/],
    ];
    for (const [label, env, message] of cases) {
      const r: RunResult = await s.run(label, args, { env });
      expect(r.code, `${label}: ${r.stderr}`).toBe(14);
      const errorLines = r.stderr.split('\n').filter((l) => /^error/i.test(l));
      expect(errorLines, label).toHaveLength(1);
      expect(errorLines[0], label).toMatch(message);
      expect(r.stderr).not.toContain('wrong-secret');
    }
    expect(changes(s)).toEqual([]);
    expect(s.keys().map((k) => k.name)).toEqual([s.oldKey.name]);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('a store that ignores conditional writes (s3rver)', () => {
  it('is refused with one line naming its answer, before any change', async () => {
    // @ts-expect-error: s3rver ships no types.
    const { default: S3rver } = await import('s3rver');
    const dir = await mkdtemp(join(tmpdir(), 'keyrot-s3rver-'));
    const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: 'fake-bucket' }] });
    const { port } = (await server.run()) as { port: number };
    try {
      const s = await rotationSetup();
      const env = {
        XDG_STATE_HOME: join(s.dir, 'r'),
        KEYROT_STATE_DIR: 's3://fake-bucket/team',
        AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
      };
      const r = await s.run('s3rver', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes'], { env });
      expect(r.code, r.stderr).toBe(14);
      expect(r.stderr).toMatch(/ignores conditional writes: a second create of one object with If-None-Match: \* answered HTTP 200, not 412/);
      expect(changes(s)).toEqual([]);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
