// keyrot as a CI step meets it: no terminal, CI=true, flags only; GitHub Actions integration; headless
// runners without a keychain (--store none).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { HAS_KEYCHAIN, harness, json, lines } from '../helpers/e2e.js';
import { parseOutputs } from '../helpers/github-server.js';
import { authStatus, consumerCheck, rotationSetup } from '../helpers/consumer.js';
import { inProcess } from '../helpers/in-process.js';

const ANSI = /\x1b\[/;
const NO_KEYCHAIN = { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus' };

describe.skipIf(!HAS_KEYCHAIN)('keyrot in CI', () => {
  it('a rotation with CI=true prints no escape sequences, and plain timestamped step lines', async () => {
    const s = await rotationSetup();
    const c = await s.consumer();
    const r = await s.run('ci rotate', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--check', consumerCheck(s), '--poll-interval', '200ms', '--yes'], {
      env: { NO_COLOR: undefined, TERM: 'xterm-256color' },
    });
    await c.stop();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(ANSI);
    const steps = r.stderr.split('\n').filter((l) => /[✔–]/.test(l));
    expect(steps.length).toBeGreaterThanOrEqual(7);
    for (const line of steps) expect(line).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z /);
    expect(await s.sc.leaks()).toEqual([]);
  });

  it('under GitHub Actions: ::add-mask:: (on stderr) precedes the hand-over, stdout stays pure JSON lines, and the step summary is written', async () => {
    const s = await rotationSetup();
    const summary = join(s.dir, 'step-summary.md');
    await writeFile(summary, '');
    const c = await s.consumer();
    const r = await s.main('gha rotate', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--check', consumerCheck(s), '--poll-interval', '200ms', '--yes', '--events'], {
      env: { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary },
    });
    await c.stop();
    expect(r.code, r.stderr).toBe(0);
    const newKey = s.keys().find((k) => k.name === 'ops-deploy-v2')!;
    // stdout is NDJSON only, and holds no secret: the mask command goes to stderr, which the runner also reads.
    const out = r.stdout.split('\n').filter(Boolean);
    for (const line of out) expect(() => JSON.parse(line)).not.toThrow();
    expect(r.stdout).not.toContain(newKey.plaintext);
    const err = r.stderr.split('\n');
    const mask = err.indexOf(`::add-mask::${newKey.plaintext}`);
    expect(mask).toBeGreaterThanOrEqual(0);
    expect(mask).toBeLessThan(err.findIndex((l) => l.includes('Hand the new key to consumers')));
    expect(r.stderr.split(newKey.plaintext).length - 1).toBe(1);

    const md = await readFile(summary, 'utf8');
    expect(md).toContain(`keyrot: rotated \`${s.user.email}\``);
    expect(md).toContain('ops-deploy-v2');
    expect(md).toContain(`****${newKey.plaintext.slice(-5)}`);
    for (const secret of s.sc.secrets) expect(md).not.toContain(secret);
  });

  it('without GITHUB_ACTIONS there is no ::add-mask:: line', async () => {
    const s = await rotationSetup();
    const r = await s.main('plain', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--no-wait', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('::add-mask::');
    expect(json(r).status).toBe('done');
  });

  it('--events on a command without steps prints one result event', async () => {
    const h = await harness();
    const r = await inProcess(h, ['list-users', '--events']);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ type: 'result', command: 'list-users' });
    expect(lines[0].data.map((u: { email: string }) => u.email)).toContain('ops@example.com');
  });
});

describe.skipIf(!HAS_KEYCHAIN)('a headless runner without a keychain', () => {
  it('rotate says so before any change, and points at --store none with --on-new-key', async () => {
    const s = await rotationSetup();
    const r = await s.run('no keychain', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--check', consumerCheck(s), '--yes'], { env: NO_KEYCHAIN });
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/--store none/);
    expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
  });

  it('--store none hands the key on through the hook only and finishes the rotation', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const c = await s.consumer();
    const r = await s.run('store none', ['rotate', '--user', s.user.email, '--store', 'none', '--on-new-key', s.hook, '--check', consumerCheck(s), '--poll-interval', '200ms', '--yes', '--json'], {
      env: NO_KEYCHAIN,
    });
    const stats = await c.stop();
    expect(r.code, r.stderr).toBe(0);
    expect(stats.rejected).toBe(0);
    const keys = s.keys();
    expect(keys.map((k) => k.name)).toEqual(['ops-deploy-v2']);
    expect((await readFile(s.keyFile, 'utf8')).trim()).toBe(keys[0]!.plaintext);
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(401);
    expect(await s.sc.leaks()).toEqual([]);
  });

  it('--store none: a failing hook deletes the new key (nobody holds it) and leaves the old key live', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    await writeFile(join(s.dir, 'hook-fail'), '');
    const r = await s.run('store none fail', ['rotate', '--user', s.user.email, '--store', 'none', '--on-new-key', s.hook, '--no-wait', '--yes'], { env: NO_KEYCHAIN });
    expect(r.code).toBe(12);
    expect(r.stderr).toMatch(/deleted the new key ops-deploy-v2/);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy']);
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
    // --resume creates a fresh key and finishes once the hook works.
    await import('node:fs/promises').then((fs) => fs.rm(join(s.dir, 'hook-fail')));
    const resumed = await s.run('store none resume', ['rotate', '--user', s.user.email, '--store', 'none', '--resume', '--no-wait', '--yes'], { env: NO_KEYCHAIN });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy-v2']);
    expect(await s.sc.leaks()).toEqual([]);
  });

  it('--store none without --on-new-key is refused before any call', async () => {
    const h = await harness();
    const r = await h.run(['rotate', '--user', 'ops@example.com', '--store', 'none', '--yes'], { env: NO_KEYCHAIN });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--on-new-key/);
    expect(h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
  });

  it('under GitHub Actions, --json is one document without the key (also with create --reveal, where only "secret" holds it), and provider text cannot issue workflow commands', async () => {
    const s = await rotationSetup();
    await fetch(`${s.h.sandbox.controlUrl}/keys/${s.oldKey.id}`, { method: 'POST', body: JSON.stringify({ name: 'x\n::add-mask::leak\n::error::pwned' }) });
    const r = await s.main('gha json', ['rotate', '--user', s.user.id, '--on-new-key', s.hook, '--no-wait', '--yes', '--json', '--verbose'], { env: { GITHUB_ACTIONS: 'true' } });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    const newKey = s.h.sandbox.snapshot().users.find((u) => u.id === s.user.id)!.keys[0]!;
    expect(doc.newKey.id).toBe(newKey.id);
    expect(r.stdout).not.toContain(newKey.plaintext);
    expect(r.stderr.split('\n').filter((l) => /^\s*::/.test(l))).toEqual([`::add-mask::${newKey.plaintext}`]);
    const created = await s.main('gha reveal', ['create', '--user', s.user.id, '--name', 'shown', '--reveal', '--json'], { env: { GITHUB_ACTIONS: 'true' } });
    const shown = JSON.parse(created.stdout);
    expect(created.stderr).toContain(`::add-mask::${shown.secret}`);
    expect(created.stdout.split(shown.secret).length - 1).toBe(1);
  });

  it('a nightly policy run that selects nothing: exit 0, says so, --json an empty selection, job outputs say nothing-selected', async () => {
    const h = await harness();
    const dir = await mkdtemp(join(tmpdir(), 'keyrot-ci-'));
    const outputs = join(dir, 'github-output');
    const args = ['rotate', '--all', '--expiring-within', '30d', '--match', 'nothing-due-*', '--store', 'none', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes'];
    const plain = await h.run(args, { env: NO_KEYCHAIN });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^No key matches the selection: nothing to rotate\./);
    const r = await h.run([...args, '--json'], { env: { ...NO_KEYCHAIN, GITHUB_ACTIONS: 'true', GITHUB_OUTPUT: outputs } });
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toMatchObject({ batchId: null, outcome: 'nothing-selected', counts: { keys: 0 }, rotations: [] });
    expect(parseOutputs(await readFile(outputs, 'utf8'))).toMatchObject({ outcome: 'nothing-selected', keys: '0', rotated: '0', rotations: '[]' });
    const dry = await inProcess(h, [...args, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('No key matches the selection: nothing to rotate.');
    expect(h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it('--dry-run without --yes and without a keychain: the selection and plan, then each check the real run would stop on, and its exit code', async () => {
    const h = await harness();
    const r = await h.run(['rotate', '--all', '--match', 'ops-*', '--on-new-key', 'cat >/dev/null', '--no-wait', '--dry-run'], { env: NO_KEYCHAIN });
    expect(r.code).toBe(ExitCode.keychain);
    expect(r.stdout).toMatch(/^Dry run: nothing will change\. 1 key of 1 user selected:\nUSER\s+KEY/);
    expect(r.stdout).toContain('Each rotation would:');
    expect(r.stdout).toMatch(/\n {2}✔ the state folder .* is writable/);
    expect(r.stdout).toMatch(/\n {2}✖ keychain: /);
    expect(r.stdout).toMatch(/\n {2}✖ consent: Rotating 1 key revokes each old key: pass --yes to confirm without a terminal\./);
    expect(lines(r.stderr).at(-1)).toMatch(/--dry-run: the real run would stop before any change \(keychain: .*\); nothing was changed\.$/);
    const j = await h.run(['rotate', '--all', '--match', 'ops-*', '--store', 'none', '--on-new-key', 'cat >/dev/null', '--no-wait', '--dry-run', '--json'], { env: NO_KEYCHAIN });
    expect(j.code).toBe(ExitCode.usage);
    expect(JSON.parse(j.stdout)).toMatchObject({ dryRun: true, keys: [{ keyName: 'ops-deploy' }], preflightFailed: [{ check: 'consent', error: { code: 'usage', exitCode: 2 } }] });
    expect(h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('evidence a pipeline can give (Vultr: activity per user)', () => {
  it('without a terminal and without --check: refused before any change, naming --check, --keep-old and --no-wait', async () => {
    const s = await rotationSetup();
    const r = await s.main('no evidence', ['rotate', '--user', s.user.email, '--on-new-key', s.hook, '--yes']);
    expect(r.code).toBe(ExitCode.usage);
    expect(lines(r.stderr).filter((l) => l.includes('error:'))).toHaveLength(1);
    expect(r.stderr).toMatch(/Nothing would show that the consumers use the new key: Vultr reports activity per user, and a consumer still on the old key moves it/);
    expect(r.stderr).toMatch(/--check CMD.*--keep-old GRACE.*--no-wait/);
    expect(s.h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
  });

  it('traffic on the old key is no evidence: the old key stays live until --check passes', async () => {
    const s = await rotationSetup();
    // The consumer keeps calling with the old key (the hook installs nothing), so the user's activity moves.
    const c = await s.consumer();
    const r = await s.main('old traffic', [
      'rotate',
      '--user',
      s.user.email,
      '--on-new-key',
      'cat >/dev/null',
      '--check',
      consumerCheck(s),
      '--wait-timeout',
      '3s',
      '--poll-interval',
      '200ms',
      '--yes',
    ]);
    const stats = await c.stop();
    expect(r.code).toBe(ExitCode.waitTimeout);
    expect(stats.calls).toBeGreaterThan(0);
    expect(stats.rejected).toBe(0);
    expect(await authStatus(s.h, s.oldKey.plaintext)).toBe(200);
    expect(
      s
        .keys()
        .map((k) => k.name)
        .sort(),
    ).toEqual(['ops-deploy', 'ops-deploy-v2']);
  });

  it('rotate --to dotenv with --check: goes on as soon as the check passes; job outputs name the keys, never a plaintext', async () => {
    const s = await rotationSetup();
    const envFile = join(s.dir, 'app.env');
    await writeFile(envFile, `OTHER=1\nVULTR_API_KEY=${s.oldKey.plaintext}\n`);
    const outputs = join(s.dir, 'github-output');
    // The app reads VULTR_API_KEY from its .env: the check proves the key there works and is not the old one.
    const fromEnv = join(s.dir, 'from-env');
    const check = `sed -n 's/^VULTR_API_KEY=//p' '${envFile}' > '${fromEnv}' && ${consumerCheck({ ...s, keyFile: fromEnv })}`;
    const r = await s.main('to dotenv', ['rotate', '--user', s.user.email, '--to', `dotenv:${envFile}#VULTR_API_KEY`, '--check', check, '--yes'], {
      env: { GITHUB_ACTIONS: 'true', GITHUB_OUTPUT: outputs },
    });
    expect(r.code, r.stderr).toBe(0);
    const [fresh] = s.keys();
    expect(fresh!.name).toBe('ops-deploy-v2');
    expect(await readFile(envFile, 'utf8')).toBe(`OTHER=1\nVULTR_API_KEY=${fresh!.plaintext}\n`);
    const out = await readFile(outputs, 'utf8');
    expect(parseOutputs(out)).toEqual({ 'user-id': s.user.id, 'user-email': s.user.email, 'new-key-id': fresh!.id, 'new-key-name': 'ops-deploy-v2', 'old-key-id': s.oldKey.id, outcome: 'rotated' });
    for (const secret of [fresh!.plaintext, s.oldKey.plaintext]) expect(out).not.toContain(secret);
  });

  it('--abort gives a --to destination the old key back (keyrot holds it), then deletes the new key', async () => {
    const s = await rotationSetup();
    const envFile = join(s.dir, 'app.env');
    const started = await s.main('keep old', ['rotate', '--user', s.user.email, '--to', `dotenv:${envFile}#K`, '--keep-old', '7d', '--yes']);
    expect(started.code, started.stderr).toBe(0);
    const fresh = s.keys().find((k) => k.name === 'ops-deploy-v2')!;
    expect(await readFile(envFile, 'utf8')).toBe(`K=${fresh.plaintext}\n`);
    const aborted = await s.main('abort', ['rotate', '--user', s.user.email, '--abort', '--yes']);
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(aborted.stderr).toMatch(/Give the old key ops-deploy back to dotenv:/);
    expect(await readFile(envFile, 'utf8')).toBe(`K=${s.oldKey.plaintext}\n`);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy']);
  });

  it('--resume that could never finish is refused at once: --store none without --check; and --abort --yes says what the prompt says', async () => {
    const s = await rotationSetup({ holdOldKey: false });
    const first = await s.run('keep old', ['rotate', '--user', s.user.email, '--store', 'none', '--on-new-key', s.hook, '--keep-old', '1s', '--yes'], { env: NO_KEYCHAIN });
    expect(first.code, first.stderr).toBe(0);
    const started = Date.now();
    const resumed = await s.run('resume', ['rotate', '--user', s.user.email, '--store', 'none', '--resume', '--yes'], { env: NO_KEYCHAIN });
    expect(resumed.code).toBe(ExitCode.usage);
    expect(resumed.stderr).toMatch(/keeps no copy of ops-deploy-v2 \(--store none\): it cannot prove the new key works before revoking ops-deploy\.[^]*Pass --check CMD with --resume/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(
      s
        .keys()
        .map((k) => k.name)
        .sort(),
    ).toEqual(['ops-deploy', 'ops-deploy-v2']);
    const aborted = await s.run('abort', ['rotate', '--user', s.user.email, '--store', 'none', '--abort', '--yes'], { env: NO_KEYCHAIN });
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(aborted.stderr).toMatch(/warning: Consumers were given ops-deploy-v2 at \S+: any that switched to it fail once it is deleted\./);
    expect(s.keys().map((k) => k.name)).toEqual(['ops-deploy']);
  });
});
