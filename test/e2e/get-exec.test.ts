// keyrot get and keyrot exec as consumers use them: the key keyrot holds for a user, to a pipe or into a
// command's environment, following rotations without naming the keychain account that changes with each one.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HAS_KEYCHAIN, collect, json } from '../helpers/e2e.js';
import { journalPath, readJournal, rotationSetup as setup, type RotationSetup } from '../helpers/consumer.js';
import { inProcess } from '../helpers/in-process.js';
import { HAS_TMUX, startTerminal, type Terminal } from '../helpers/tmux.js';

const OPS = 'ops@example.com';

/** The secrets a test met must not show on stderr or in keyrot's state files (stdout of get is the point). */
async function expectNoLeaksBesidesStdout(s: RotationSetup, ...runs: Array<{ stderr: string }>): Promise<void> {
  s.sc.snap();
  for (const r of runs) for (const secret of s.sc.secrets) expect(r.stderr.includes(secret), `stderr holds ****${secret.slice(-5)}`).toBe(false);
  for (const file of await s.h.stateFiles()) for (const secret of s.sc.secrets) expect(file.text.includes(secret), `${file.path} holds a secret`).toBe(false);
}

describe.skipIf(!HAS_KEYCHAIN)('keyrot get', () => {
  it('prints exactly the held key to a pipe: no newline, nothing else; stderr holds no secret', async () => {
    const s = await setup();
    const r = await inProcess(s.h, ['get', '--user', OPS]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(s.oldKey.plaintext);
    await expectNoLeaksBesidesStdout(s, r);
  });

  it('--json: one document naming the key and its keychain account, with the plaintext in "secret"', async () => {
    const s = await setup();
    const r = await inProcess(s.h, ['get', '--user', OPS, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toEqual({
      userId: s.user.id,
      userEmail: OPS,
      keyId: s.oldKey.id,
      name: 'ops-deploy',
      account: `vultr:${s.user.id}:${s.oldKey.id}`,
      why: 'only',
      secret: s.oldKey.plaintext,
    });
    const events = await inProcess(s.h, ['get', '--user', OPS, '--events']);
    expect(events.code).toBe(2);
    expect(events.stdout).not.toContain(s.oldKey.plaintext);
  });

  it('under GitHub Actions the runner is told to mask the key (on stderr) before it is printed; stdout stays the key alone', async () => {
    const s = await setup();
    const r = await inProcess(s.h, ['get', '--user', OPS], { env: { GITHUB_ACTIONS: 'true' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(s.oldKey.plaintext);
    expect(r.stderr.split('\n')).toContain(`::add-mask::${s.oldKey.plaintext}`);
  });

  it('a user whose key keyrot does not hold: exit 5, nothing on stdout', async () => {
    const s = await setup({ holdOldKey: false });
    const r = await inProcess(s.h, ['get', '--user', OPS]);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/keyrot holds no key of ops@example\.com/);
    const named = await inProcess(s.h, ['get', '--user', OPS, '--key', 'ops-deploy']);
    expect(named.code, named.stderr).toBe(5);
    expect(named.stdout).toBe('');
  });

  it('a new key that expired during the grace period is not handed out: the old key, which still works', async () => {
    const s = await setup();
    const paused = await s.main('keep-old', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes']);
    expect(paused.code, paused.stderr).toBe(0);
    const newKey = s.keys().find((k) => k.name === 'ops-deploy-v2')!;
    await fetch(`${s.h.sandbox.controlUrl}/keys/${newKey.id}`, { method: 'POST', body: JSON.stringify({ date_expire: '2020-01-01T00:00:00Z' }) });
    const r = await inProcess(s.h, ['get', '--user', OPS]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(s.oldKey.plaintext);
  });

  it('a new key not proven yet is never handed out, even when keyrot does not hold the old key: exit 5 saying so', async () => {
    const s = await setup({ holdOldKey: false });
    const paused = await s.main('keep-old', ['rotate', '--user', OPS, '--key', 'ops-deploy', '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes']);
    expect(paused.code, paused.stderr).toBe(0);
    // As it would be had the new key failed its proof (verify-new).
    const record = await readJournal(s.h, s.user.id);
    await writeFile(journalPath(s.h, s.user.id), JSON.stringify({ ...record, phase: 'verify-new', phaseStatus: 'pending', status: 'failed' }));
    for (const args of [
      ['get', '--user', OPS],
      ['exec', '--user', OPS, '--', 'true'],
    ]) {
      const r = await s.h.run(args);
      expect(r.code, r.stderr).toBe(5);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/keyrot holds no proven key of ops@example\.com: its rotation has not proven the new key ops-deploy-v2 yet/);
    }
  });

  it('an expired key is never handed out: with an expired and a live key held, the live one; with only expired ones, exit 5', async () => {
    const s = await setup();
    const expire = (id: string) => fetch(`${s.h.sandbox.controlUrl}/keys/${id}`, { method: 'POST', body: JSON.stringify({ date_expire: '2020-01-01T00:00:00Z' }) });
    const made = await s.main('create', ['create', '--user', OPS, '--name', 'ops-spare', '--yes']);
    expect(made.code, made.stderr).toBe(0);
    const spare = s.keys().find((k) => k.name === 'ops-spare')!;
    await expire(s.oldKey.id);
    const r = await inProcess(s.h, ['get', '--user', OPS]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(spare.plaintext);
    await expire(spare.id);
    const none = await inProcess(s.h, ['get', '--user', OPS]);
    expect(none.code, none.stderr).toBe(5);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/keyrot holds no usable key of ops@example\.com: .*expired/);
  });

  it('follows a rotation: the new key once it is stored and proven (paused --keep-old), still after --resume; the old key before that', async () => {
    const s = await setup();
    const paused = await s.main('keep-old', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', '--keep-old', '--yes']);
    expect(paused.code, paused.stderr).toBe(0);
    const newKey = s.keys().find((k) => k.name === 'ops-deploy-v2')!;
    // Both keys are live and held: the one consumers must move to is the new one.
    const during = await inProcess(s.h, ['get', '--user', OPS]);
    expect(during.code, during.stderr).toBe(0);
    expect(during.stdout).toBe(newKey.plaintext);
    expect(during.stderr).toMatch(/Using the new key ops-deploy-v2 .*unfinished/);
    // --key still picks either.
    expect((await inProcess(s.h, ['get', '--user', OPS, '--key', 'ops-deploy'])).stdout).toBe(s.oldKey.plaintext);

    // The same rotation as it would be had it stopped before proving the new key: consumers keep the old key.
    const record = await readJournal(s.h, s.user.id);
    await writeFile(journalPath(s.h, s.user.id), JSON.stringify({ ...record, phase: 'verify-new', phaseStatus: 'pending', status: 'failed' }));
    const unproven = await inProcess(s.h, ['get', '--user', OPS]);
    expect(unproven.code, unproven.stderr).toBe(0);
    expect(unproven.stdout).toBe(s.oldKey.plaintext);
    expect(unproven.stderr).toMatch(/Using the old key ops-deploy .*not proven/);
    await writeFile(journalPath(s.h, s.user.id), JSON.stringify(record));

    const resumed = await s.main('resume', ['rotate', '--user', OPS, '--resume', '--yes']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const after = await inProcess(s.h, ['get', '--user', OPS]);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toBe(newKey.plaintext);
    expect(after.stderr).toBe('');
    await expectNoLeaksBesidesStdout(s, during, unproven, after);
  });
});

const terminals: Terminal[] = [];
afterEach(() => {
  while (terminals.length) terminals.pop()?.kill();
});

describe.skipIf(!HAS_KEYCHAIN || !HAS_TMUX)('keyrot get in a terminal asks first', () => {
  function open(s: RotationSetup, args: string[]): Terminal {
    const { CI: _ci, ...env } = s.h.env;
    const t = startTerminal(args, env, s.dir);
    terminals.push(t);
    return t;
  }

  it('No (the default) prints nothing and exits 130; Yes prints the key; --reveal does not ask', async () => {
    const s = await setup();
    const no = open(s, ['get', '--user', OPS]);
    await no.waitFor(/Print the plaintext of ops-deploy \(\*{4}\w{5}\) of ops@example\.com on this terminal\?/);
    no.send('Enter');
    const refused = await no.waitFor(/KEYROT-EXIT=\d+/);
    expect(no.exitCode(), refused).toBe(130);
    expect(refused).not.toContain(s.oldKey.plaintext);

    const yes = open(s, ['get', '--user', OPS]);
    await yes.waitFor(/Print the plaintext/);
    yes.send('y', true);
    yes.send('Enter');
    const shown = await yes.waitFor(/KEYROT-EXIT=\d+/);
    expect(yes.exitCode(), shown).toBe(0);
    // On a terminal the key ends with a newline, so the shell's next line does not run into it.
    expect(shown).toMatch(new RegExp(`^${s.oldKey.plaintext}$`, 'm'));

    const reveal = open(s, ['get', '--user', OPS, '--reveal']);
    const revealed = await reveal.waitFor(/KEYROT-EXIT=\d+/);
    expect(reveal.exitCode(), revealed).toBe(0);
    expect(revealed).not.toMatch(/Print the plaintext/);
    expect(revealed).toContain(s.oldKey.plaintext);
  });

  it('a "y" typed before the question is shown is no consent: discarded, the question is asked, Enter (No) prints nothing', async () => {
    const s = await setup();
    // A slow provider: the question comes a second after the command starts, and the typist is faster.
    s.h.sandbox.addFault({ method: 'GET', path: '/users', action: 'delay', delayMs: 2000 });
    const t = open(s, ['get', '--user', OPS]);
    await new Promise((r) => setTimeout(r, 400));
    t.send('y', true);
    t.send('Enter');
    await t.waitFor(/discarded[^]*Print the plaintext/);
    t.send('Enter');
    const screen = await t.waitFor(/KEYROT-EXIT=\d+/);
    expect(t.exitCode(), screen).toBe(130);
    expect(screen).not.toContain(s.oldKey.plaintext);
  });

  it('stdout on a terminal with nobody to ask (CI set): refused with exit 2 before anything is read, unless --reveal', async () => {
    const s = await setup();
    const t = startTerminal(['get', '--user', OPS], { ...s.h.env, CI: 'true' }, s.dir);
    terminals.push(t);
    const screen = await t.waitFor(/KEYROT-EXIT=\d+/);
    expect(t.exitCode(), screen).toBe(2);
    expect(screen).toMatch(/stdout is a terminal.*--reveal/);
    expect(screen).not.toContain(s.oldKey.plaintext);
    expect(s.h.sandbox.requests()).toEqual([]);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('keyrot exec', () => {
  it('runs the command with the held key in VULTR_API_KEY (not in argv) and exits with its code', async () => {
    const s = await setup();
    const out = join(s.dir, 'exec');
    const script = `printf %s "$VULTR_API_KEY" > '${out}.env'; tr '\\0' ' ' < /proc/$$/cmdline > '${out}.argv'; exit 7`;
    const r = await s.h.run(['exec', '--user', OPS, '--', 'sh', '-c', script]);
    expect(r.code, r.stderr).toBe(7);
    expect(await readFile(`${out}.env`, 'utf8')).toBe(s.oldKey.plaintext);
    expect(await readFile(`${out}.argv`, 'utf8')).not.toContain(s.oldKey.plaintext);
    const ok = await s.h.run(['exec', '--user', OPS, '--', 'true']);
    expect(ok.code, ok.stderr).toBe(0);
    await expectNoLeaksBesidesStdout(s, r, ok);
  });

  it('under GitHub Actions the runner is told to mask the key before the command runs, so what the command logs is masked', async () => {
    const s = await setup();
    const r = await s.h.run(['exec', '--user', OPS, '--', 'sh', '-c', 'echo "command ran" >&2'], { env: { GITHUB_ACTIONS: 'true' } });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n');
    expect(lines).toContain(`::add-mask::${s.oldKey.plaintext}`);
    expect(lines.indexOf(`::add-mask::${s.oldKey.plaintext}`)).toBeLessThan(lines.indexOf('command ran'));
  });

  it('--env NAME: the key in that variable, and the admin key keyrot ran with is not passed on', async () => {
    const s = await setup();
    const out = join(s.dir, 'env.txt');
    const r = await s.h.run(['exec', '--user', OPS, '--env', 'DEPLOY_KEY', '--', 'sh', '-c', `env > '${out}'`]);
    expect(r.code, r.stderr).toBe(0);
    const env = await readFile(out, 'utf8');
    expect(env).toContain(`DEPLOY_KEY=${s.oldKey.plaintext}\n`);
    expect(env).not.toContain(s.h.sandbox.adminKey);
    expect(env).not.toMatch(/^VULTR_API_KEY=/m);
  });

  it('follows a rotation: after it, the same command line gets the new key', async () => {
    const s = await setup();
    const out = join(s.dir, 'key.txt');
    const args = ['exec', '--user', OPS, '--', 'sh', '-c', `printf %s "$VULTR_API_KEY" > '${out}'`];
    expect((await s.h.run(args)).code).toBe(0);
    expect(await readFile(out, 'utf8')).toBe(s.oldKey.plaintext);
    const rotated = await s.main('rotate', ['rotate', '--user', OPS, '--on-new-key', s.hook, '--no-wait', '--yes']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const again = await s.h.run(args);
    expect(again.code, again.stderr).toBe(0);
    expect(await readFile(out, 'utf8')).toBe(s.keys().find((k) => k.name === 'ops-deploy-v2')!.plaintext);
  });

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)('passes %s on to the command and ends with its status', async (signal) => {
    const s = await setup();
    const ready = join(s.dir, 'ready');
    const got = join(s.dir, 'got');
    const name = signal.slice(3);
    const script = `trap 'echo ${name} > "${got}"; exit 42' ${name}; echo > "${ready}"; while :; do sleep 0.1; done`;
    const child = s.h.spawn(['exec', '--user', OPS, '--', 'sh', '-c', script]);
    const done = collect(child, 30_000);
    for (let i = 0; i < 200 && !(await readFile(ready, 'utf8').catch(() => null)); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill(signal);
    const r = await done;
    expect(r.code, r.stderr).toBe(42);
    expect(await readFile(got, 'utf8')).toBe(`${name}\n`);
    expect(r.stderr).not.toMatch(/Interrupted|error/);
  });

  it('a second SIGTERM does not end keyrot under the command (which would orphan it): both reach the command', async () => {
    const s = await setup();
    const ready = join(s.dir, 'ready');
    const got = join(s.dir, 'got');
    const script = `n=0; trap 'n=$((n+1)); echo $n > "${got}"; [ $n -ge 2 ] && exit 43' TERM; echo > "${ready}"; while :; do sleep 0.1; done`;
    const child = s.h.spawn(['exec', '--user', OPS, '--', 'sh', '-c', script]);
    const done = collect(child, 30_000);
    const until = async (path: string, text: string | null) => {
      for (let i = 0; i < 200 && (await readFile(path, 'utf8').catch(() => null)) !== text; i++) await new Promise((r) => setTimeout(r, 50));
    };
    await until(ready, '\n');
    child.kill('SIGTERM');
    await until(got, '1\n');
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code, r.stderr).toBe(43);
    expect(await readFile(got, 'utf8')).toBe('2\n');
  });

  it("the command shares keyrot's stdin and stdout; killed by a signal, keyrot exits 128+n", async () => {
    const s = await setup();
    const piped = await s.h.run(['exec', '--user', OPS, '--', 'cat'], { stdin: 'through the pipe' });
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toBe('through the pipe');

    const killed = await s.h.run(['exec', '--user', OPS, '--', 'sh', '-c', 'kill -TERM $$']);
    expect(killed.code, killed.stderr).toBe(143);
  });

  it('bad input: no command, an unknown command, a bad --env, no held key: exit 2 or 5, the command never runs', async () => {
    const s = await setup();
    const none = await s.h.run(['exec', '--user', OPS]);
    expect(none.code, none.stderr).toBe(2);
    expect(none.stderr).toMatch(/needs a command to run/);
    const missing = await s.h.run(['exec', '--user', OPS, '--', 'keyrot-no-such-command']);
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr).toMatch(/Cannot run "keyrot-no-such-command": not found/);
    const badEnv = await s.h.run(['exec', '--user', OPS, '--env', 'NOT-A-NAME', '--', 'true']);
    expect(badEnv.code, badEnv.stderr).toBe(2);
    const marker = join(s.dir, 'ran');
    const s2 = await setup({ holdOldKey: false });
    const unheld = await s2.h.run(['exec', '--user', OPS, '--', 'sh', '-c', `echo > '${marker}'`]);
    expect(unheld.code, unheld.stderr).toBe(5);
    expect(await readFile(marker, 'utf8').catch(() => null)).toBeNull();
    for (const r of [none, missing, badEnv, unheld]) expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });
});
