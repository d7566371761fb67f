// End-to-end helpers for the providers beyond Vultr: a platform sandbox (Grafana, the example platform, Kubeadapt) per test,
// keyrot spawned with --provider and the platform's environment, a consumer calling the platform with whatever key
// its key file holds, and probes of the journal and the keychain.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { identifyKubeadaptKey } from '../../src/providers/kubeadapt/provider.js';
import type { FaultSpec } from '../../src/sandbox/faults.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { startPlatformSandbox, type PlatformDialect, type PlatformSandbox, type PlatformSandboxOptions, type KubeadaptDocs } from '../../src/sandbox/platforms.js';
import type { Exchange } from '../../src/sandbox/server.js';
import { contractName, contractViolations, kubeadaptViolations, type ContractName } from './contract.js';
import { findLeaks, keychainSet, killHangingHook, writeHook } from './consumer.js';
import { collect, harness, keychainAccounts, keychainGet, type RunOptions, type RunResult } from './e2e.js';
import { afterEachTest } from './after-test.js';
import { inProcess } from './in-process.js';

const cleanups: Array<() => Promise<void>> = [];
const contractChecks: Array<() => Promise<void>> = [];
afterEachTest(async () => {
  while (cleanups.length)
    await cleanups
      .pop()?.()
      .catch(() => undefined);
  for (const check of contractChecks.splice(0)) await check();
});

/** Which platforms' sandboxes are held to the provider's own published document (see contract.ts). */
const CONTRACT: Partial<Record<PlatformDialect, ContractName>> = { grafana: 'grafana' };

/** A platform sandbox whose every exchange is checked, once the test is over, against the provider's document. */
export async function checkedPlatformSandbox(options: PlatformSandboxOptions): Promise<PlatformSandbox> {
  const contract = CONTRACT[options.dialect];
  const exchanges: Exchange[] = [];
  const sandbox = await startPlatformSandbox({ ...options, onExchange: (e: Exchange) => exchanges.push(e) });
  if (contract) {
    contractChecks.push(async () => {
      const problems = (await Promise.all(exchanges.map((e) => contractViolations(e, contract)))).flat();
      if (problems.length) throw new Error(`Requests or answers that break ${contractName(contract)}:\n${[...new Set(problems)].join('\n')}`);
    });
  } else if (options.dialect === 'kubeadapt') {
    const docs = options.kubeadaptDocs ?? 'current';
    contractChecks.push(async () => {
      const problems = exchanges.flatMap((e) => kubeadaptViolations(e, docs));
      if (problems.length) throw new Error(`Requests or answers that break Kubeadapt's ${docs} docs:\n${[...new Set(problems)].join('\n')}`);
    });
  }
  return sandbox;
}

/** Where each platform's probe is, and how its keys travel (what a consumer of it calls). */
const PROBE: Record<PlatformDialect, { path: string; header: (key: string) => Record<string, string> }> = {
  grafana: { path: '/api/org', header: (key) => ({ Authorization: `Bearer ${key}` }) },
  example: { path: '/me', header: (key) => ({ 'X-Api-Key': key }) },
  kubeadapt: { path: '/clusters', header: (key) => ({ Authorization: `Bearer ${key}` }) },
};

export interface ConsumerCounts {
  calls: number;
  byStatus: Record<number, number>;
}

export interface PlatformSetup {
  sandbox: PlatformSandbox;
  /** The provider identity keyrot's keychain entries and journals carry for this setup. */
  providerId: string;
  stateDir: string;
  /** keyrot's whole environment for this platform (a terminal test starts keyrot with it). */
  env: Record<string, string>;
  dir: string;
  /** The consumer's key file (holding the old key), and an --on-new-key hook writing to it. */
  keyFile: string;
  hook: string;
  account: { id: string; name: string; label: string };
  oldKey: { id: string; name: string; plaintext: string };
  /** keyrot with --provider <dialect> (unless args hold --provider-file) and the platform's environment; output recorded for the leak scan. */
  run(args: string[], opts?: RunOptions): Promise<RunResult>;
  /** The same through keyrot's main() in this process (test/helpers/in-process.ts): for what needs no process of its own. */
  main(args: string[], opts?: RunOptions): Promise<RunResult>;
  spawn(args: string[], opts?: RunOptions): ReturnType<Awaited<ReturnType<typeof harness>>['spawn']>;
  /** The account's live keys now. */
  keys(): Array<{ id: string; name: string; plaintext: string; scopes: string[]; expiresAt: string | null; lastUsedAt: string | null }>;
  /** The status the platform's probe answers `key`. */
  status(key: string): Promise<number>;
  /** A consumer calling the probe every `intervalMs` with the key in `file` (default: the key file). */
  consumer(file?: string, intervalMs?: number): { counts(): ConsumerCounts; stop(): Promise<ConsumerCounts> };
  journal(): Promise<any | null>;
  waitForJournal(accept: (j: any) => boolean, timeoutMs?: number): Promise<any>;
  /** keyrot's keychain accounts for this account, sorted. */
  held(): Promise<string[]>;
  /** Secrets found in any recorded output or state file. */
  leaks(): Promise<string[]>;
  /**
   * A keyrot profile of this test's own (its config in the work folder, the admin key from the keychain, not the
   * environment): `env` selects it, `entry` names a keychain account as the profile prefixes it. Its entries go at
   * the end of the test.
   */
  profile(): Promise<{ env: Record<string, string>; entry(account: string): string }>;
}

/**
 * A platform sandbox with a short last-used refresh, a work folder (key file, hook) and keyrot pointed at it.
 * `account` is the key holder rotated (by its label, e.g. "sa-1-deploy-bot"); its first key is the old key.
 */
export async function platformSetup(
  dialect: PlatformDialect,
  opts: {
    account?: string;
    refreshMs?: number;
    holdOldKey?: boolean;
    kubeadaptDocs?: KubeadaptDocs;
    kubeadaptRevokedStatus?: 401 | 403;
    providerId?: string | ((env: Record<string, string>) => string);
  } = {},
): Promise<PlatformSetup> {
  // The identity keyrot names keychain entries and journals with: the dialect's built-in id, or a provider file's.
  const h = await harness();
  const sandbox = await checkedPlatformSandbox({
    dialect,
    refreshMs: opts.refreshMs ?? 1000,
    ...(opts.kubeadaptDocs ? { kubeadaptDocs: opts.kubeadaptDocs } : {}),
    ...(opts.kubeadaptRevokedStatus ? { kubeadaptRevokedStatus: opts.kubeadaptRevokedStatus } : {}),
  });
  // A provider file's identity follows the base URL in effect (the sandbox's, from its environment).
  const providerId = typeof opts.providerId === 'function' ? opts.providerId(sandbox.env) : (opts.providerId ?? dialect);
  const dir = await mkdtemp(join(tmpdir(), `keyrot-${dialect}-`));
  const label = opts.account ?? (dialect === 'grafana' ? 'sa-1-deploy-bot' : dialect === 'example' ? 'deploy-bot' : 'org');
  const accountOf = () => {
    const found = sandbox.snapshot().find((a) => a.login === label || a.name === label);
    if (!found) throw new Error(`no sandbox account ${label}`);
    return found;
  };
  const account = accountOf();
  const first = account.keys[0];
  if (!first) throw new Error(`${label} has no key`);
  const keyFile = join(dir, 'consumer.key');
  await writeFile(keyFile, first.plaintext);
  const hook = await writeHook(dir, keyFile);
  const outputs: Record<string, string> = {};
  const secrets = new Set<string>([sandbox.adminKey]);
  const snap = () => {
    for (const a of sandbox.snapshot()) for (const k of a.keys) secrets.add(k.plaintext);
  };
  const consumers: Array<() => Promise<unknown>> = [];
  const prefix = `${providerId}:${account.id}:`;
  // Files run at once share the one test keychain. Kubeadapt's account is "org" in every sandbox, so its entries are
  // told apart by key id (made from the key itself); the other sandboxes' account ids are their own.
  const ours = (keyId: string) => dialect !== 'kubeadapt' || sandbox.issued().some((key) => identifyKubeadaptKey(key.plaintext, '').id === keyId);
  const held = async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await keychainAccounts()).filter((a) => a.startsWith(prefix) && ours(a.slice(prefix.length))).sort();
      } catch (err) {
        if (attempt >= 5) throw err;
        await sleep(50 * attempt);
      }
    }
  };
  cleanups.push(async () => {
    for (const stop of consumers) await stop();
    await killHangingHook(dir);
    const { AsyncEntry } = await import('@napi-rs/keyring');
    for (const name of await held()) await new AsyncEntry('keyrot', name, { linux: { store: 'secret-service' } }).deleteCredential();
    await sandbox.close();
    await rm(dir, { recursive: true, force: true });
  });
  // As after an earlier rotation: keyrot holds the old key's plaintext, so it can test it once revoked.
  if (opts.holdOldKey) await keychainSet(`${providerId}:${account.id}:${first.id}`, first.plaintext);
  const probe = PROBE[dialect];
  const status = async (key: string) => {
    const res = await fetch(`${sandbox.url}${probe.path}`, { headers: probe.header(key) });
    await res.arrayBuffer();
    return res.status;
  };
  const env = { ...sandbox.env, XDG_STATE_HOME: h.stateDir };
  // --provider <dialect>, unless the test brings a definition or a profile of its own.
  const withProvider = (args: string[]) => (args.includes('--provider-file') || args.includes('--profile') ? args : ['--provider', dialect, ...args]);
  let runs = 0;
  const record = (result: RunResult) => {
    snap();
    runs++;
    outputs[`run ${runs} stdout`] = result.stdout;
    outputs[`run ${runs} stderr`] = result.stderr;
    return result;
  };
  let profiles = 0;
  const journalFile = join(h.stateDir, 'keyrot', 'rotations', `${providerId}-${account.id}.json`);
  const journal = async () => {
    try {
      return JSON.parse(await readFile(journalFile, 'utf8'));
    } catch {
      return null;
    }
  };
  return {
    sandbox,
    providerId,
    stateDir: h.stateDir,
    env: { ...h.env, ...env },
    dir,
    keyFile,
    hook,
    account: { id: account.id, name: account.name, label },
    oldKey: { id: first.id, name: first.name, plaintext: first.plaintext },
    run: async (args, runOpts = {}) => record(await collect(h.spawn(withProvider(args), { ...runOpts, env: { ...env, ...runOpts.env } }), runOpts.timeoutMs ?? 60_000)),
    main: async (args, runOpts = {}) => record(await inProcess(h, withProvider(args), { ...runOpts, env: { ...env, ...runOpts.env } })),
    spawn: (args, runOpts = {}) => h.spawn(withProvider(args), { ...runOpts, env: { ...env, ...runOpts.env } }),
    keys: () => accountOf().keys.map(({ id, name, plaintext, scopes, expiresAt, lastUsedAt }) => ({ id, name, plaintext, scopes, expiresAt, lastUsedAt })),
    status,
    consumer(file = keyFile, intervalMs = 100) {
      const counts: ConsumerCounts = { calls: 0, byStatus: {} };
      let stopped = false;
      const loop = (async () => {
        while (!stopped) {
          const key = (await readFile(file, 'utf8')).trim();
          const code = await status(key).catch(() => 0);
          counts.calls++;
          counts.byStatus[code] = (counts.byStatus[code] ?? 0) + 1;
          await sleep(intervalMs);
        }
      })();
      const stop = async () => {
        stopped = true;
        await loop;
        return { ...counts, byStatus: { ...counts.byStatus } };
      };
      consumers.push(stop);
      return { counts: () => ({ ...counts, byStatus: { ...counts.byStatus } }), stop };
    },
    journal,
    async waitForJournal(accept, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      let last: any = null;
      while (Date.now() < until) {
        last = await journal();
        if (last && accept(last)) return last;
        await sleep(15);
      }
      throw new Error(`the journal did not reach the expected state within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    },
    held,
    async profile() {
      const name = `${dialect}-${process.pid}-${++profiles}`;
      await mkdir(join(dir, 'keyrot'), { recursive: true });
      await writeFile(join(dir, 'keyrot', 'config'), `[${name}]\nprovider = ${dialect}\napi-url = ${sandbox.url}\n`, { flag: 'a' });
      cleanups.push(async () => {
        const { AsyncEntry } = await import('@napi-rs/keyring');
        for (const account of (await keychainAccounts()).filter((a) => a.startsWith(`${name}/`))) {
          await new AsyncEntry('keyrot', account, { linux: { store: 'secret-service' } }).deleteCredential();
        }
      });
      // The admin key variable emptied: the profile's keychain entry is where the key comes from.
      const keyVars = Object.keys(sandbox.env).filter((k) => sandbox.env[k] === sandbox.adminKey);
      return { env: { ...Object.fromEntries(keyVars.map((k) => [k, ''])), KEYROT_PROFILE: name, XDG_CONFIG_HOME: dir }, entry: (account) => `${name}/${account}` };
    },
    async leaks() {
      snap();
      const texts = { ...outputs };
      for (const file of await h.stateFiles()) texts[file.path] = file.text;
      return findLeaks([...secrets], texts);
    },
  };
}

/**
 * The end state of a finished rotation with keys keyrot lists: only the key named `name`, held in the keychain (and
 * nothing else of the account), working; the old key rejected; no journal left, no secret leaked. Returns that key.
 */
export async function expectOnly(s: PlatformSetup, name: string): Promise<ReturnType<PlatformSetup['keys']>[number]> {
  const keys = s.keys();
  expect(keys.map((k) => k.name)).toEqual([name]);
  const live = keys[0]!;
  const entry = `${s.providerId}:${s.account.id}:${live.id}`;
  expect(await keychainGet(entry)).toBe(live.plaintext);
  expect(await s.held()).toEqual([entry]);
  expect(await s.status(live.plaintext)).toBe(200);
  expect(await s.status(s.oldKey.plaintext)).toBe(401);
  expect(await s.journal()).toBeNull();
  expect(await s.leaks()).toEqual([]);
  return live;
}

/** The keychain account of a key of this platform. */
export function platformAccount(dialect: PlatformDialect, accountId: string, keyId: string): string {
  return `${dialect}:${accountId}:${keyId}`;
}

/** A point to kill keyrot at: held there by sandbox faults or a hanging hook until the journal shows `until`. */
export interface KillPoint {
  name: string;
  faults?: FaultSpec[];
  /** Armed once the journal satisfies `when` (for a route used earlier too). */
  arm?: { when: (j: any) => boolean; fault: FaultSpec };
  hang?: boolean;
  until: (j: any) => boolean;
  /** How long to let keyrot go on once `until` holds, ms (to kill it inside a request made later in that phase). */
  settleMs?: number;
}

/** The journal is at `name` (and, if given, its side effect has or has not started). */
export function atPhase(name: string, status?: 'pending' | 'started'): (j: any) => boolean {
  return (j) => j.phase === name && (status === undefined || j.phaseStatus === status);
}

/** Runs keyrot with `args`, kills it with SIGKILL at `point`, and clears every fault and the hanging hook. */
export async function killAt(s: PlatformSetup, args: string[], point: KillPoint, opts: RunOptions = {}): Promise<void> {
  for (const fault of point.faults ?? []) s.sandbox.addFault(fault);
  if (point.hang) await writeFile(join(s.dir, 'hook-hang'), '');
  const child = s.spawn(args, opts);
  const killed = collect(child, 60_000);
  try {
    if (point.arm) {
      await s.waitForJournal(point.arm.when);
      s.sandbox.addFault(point.arm.fault);
    }
    await s.waitForJournal(point.until);
    // The journal says "hand-over started" before the hook runs: kill only once the hook is hanging, else a hook
    // started after the kill would find no hang, read an empty stdin and hand the consumer an empty key.
    if (point.hang) while (!(await readFile(join(s.dir, 'hook.pid'), 'utf8').catch(() => ''))) await sleep(15);
    if (point.settleMs) await sleep(point.settleMs);
    child.kill('SIGKILL');
    expect((await killed).signal).toBe('SIGKILL');
  } finally {
    child.kill('SIGKILL');
    s.sandbox.clearFaults();
    if (point.hang) await rm(join(s.dir, 'hook-hang'), { force: true });
  }
}
