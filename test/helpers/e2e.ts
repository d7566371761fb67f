// End-to-end helpers: a sandbox per test (in-process, loopback), and the built CLI spawned as a user would
// run it, with its own state directory, CI=true and colour off unless a test says otherwise.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startSandbox, type Exchange, type Sandbox, type SandboxOptions, type SandboxSnapshot } from '../../src/sandbox/server.js';
import { contractViolations } from './contract.js';
import { afterEachTest } from './after-test.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'keyrot');

/** True when `npm test` started a private Secret Service for this run (always so under CI). */
export const HAS_KEYCHAIN = Boolean(process.env.KEYROT_TEST_KEYCHAIN);
if (!HAS_KEYCHAIN && process.env.CI) {
  throw new Error('CI must run the keychain tests: start vitest through `npm test`, which sets up the keychain.');
}

const ownFolders: Record<string, string> = {};
/** A folder of this process's own for `what`, made once and removed when the process ends. */
function ownFolder(what: string): string {
  ownFolders[what] ??= mkdtempSync(join(tmpdir(), `keyrot-test-${what}-`));
  return ownFolders[what];
}
process.once('exit', () => {
  for (const dir of Object.values(ownFolders)) rmSync(dir, { recursive: true, force: true });
});

/**
 * Where keyrot's cache goes in tests: one folder for the whole npm test run (scripts/test.mjs makes it:
 * KEYROT_TEST_CACHE), so spawned keyrot processes share what they cache across files, never the home's ~/.cache.
 */
export function testCacheHome(): string {
  return process.env.KEYROT_TEST_CACHE || ownFolder('cache');
}

/** XDG folders for a keyrot started outside a harness: the run's cache, and a configuration folder with nothing in it. */
export function pinnedXdg(): { XDG_CACHE_HOME: string; XDG_CONFIG_HOME: string } {
  return { XDG_CACHE_HOME: testCacheHome(), XDG_CONFIG_HOME: ownFolder('config') };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  stdin?: string;
  timeoutMs?: number;
  /** A file for keyrot's stdout or stderr instead of a pipe (e.g. /dev/full: every write fails with ENOSPC). */
  stdoutTo?: string;
  stderrTo?: string;
  /** The node that runs bin/keyrot (default: the one running the tests), e.g. Node 22 or 24 from scripts/other-nodes.mjs. */
  node?: string;
}

export interface Harness {
  sandbox: Sandbox;
  stateDir: string;
  /** Base environment for keyrot pointing at this sandbox with its admin key. */
  env: Record<string, string>;
  run(args: string[], opts?: RunOptions): Promise<RunResult>;
  /** Starts keyrot and returns the child, for tests that kill it or read it live. */
  spawn(args: string[], opts?: RunOptions): ChildProcess;
  /** The keys the sandbox holds now for the fixture user `email`. */
  keysOf(email: string): SandboxSnapshot['users'][number]['keys'];
  /** Plaintext of the first key of the fixture user `email`. */
  keyOf(email: string, name?: string): string;
  userId(email: string): string;
  /** Makes a key of `name` for the user through the sandbox's API, as someone other than keyrot would. */
  makeKey(userId: string, name: string): Promise<void>;
  /**
   * A request to the sandbox's API with the admin key, as someone other than keyrot would make it: a well-behaved
   * client that waits out the rate limit (429 and its Retry-After; Vultr allows 30 requests a second) and tries again.
   */
  asAdmin(method: string, path: string, body?: unknown): Promise<Response>;
  /** Every file keyrot wrote under its state directory, with contents. */
  stateFiles(): Promise<Array<{ path: string; mode: number; text: string }>>;
}

const cleanups: Array<() => Promise<void>> = [];
const contractChecks: Array<() => Promise<void>> = [];

/** Runs `fn` after the current test, with the harness's own clean-ups (last registered, first run). */
export function onCleanup(fn: () => Promise<unknown>): void {
  cleanups.push(async () => void (await fn()));
}
afterEachTest(async () => {
  while (cleanups.length)
    await cleanups
      .pop()?.()
      .catch(() => undefined);
  const checks = contractChecks.splice(0);
  for (const check of checks) await check();
});

export async function harness(options: SandboxOptions = {}): Promise<Harness> {
  // Every exchange is held to Vultr's OpenAPI document once the test is over (a violation fails the test).
  const exchanges: Exchange[] = [];
  const sandbox = await startSandbox({ port: 0, ...options, onExchange: (e) => exchanges.push(e) });
  contractChecks.push(async () => {
    const problems = (await Promise.all(exchanges.map((e) => contractViolations(e)))).flat();
    if (problems.length) throw new Error(`Requests or answers that break Vultr's OpenAPI document:\n${[...new Set(problems)].join('\n')}`);
  });
  const stateDir = await mkdtemp(join(tmpdir(), 'keyrot-e2e-'));
  // Never the developer's ~/.config/keyrot: a configuration folder of this test's own, empty unless the test writes one.
  const configDir = await mkdtemp(join(tmpdir(), 'keyrot-config-'));
  cleanups.push(async () => {
    await sandbox.close();
    await rm(stateDir, { recursive: true, force: true });
    await rm(configDir, { recursive: true, force: true });
  });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? stateDir,
    XDG_STATE_HOME: stateDir,
    XDG_CONFIG_HOME: configDir,
    XDG_CACHE_HOME: testCacheHome(),
    VULTR_API_URL: sandbox.url,
    VULTR_API_KEY: sandbox.adminKey,
    CI: 'true',
    NO_COLOR: '1',
  };
  // The private test keyring's bus, when npm test started one.
  for (const name of ['DBUS_SESSION_BUS_ADDRESS', 'XDG_DATA_HOME', 'GNOME_KEYRING_CONTROL', 'XDG_RUNTIME_DIR']) {
    const value = process.env[name];
    if (value) env[name] = value;
  }
  const spawnKeyrot = (args: string[], opts: RunOptions = {}) => {
    const childEnv: Record<string, string> = { ...env };
    for (const [k, v] of Object.entries(opts.env ?? {})) {
      if (v === undefined) delete childEnv[k];
      else childEnv[k] = v;
    }
    const opened: number[] = [];
    const to = (path: string | undefined) => (path === undefined ? 'pipe' : (opened[opened.push(openSync(path, 'a')) - 1] as number));
    const child = spawn(opts.node ?? process.execPath, [BIN, ...args], { env: childEnv, stdio: ['pipe', to(opts.stdoutTo), to(opts.stderrTo)] });
    for (const fd of opened) closeSync(fd);
    child.stdin?.end(opts.stdin ?? '');
    return child;
  };
  const asAdmin = async (method: string, path: string, body?: unknown): Promise<Response> => {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${sandbox.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${sandbox.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (res.status !== 429 || attempt >= 5) return res;
      await res.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, (Number(res.headers.get('retry-after')) || 1) * 1000));
    }
  };
  const find = (email: string) => {
    const user = sandbox.snapshot().users.find((u) => u.email === email);
    if (!user) throw new Error(`no sandbox user ${email}`);
    return user;
  };
  return {
    sandbox,
    stateDir,
    env,
    spawn: spawnKeyrot,
    run: (args, opts = {}) => collect(spawnKeyrot(args, opts), opts.timeoutMs ?? 30_000),
    keyOf(email, name) {
      const key = name ? find(email).keys.find((k) => k.name === name) : find(email).keys[0];
      if (!key) throw new Error(`no key ${name ?? ''} for ${email}`);
      return key.plaintext;
    },
    userId: (email) => find(email).id,
    keysOf: (email) => find(email).keys,
    async makeKey(userId, name) {
      const res = await asAdmin('POST', `/users/${userId}/apikeys`, { name });
      if (!res.ok) throw new Error(`the sandbox refused to make key ${name}: ${res.status} ${await res.text()}`);
    },
    asAdmin,
    async stateFiles() {
      const out: Array<{ path: string; mode: number; text: string }> = [];
      const walk = async (dir: string) => {
        for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
          const path = join(dir, entry.name);
          if (entry.isDirectory()) await walk(path);
          else out.push({ path, mode: (await stat(path)).mode & 0o777, text: await readFile(path, 'utf8') });
        }
      };
      await walk(stateDir);
      return out;
    },
  };
}

export function collect(child: ChildProcess, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`keyrot did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** Parses stdout as exactly one JSON document (fails the test otherwise). */
export function json<T = any>(result: RunResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document:\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

/** stderr lines, without blank ones. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

/** Reads the OS keychain entry keyrot wrote, through the same library (null when absent). */
export async function keychainGet(account: string): Promise<string | null> {
  const { AsyncEntry } = await import('@napi-rs/keyring');
  return testKeychain(() => new AsyncEntry('keyrot', account, { linux: { store: 'secret-service' } }).getPassword());
}

/** Every keyrot account in the OS keychain. */
export async function keychainAccounts(): Promise<string[]> {
  const { findCredentialsAsync } = await import('@napi-rs/keyring');
  return testKeychain(async () => (await findCredentialsAsync('keyrot')).map((c) => c.account));
}

/**
 * A test's own look at the keychain, through a restart of the test keyring's daemon. gnome-keyring aborts on its own
 * assertion when a client dies in the middle of opening a session (`aes_negotiate: assertion 'session' failed`, then
 * a GLib-ERROR): the kill -9 tests do that to keyrot. scripts/keyring-session.mjs starts a new daemon on the same
 * keyring within milliseconds, but a call that was under way fails ("Message recipient disconnected"). Only the
 * test's own calls are retried; keyrot's are what the tests assert.
 */
export async function testKeychain<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= 10 || !/recipient disconnected|ServiceUnknown|was not provided by any|NoReply|not activatable/i.test(String((err as Error)?.message))) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
