// What the `keyrot rotate` end-to-end tests share: a consumer PROCESS (an application that reads its API key
// from a file before every call, as a real one re-reading a mounted secret would), a hook script that hands it
// the new key, and probes of the sandbox, the keychain and the journal that the assertions are made of.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { harness, keychainAccounts, testKeychain, type Harness, type RunOptions, type RunResult } from './e2e.js';
import { afterEachTest } from './after-test.js';
import { inProcess } from './in-process.js';

// ---------------------------------------------------------------------------------------------------------
// The consumer process

export interface ConsumerStats {
  calls: number;
  /** Answers by HTTP status (0: no answer: the network failed). */
  byStatus: Record<number, number>;
  rejected: number;
  /** How many distinct keys it used, in order of first use (1 = never switched). */
  keysUsed: number;
  /** Calls made with the last key it switched to. */
  callsWithLastKey: number;
}

export interface Consumer {
  stats(): ConsumerStats;
  /** Ends the process and returns the final counts. */
  stop(): Promise<ConsumerStats>;
}

// Kept free of secrets on its stdout: one line per call, "<status> <key generation>".
const CONSUMER_SCRIPT = `
const { readFileSync } = require('node:fs');
const [keyFile, url, intervalMs] = process.argv.slice(1);
const keys = [];
let stopping = false;
process.on('SIGTERM', () => { stopping = true; });
(async () => {
  while (!stopping) {
    const key = readFileSync(keyFile, 'utf8').trim();
    if (!keys.includes(key)) keys.push(key);
    let status = 0;
    try {
      const res = await fetch(url + '/account', { headers: { Authorization: 'Bearer ' + key } });
      status = res.status;
      await res.arrayBuffer();
    } catch {}
    process.stdout.write(status + ' ' + keys.indexOf(key) + '\\n');
    await new Promise((r) => setTimeout(r, Number(intervalMs)));
  }
})();
`;

/**
 * Starts a consumer calling GET {apiUrl}/account every `intervalMs` with the key in `keyFile`; resolves once
 * its first call was answered.
 */
export async function startConsumer(opts: { apiUrl: string; keyFile: string; intervalMs?: number }): Promise<Consumer> {
  const child: ChildProcess = spawn(process.execPath, ['-e', CONSUMER_SCRIPT, opts.keyFile, opts.apiUrl, String(opts.intervalMs ?? 150)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stats: ConsumerStats = { calls: 0, byStatus: {}, rejected: 0, keysUsed: 0, callsWithLastKey: 0 };
  let buffer = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const [status = 0, generation = 0] = buffer.slice(0, nl).split(' ').map(Number);
      buffer = buffer.slice(nl + 1);
      stats.calls++;
      stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
      if (status === 401) stats.rejected++;
      if (generation + 1 > stats.keysUsed) {
        stats.keysUsed = generation + 1;
        stats.callsWithLastKey = 0;
      }
      if (generation + 1 === stats.keysUsed) stats.callsWithLastKey++;
    }
  });
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  for (let waited = 0; stats.calls === 0; waited += 20) {
    if (waited > 10_000) throw new Error('the consumer made no call within 10 s');
    await sleep(20);
  }
  return {
    stats: () => ({ ...stats, byStatus: { ...stats.byStatus } }),
    async stop() {
      child.kill('SIGTERM');
      await closed;
      return { ...stats, byStatus: { ...stats.byStatus } };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Hooks

/**
 * Writes an --on-new-key hook to `dir`/hook.sh and returns the command that runs it. The hook writes the key
 * from its stdin to `keyFile` atomically (a consumer never reads half a key), dumps its environment and its
 * shell's argv next to it (hook-env.txt, hook-argv.txt), and then obeys control files in `dir`:
 * `hook-fail` (exit 3), `hook-hang` (sleep, after writing its pid to hook.pid). Tests flip those files to
 * "fix" a hook, since --resume runs the journaled command.
 */
export async function writeHook(dir: string, keyFile: string): Promise<string> {
  const path = join(dir, 'hook.sh');
  await writeFile(
    path,
    [
      '#!/bin/sh',
      `d='${dir}'`,
      'env > "$d/hook-env.txt"',
      // The argv of the shell keyrot started (sh -c CMD) and of this script.
      `tr '\\0' ' ' < /proc/$PPID/cmdline > "$d/hook-argv.txt"; echo >> "$d/hook-argv.txt"`,
      `tr '\\0' ' ' < /proc/$$/cmdline >> "$d/hook-argv.txt"`,
      'if [ -f "$d/hook-hang" ]; then echo $$ > "$d/hook.pid"; sleep 30; fi',
      'if [ -f "$d/hook-fail" ]; then echo "consumer refused the key" >&2; exit 3; fi',
      `cat > '${keyFile}.tmp' && mv '${keyFile}.tmp' '${keyFile}'`,
      'echo "hook: installed key for $KEYROT_KEY_NAME"',
      '',
    ].join('\n'),
  );
  await chmod(path, 0o755);
  return `sh '${path}'`;
}

/** Kills a hanging hook (and its sleep) left behind by a killed keyrot. */
export async function killHangingHook(dir: string): Promise<void> {
  const pid = Number((await readFile(join(dir, 'hook.pid'), 'utf8').catch(() => '')).trim());
  if (!pid) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // Already gone, or not a group leader.
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// The sandbox, seen from outside keyrot

export function userOf(h: Harness, email: string) {
  const user = h.sandbox.snapshot().users.find((u) => u.email === email);
  if (!user) throw new Error(`no sandbox user ${email}`);
  return user;
}

/** The HTTP status GET /account answers with `key`. */
export async function authStatus(h: Harness, key: string): Promise<number> {
  const res = await fetch(`${h.sandbox.url}/account`, { headers: { Authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res.status;
}

/** Requests to the sandbox matching a method and a path pattern (whole path, "*" = one segment). */
export function requestsTo(h: Harness, method: string, pattern: string) {
  const re = new RegExp(`^/v2${pattern.replace(/\*/g, '[^/]+')}$`);
  return h.sandbox.requests().filter((r) => r.method === method && re.test(r.path));
}

/**
 * Key creations the sandbox logged (a dropped answer still created a key). A request still held by a delay
 * fault when keyrot was killed is logged only once it ends: never, in these tests.
 */
export function createsFor(h: Harness, userId: string) {
  return requestsTo(h, 'POST', `/users/${userId}/apikeys`).filter((r) => r.status === 0 || (r.status >= 200 && r.status < 300));
}

// ---------------------------------------------------------------------------------------------------------
// The OS keychain (the same library and store keyrot uses)

async function entry(account: string) {
  const { AsyncEntry } = await import('@napi-rs/keyring');
  return new AsyncEntry('keyrot', account, { linux: { store: 'secret-service' } });
}

export async function keychainSet(account: string, secret: string): Promise<void> {
  await testKeychain(async () => (await entry(account)).setPassword(secret));
}

/**
 * The keychain accounts keyrot has for a user. Enumerating the keyring can fail when another process (a test
 * running in parallel) removes an entry meanwhile: retried.
 */
export async function keychainAccountsOf(userId: string): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await keychainAccounts()).filter((a) => a.startsWith(`vultr:${userId}:`)).sort();
    } catch (err) {
      if (attempt >= 5) throw err;
      await sleep(50 * attempt);
    }
  }
}

export async function keychainDelete(account: string): Promise<void> {
  await testKeychain(async () => (await entry(account)).deleteCredential());
}

/** Removes every entry keyrot has for a user (tests share one keyring). */
export async function keychainClearUser(userId: string): Promise<void> {
  for (const account of await keychainAccountsOf(userId)) await keychainDelete(account);
}

export function accountOf(userId: string, keyId: string): string {
  return `vultr:${userId}:${keyId}`;
}

// ---------------------------------------------------------------------------------------------------------
// The journal

export function journalPath(h: Harness, userId: string): string {
  return join(h.stateDir, 'keyrot', 'rotations', `vultr-${userId}.json`);
}

export async function readJournal(h: Harness, userId: string): Promise<any | null> {
  try {
    return JSON.parse(await readFile(journalPath(h, userId), 'utf8'));
  } catch {
    // Absent, or (never, given atomic writes) half written.
    return null;
  }
}

/** Polls the journal until `accept` holds; fails with the last record seen. */
export async function waitForJournal(h: Harness, userId: string, accept: (record: any) => boolean, timeoutMs = 15_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  let last: any = null;
  while (Date.now() < until) {
    last = await readJournal(h, userId);
    if (last && accept(last)) return last;
    await sleep(15);
  }
  throw new Error(`the journal did not reach the expected state within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

// ---------------------------------------------------------------------------------------------------------
// Secrets

/** A run of this many characters of a secret is a leak (a mask shows at most its last 5). */
const LEAK_WINDOW = 8;

/**
 * Where a secret, or any LEAK_WINDOW consecutive characters of it (a key cut short in a message), appears in any
 * of the texts (outputs, journal, state files): one line per leak, none shown.
 */
export function findLeaks(secrets: readonly string[], texts: Record<string, string>): string[] {
  const leaks: string[] = [];
  for (const [where, text] of Object.entries(texts)) {
    for (const secret of secrets) {
      if (!secret) continue;
      // A vendor's fixed prefix ("ka_live_") is no secret: messages about a key's shape name it. Windows reaching
      // past it count.
      const prefix = /^[a-z]+(?:_[a-z]+)*_/.exec(secret)?.[0].length ?? 0;
      const from = Math.max(0, prefix - LEAK_WINDOW + 1);
      const parts = secret.length <= LEAK_WINDOW ? [secret] : Array.from({ length: secret.length - LEAK_WINDOW + 1 - from }, (_, i) => secret.slice(from + i, from + i + LEAK_WINDOW));
      if (parts.some((part) => text.includes(part))) leaks.push(`${where} holds ${LEAK_WINDOW}+ characters of a secret ending ${secret.slice(-5)}`);
    }
  }
  return leaks;
}

/** Collects every secret a test met (the admin key, each plaintext the sandbox ever held) and keyrot's outputs. */
export class SecretCollector {
  readonly #secrets = new Set<string>();
  readonly #texts: Record<string, string> = {};

  constructor(private readonly h: Harness) {
    this.snap();
  }

  /** Records the plaintexts of every key the sandbox holds now. */
  snap(): void {
    this.#secrets.add(this.h.sandbox.adminKey);
    for (const user of this.h.sandbox.snapshot().users) for (const key of user.keys) this.#secrets.add(key.plaintext);
  }

  /** Records a run's output for the scan; returns the run for chaining. */
  output<T extends RunResult>(label: string, run: T): T {
    this.snap();
    this.#texts[`${label} stdout`] = run.stdout;
    this.#texts[`${label} stderr`] = run.stderr;
    return run;
  }

  /** Records the state files as they are now (e.g. the journal a kill -9 left behind). */
  async state(label: string): Promise<void> {
    for (const file of await this.h.stateFiles()) this.#texts[`${label}: ${file.path}`] = file.text;
  }

  get secrets(): string[] {
    return [...this.#secrets];
  }

  /** The leaks in every recorded output and every file under the state directory. */
  async leaks(): Promise<string[]> {
    this.snap();
    const texts = { ...this.#texts };
    for (const file of await this.h.stateFiles()) texts[file.path] = file.text;
    return findLeaks(this.secrets, texts);
  }
}

// ---------------------------------------------------------------------------------------------------------
// One rotation test's world

export interface RotationSetup {
  h: Harness;
  sc: SecretCollector;
  /** A work folder outside the state directory (the consumer's key file lives here). */
  dir: string;
  keyFile: string;
  /** The --on-new-key command (see writeHook). */
  hook: string;
  user: SnapshotUserOf;
  oldKey: SnapshotUserOf['keys'][number];
  /** Runs keyrot and records its output for the leak scan. */
  run(label: string, args: string[], opts?: RunOptions): Promise<RunResult>;
  /** The same through keyrot's main() in this process (test/helpers/in-process.ts): for what needs no process of its own. */
  main(label: string, args: string[], opts?: RunOptions): Promise<RunResult>;
  /** Starts a consumer on the key file; stopped at the end of the test. */
  consumer(): Promise<Consumer>;
  /** The user's keys at the provider now. */
  keys(): SnapshotUserOf['keys'];
  /** The user's accounts in the OS keychain now, sorted. */
  held(): Promise<string[]>;
}

type SnapshotUserOf = ReturnType<typeof userOf>;

const cleanups: Array<() => Promise<void>> = [];
afterEachTest(async () => {
  while (cleanups.length)
    await cleanups
      .pop()?.()
      .catch(() => undefined);
});

/**
 * A sandbox; a work folder with the consumer's key file (holding the old key) and a hook writing to it; and,
 * unless `holdOldKey` is false, the old key's plaintext in the keychain, as after an earlier rotation (so the
 * rotation must test the old key with it, then drop that entry).
 */
export async function rotationSetup(opts: { email?: string; holdOldKey?: boolean } = {}): Promise<RotationSetup> {
  const h = await harness();
  const sc = new SecretCollector(h);
  const dir = await mkdtemp(join(tmpdir(), 'keyrot-rotate-'));
  const email = opts.email ?? 'ops@example.com';
  const user = userOf(h, email);
  const oldKey = user.keys[0]!;
  const consumers: Consumer[] = [];
  cleanups.push(async () => {
    for (const c of consumers) await c.stop();
    await killHangingHook(dir);
    await keychainClearUser(user.id);
    await rm(dir, { recursive: true, force: true });
  });
  if (opts.holdOldKey !== false) await keychainSet(accountOf(user.id, oldKey.id), oldKey.plaintext);
  const keyFile = join(dir, 'consumer.key');
  await writeFile(keyFile, oldKey.plaintext);
  const hook = await writeHook(dir, keyFile);
  return {
    h,
    sc,
    dir,
    keyFile,
    hook,
    user,
    oldKey,
    run: async (label, args, runOpts) => sc.output(label, await h.run(args, runOpts)),
    main: async (label, args, runOpts) => sc.output(label, await inProcess(h, args, runOpts)),
    async consumer() {
      const c = await startConsumer({ apiUrl: h.sandbox.url, keyFile, intervalMs: 150 });
      consumers.push(c);
      return c;
    },
    keys: () => userOf(h, email).keys,
    held: () => keychainAccountsOf(user.id),
  };
}

/**
 * A --check for a rotation test: exits 0 once the consumer's key file holds a key other than the old one that the
 * sandbox accepts (what a real smoke test of the consumers proves). The old key is named by its SHA-256 only: the
 * command is journaled and shown, and must hold no secret.
 */
export function consumerCheck(s: Pick<RotationSetup, 'keyFile' | 'oldKey' | 'h'>): string {
  const old = createHash('sha256').update(s.oldKey.plaintext).digest('hex');
  const script = `const k=require("fs").readFileSync(process.argv[1],"utf8").trim();if(require("crypto").createHash("sha256").update(k).digest("hex")===process.argv[2])process.exit(1);fetch(process.argv[3]+"/account",{headers:{authorization:"Bearer "+k}}).then(r=>process.exit(r.status===200?0:1),()=>process.exit(2))`;
  return `'${process.execPath}' -e '${script}' '${s.keyFile}' '${old}' '${s.h.sandbox.url}'`;
}
