// Bad input, end to end: every refusal is one line on stderr (no stack trace), the documented exit code, a
// JSON error object on stdout under --json, and nothing changed at the provider. Refusals are decided by main()
// alone, so most run in-process (test/helpers/in-process.ts); those that need the real binary or the keychain's
// own environment (a D-Bus address is read by the keychain library from the process) are spawned.
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { HAS_KEYCHAIN, harness, json, lines, type Harness, type RunOptions, type RunResult } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

interface Refusal {
  r: RunResult;
  /** The error object of the --json run. */
  error: Record<string, unknown>;
}

/** The provider's keys, which no refused command may change. */
function keys(h: Harness) {
  return h.sandbox.snapshot().users.map((u) => ({ id: u.id, keys: u.keys.map((k) => ({ ...k })) }));
}

function expectOneErrorLine(r: RunResult, code: number): void {
  expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(code);
  expect(lines(r.stderr), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^error: \S/);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

/**
 * Runs `args` as is and with --json; both must be refused with `code`, cleanly, and change nothing at the
 * provider. Returns the human run and the JSON error object.
 */
async function refused(h: Harness, args: string[], code: number, opts: RunOptions = {}, spawned = false): Promise<Refusal> {
  const run = (argv: string[]) => (spawned ? h.run(argv, opts) : inProcess(h, argv, opts));
  const before = keys(h);
  const human = await run(args);
  expectOneErrorLine(human, code);
  expect(human.stdout).toBe('');
  const machine = await run([...args, '--json']);
  expectOneErrorLine(machine, code);
  const doc = json<{ error: Record<string, unknown> }>(machine);
  expect(doc.error).toMatchObject({ exitCode: code });
  expect(doc.error.message).toEqual(expect.any(String));
  expect(machine.stderr).toContain(String(doc.error.message));
  expect(keys(h)).toEqual(before);
  expect(h.sandbox.requests().filter((q) => q.method !== 'GET')).toEqual([]);
  return { r: human, error: doc.error };
}

describe('unknown user or key → exit 5', () => {
  it.each([
    ['list-keys', ['list-keys', '--user', 'nobody@example.com']],
    ['create', ['create', '--user', 'nobody@example.com', '--name', 'x']],
    ['revoke', ['revoke', '--user', 'nobody@example.com', '--key', 'x', '--yes']],
    ['verify', ['verify', '--user', 'nobody@example.com']],
  ])('%s with an unknown e-mail', async (_cmd, args) => {
    const h = await harness();
    const { r, error } = await refused(h, args, ExitCode.notFound);
    expect(r.stderr).toMatch(/No user with e-mail nobody@example\.com/);
    expect(error.code).toBe('not_found');
  });

  it('an unknown user id', async () => {
    const h = await harness();
    const { r } = await refused(h, ['list-keys', '--user', '00000000-0000-4000-8000-000000000000'], ExitCode.notFound);
    expect(r.stderr).toMatch(/No user with id or name "00000000-0000-4000-8000-000000000000"/);
  });

  it.skipIf(!HAS_KEYCHAIN)('an unknown key, by name or id: nothing is deleted', async () => {
    const h = await harness();
    const { r } = await refused(h, ['revoke', '--user', 'ci@example.com', '--key', 'no-such-key', '--yes'], ExitCode.notFound);
    // The hint lists what does exist, so the user can pick.
    expect(r.stderr).toMatch(/no key with id or name "no-such-key".*ci-runner/);
    await refused(h, ['revoke', '--user', 'ci@example.com', '--key', '00000000-0000-4000-8000-000000000000', '--yes'], ExitCode.notFound);
    await refused(h, ['verify', '--user', 'ci@example.com', '--key', 'no-such-key'], ExitCode.notFound);
  });

  it.skipIf(!HAS_KEYCHAIN)("revoke's \"no such key\" lists the user's keys as display text: a key name's escape sequences never reach the terminal", async () => {
    const h = await harness();
    const user = h.sandbox.snapshot().users.find((u) => u.email === 'ops@example.com')!;
    // keyrot's own styles (red, dim) are what the terminal filter lets through: in a key name they are provider text.
    await fetch(`${h.sandbox.controlUrl}/keys/${user.keys[0]!.id}`, { method: 'POST', body: JSON.stringify({ name: 'ops\x1b[31m\u202Edeploy\x1b[2m' }) });
    const { r } = await refused(h, ['revoke', '--user', 'ops@example.com', '--key', 'no-such-key', '--yes'], ExitCode.notFound);
    // Colour is off (not a terminal): any escape on stderr came from the provider.
    expect(r.stderr).not.toMatch(/\x1b/);
    expect(r.stderr).toContain('ops<U+202E>deploy');
  });

  it.skipIf(!HAS_KEYCHAIN)('verify of a key keyrot does not hold → exit 5, pointing at --stdin', async () => {
    const h = await harness();
    const { r } = await refused(h, ['verify', '--user', 'ci@example.com', '--key', 'ci-runner'], ExitCode.notFound);
    expect(r.stderr).toMatch(/keyrot holds no key "ci-runner" of ci@example\.com/);
    expect(r.stderr).toMatch(/--stdin/);
    expect(h.sandbox.requests().filter((q) => q.path === '/v2/account')).toEqual([]);
  });
});

describe('admin credentials', () => {
  it('no VULTR_API_KEY → exit 2, says how to provide one and how to try without an account; no request', async () => {
    const h = await harness();
    // No keychain either (a test before may have run keyrot login in this worker's keyring). Spawned: keyrot reads
    // the bus address from its process's environment, so in-process it would still reach the worker's keychain.
    const noKeychain = { VULTR_API_KEY: undefined, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus' };
    const { r, error } = await refused(h, ['list-users'], ExitCode.usage, { env: noKeychain }, true);
    expect(r.stderr).toMatch(/keyrot login/);
    expect(r.stderr).toMatch(/VULTR_API_KEY/);
    expect(r.stderr).toMatch(/--api-key-stdin/);
    expect(r.stderr).toMatch(/keyrot demo/);
    expect(r.stderr).toMatch(/keyrot sandbox/);
    expect(error.code).toBe('usage');
    expect(h.sandbox.requests()).toEqual([]);
  });

  it('a wrong admin key → exit 3 pointing at VULTR_API_KEY', async () => {
    const h = await harness();
    const { r, error } = await refused(h, ['list-users'], ExitCode.auth, { env: { VULTR_API_KEY: 'WRONGWRONGWRONGWRONGWRONGWRONGWRONG' } });
    expect(r.stderr).toMatch(/rejected the API key/);
    expect(r.stderr).toMatch(/VULTR_API_KEY/);
    expect(error).toMatchObject({ code: 'auth', status: 401 });
    await refused(h, ['create', '--user', 'ops@example.com', '--name', 'x'], ExitCode.auth, { env: { VULTR_API_KEY: 'WRONGWRONGWRONGWRONGWRONGWRONGWRONG' } });
  });

  it('the key of a user without manage_users → exit 3 saying that permission is missing', async () => {
    const h = await harness();
    const env = { VULTR_API_KEY: h.keyOf('viewer@example.com') };
    const { r, error } = await refused(h, ['list-users'], ExitCode.permission, { env });
    expect(r.stderr).toMatch(/manage_users/);
    expect(error).toMatchObject({ code: 'permission', status: 403 });
    await refused(h, ['create', '--user', h.userId('ops@example.com'), '--name', 'x'], ExitCode.permission, { env });
    await refused(h, ['revoke', '--user', h.userId('ops@example.com'), '--key', 'ops-deploy', '--yes'], ExitCode.permission, { env });
  });

  it('--api-key-stdin with nothing piped → exit 2', async () => {
    const h = await harness();
    const { r } = await refused(h, ['list-users', '--api-key-stdin'], ExitCode.usage, { env: { VULTR_API_KEY: undefined }, stdin: '' });
    expect(r.stderr).toMatch(/--api-key-stdin/);
    expect(h.sandbox.requests()).toEqual([]);
  });

  it('--api-key-stdin reads the admin key from stdin', async () => {
    const h = await harness();
    const r = await inProcess(h, ['list-users', '--api-key-stdin', '--json'], { env: { VULTR_API_KEY: undefined }, stdin: `${h.sandbox.adminKey}\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(json(r)).toHaveLength(6);
  });
});

describe('API base URL', () => {
  it.each([
    ['VULTR_API_URL', { env: { VULTR_API_URL: 'http://example.com/v2' } }, []],
    ['--api-url', {}, ['--api-url', 'http://example.com/v2']],
  ] as const)('plain http:// to a remote host via %s → exit 2 before any request', async (_how, opts, flags) => {
    const h = await harness();
    const started = Date.now();
    const { r } = await refused(h, [...flags, 'list-users'], ExitCode.usage, opts);
    expect(r.stderr).toMatch(/plain http:\/\/ is refused for example\.com/);
    expect(r.stderr).toMatch(/https:\/\//);
    // Refused from the URL alone: no connection attempt, no retries (those take seconds).
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(h.sandbox.requests()).toEqual([]);
  });

  it('credentials in the URL → exit 2', async () => {
    const h = await harness();
    const url = h.sandbox.url.replace('http://', 'http://user:pass@');
    const { r } = await refused(h, ['list-users'], ExitCode.usage, { env: { VULTR_API_URL: url } });
    expect(r.stderr).toMatch(/credentials in the URL/);
    expect(h.sandbox.requests()).toEqual([]);
  });
});

describe('a required choice without a terminal → exit 2 naming the flag', () => {
  it.each([
    ['list-keys', ['list-keys'], '--user'],
    ['create', ['create', '--name', 'x'], '--user'],
    ['verify', ['verify'], '--user'],
    ['revoke without --key', ['revoke', '--user', 'ops@example.com'], '--key'],
  ])('%s', async (_what, args, flag) => {
    const h = await harness();
    const { r } = await refused(h, args, ExitCode.usage);
    expect(r.stderr).toContain(`pass ${flag}`);
    expect(r.stderr).toMatch(/non-interactively/);
  });
});

describe('verify --stdin', () => {
  it('with nothing piped → exit 2 before any request', async () => {
    const h = await harness();
    const { r } = await refused(h, ['verify', '--user', 'ops@example.com', '--stdin'], ExitCode.usage, { stdin: '\n' });
    expect(r.stderr).toMatch(/--stdin: no key on stdin/);
    expect(h.sandbox.requests()).toEqual([]);
  });
});

describe('command-line mistakes → exit 2', () => {
  it('an unknown flag is named', async () => {
    const h = await harness();
    const r = await inProcess(h, ['list-users', '--frobnicate']);
    expectOneErrorLine(r, ExitCode.usage);
    expect(r.stderr).toMatch(/--frobnicate/);
    expect(r.stdout).toBe('');
    expect(h.sandbox.requests()).toEqual([]);
  });

  it('an unknown command fails with exit 2 and one line, changing nothing', async () => {
    const h = await harness();
    const r = await h.run(['frobnicate', '--user', 'ops@example.com']);
    expectOneErrorLine(r, ExitCode.usage);
    expect(r.stdout).toBe('');
    expect(h.sandbox.requests()).toEqual([]);
  });

  it('a flag that takes a key value does not exist: keys never go on the command line', async () => {
    const h = await harness();
    const r = await inProcess(h, ['list-users', '--api-key', h.sandbox.adminKey]);
    expectOneErrorLine(r, ExitCode.usage);
    expect(r.stderr).not.toContain(h.sandbox.adminKey);
  });

  it('an invalid --store choice', async () => {
    const h = await harness();
    const r = await inProcess(h, ['--store', 'paper', 'list-users']);
    expectOneErrorLine(r, ExitCode.usage);
    expect(r.stderr).toMatch(/paper/);
  });

  it('an unknown command is named in the message', async () => {
    const h = await harness();
    const r = await inProcess(h, ['frobnicate']);
    expect(r.stderr).toMatch(/unknown command.*frobnicate/i);
  });

  it('--json: a command-line mistake still prints a JSON error object', async () => {
    const h = await harness();
    const r = await inProcess(h, ['list-users', '--frobnicate', '--json']);
    expect(json(r).error).toMatchObject({ code: 'usage', exitCode: 2 });
  });
});

describe.skipIf(!HAS_KEYCHAIN)('keychain', () => {
  it('no reachable keychain → create refuses with exit 8 and how to fix it, before any key is made', async () => {
    const h = await harness();
    const { r, error } = await refused(
      h,
      ['create', '--user', 'ops@example.com', '--name', 'nowhere'],
      ExitCode.keychain,
      {
        env: { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/keyrot-test-bus' },
      },
      true,
    );
    expect(r.stderr).toMatch(/Secret Service/);
    expect(r.stderr).toMatch(/gnome-keyring|unlock/i);
    expect(error.code).toBe('keychain');
    expect(h.sandbox.requests().filter((q) => q.method === 'POST')).toEqual([]);
  });
});

describe('no D-Bus session bus', () => {
  it.each([
    ['rotate --all', ['rotate', '--all', '--never-expiring', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes', '--dry-run']],
    ['rotate --all, a real run', ['rotate', '--all', '--never-expiring', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes']],
  ])('%s: one clear line, said once, not D-Bus library text (exit 8)', async (_name, args) => {
    const h = await harness({ users: 8, keysPerUser: 1 });
    for (const DBUS_SESSION_BUS_ADDRESS of ['unix:path=/nonexistent/keyrot-test-bus', undefined]) {
      const r = await h.run(args, { env: { DBUS_SESSION_BUS_ADDRESS } });
      expect(r.code, r.stderr).toBe(ExitCode.keychain);
      expect(
        lines(r.stderr).filter((l) => /keychain/i.test(l)),
        r.stderr,
      ).toHaveLength(1);
      expect(r.stderr).toMatch(/no D-Bus session bus/);
      expect(r.stderr).not.toMatch(/Platform failure|autolaunch|Failed to connect/);
    }
    expect(h.sandbox.requests().filter((q) => q.method === 'POST')).toEqual([]);
  });
});

describe('a period without a unit → exit 2, nothing changed', () => {
  it.each([
    ['--keep-old 7', ['rotate', '--user', 'ops@example.com', '--on-new-key', 'true', '--no-wait', '--keep-old', '7', '--yes'], '--keep-old'],
    ['--expiring-within 30', ['audit', '--expiring-within', '30'], '--expiring-within'],
  ])('%s: a bare number would be seconds, never what was meant', async (_what, args, flag) => {
    const h = await harness();
    const { r } = await refused(h, args, ExitCode.usage);
    expect(r.stderr).toContain(`error: ${flag}: "${flag === '--keep-old' ? '7' : '30'}" has no unit.`);
  });

  it.each(['1ms', '0d'])('--keep-old %s: a grace period under a second is refused before any change', async (grace) => {
    const h = await harness();
    const { r } = await refused(h, ['rotate', '--user', 'ops@example.com', '--on-new-key', 'true', '--no-wait', '--keep-old', grace, '--yes'], ExitCode.usage);
    expect(r.stderr).toContain('error: --keep-old: a grace period must be at least 1s.');
  });
});
