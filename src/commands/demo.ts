// keyrot demo: the main job end to end against in-process sandboxes, as real command lines, so someone with no
// account sees it work in seconds. A simulated consumer keeps calling the API with whatever key is in its key file
// during the rotation; the hook hands it the new key, and it must never see a 401.
//
// `keyrot demo` rotates a Vultr key (a per-user activity signal), then a Grafana token (each token's own last use),
// and shows the two waits side by side. `--provider grafana|example` runs the per-key rotation alone;
// `--provider kubeadapt` the assisted one, with the demo acting as the person at the dashboard.
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from '../cli/context.js';
import type { RotationRecord } from '../core/rotation.js';
import { shellArg } from '../core/shell-arg.js';
import { UsageError } from '../errors.js';
import { probeWritable, type SecretStore } from '../keychain/secret-store.js';
import { identifyKubeadaptKey } from '../providers/kubeadapt/provider.js';
import type { PlatformDialect, PlatformSandbox } from '../sandbox/platforms.js';
import type { CommandModule } from './types.js';
import { say, displayText, joinDisplay } from '../ui/display-text.js';

export type DemoOptions = Record<string, never>;

export interface DemoResult {
  steps: Array<{ command: string; exitCode: number }>;
  keychain: string;
  consumer: { calls: number; rejected: number };
  /** How each rotation's wait knew the consumers had switched, by provider. */
  waits: Array<{ provider: string; signal: string; detail: string }>;
}

const USER = 'ops@example.com';
/** The account each platform demo rotates. */
const ACCOUNT: Record<PlatformDialect, string> = { grafana: 'sa-1-deploy-bot', example: 'deploy-bot', kubeadapt: 'org' };

/** What one demo run shares: where keys go, the work folder, the commands run so far, the consumer's counts. */
interface Stage {
  ctx: Context;
  store: SecretStore;
  work: string;
  result: DemoResult;
}

export const demoCommand: CommandModule<DemoOptions, DemoResult> = {
  async run(_options, ctx) {
    if (ctx.out.json) throw new UsageError(say`keyrot demo is for people: it has no --json output.`);
    const provider = ctx.providerFactory.id;
    const { PLATFORM_DIALECTS } = await import('../sandbox/platforms.js');
    const dialect = PLATFORM_DIALECTS.find((d) => d === provider);
    if (provider !== 'vultr' && !dialect)
      throw new UsageError(say`keyrot demo has no sandbox for ${displayText(ctx.providerFactory.displayName)}: try --provider vultr, ${displayText(PLATFORM_DIALECTS.join(', '), 2000)}.`);
    const work = await mkdtemp(join(tmpdir(), 'keyrot-demo-'));
    try {
      const store = await chooseStore(ctx);
      const stage: Stage = { ctx, store, work, result: { steps: [], keychain: store.description, consumer: { calls: 0, rejected: 0 }, waits: [] } };
      ctx.out.info(
        store.kind === 'os'
          ? say`Keys go to ${displayText(store.description)} (service "keyrot"); the demo removes them at the end.`
          : say`No OS keychain here: the demo uses ${displayText(store.description)}. Real runs refuse to create keys without a keychain.`,
      );
      if (dialect) await platformDemo(stage, dialect);
      else {
        await vultrDemo(stage);
        await platformDemo(stage, 'grafana');
      }
      return stage.result;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  },
  render(result, ctx) {
    const s = ctx.out.style;
    if (result.waits.length > 1) {
      const width = Math.max(...result.waits.map((w) => w.provider.length));
      ctx.out.info(
        joinDisplay(
          [
            say``,
            s.bold(say`How each rotation knew the consumers had switched before revoking the old key:`),
            ...result.waits.map((w) => say`  ${displayText(w.provider.padEnd(width))}  ${displayText(w.signal)}: ${displayText(w.detail, 2000)}`),
            say`Vultr reports activity per user: it cannot tell the new key from the old one (add --check for proof). Grafana reports each`,
            say`token's own last use: keyrot revoked the old token only once the new one was used and the old one had stayed unused.`,
          ],
          '\n',
        ),
      );
    }
    ctx.out.info(
      say`\n${s.green(say`✔`)} Demo done: ${result.steps.length} commands. The consumers made ${result.consumer.calls} API calls during the runs, ${result.consumer.rejected} rejected.\nNext: keyrot sandbox (a sandbox that stays up; --provider grafana|example|kubeadapt for the others), keyrot --help, or set VULTR_API_KEY and run keyrot list-users.`,
    );
  },
};

/** Vultr: the fixture user's key, rotated with a hook that writes the consumer's key file. */
async function vultrDemo(stage: Stage): Promise<void> {
  const { startSandbox } = await import('../sandbox/server.js');
  const sandbox = await startSandbox({ port: 0 });
  try {
    stage.ctx.out.info(stage.ctx.out.style.bold(say`keyrot demo: a sandbox Vultr API runs at ${displayText(sandbox.url)}; no account needed.`));
    const keyFile = join(stage.work, 'vultr-consumer.key');
    await writeFile(keyFile, sandbox.snapshot().users.find((u) => u.email === USER)?.keys[0]?.plaintext ?? '', { mode: 0o600 });
    const env = { VULTR_API_URL: sandbox.url, VULTR_API_KEY: sandbox.adminKey, XDG_STATE_HOME: join(stage.work, 'vultr-state') };
    const writeKey = keyWriter(keyFile);
    await withConsumer(
      stage,
      keyFile,
      (key) => fetch(`${sandbox.url}/account`, { headers: { Authorization: `Bearer ${key}` } }),
      () =>
        runScript(stage, env, writeKey, [
          ['list-users'],
          ['list-keys', '--user', USER],
          // Vultr's activity is per user, no evidence of the switch: the consumer's own check is (see docs/ci.md).
          ['rotate', '--user', USER, '--key', 'ops-deploy', '--on-new-key', writeKey, '--check', keyChecker(keyFile, sandbox.url), '--poll-interval', '1s', '--wait-timeout', '1m', '--yes'],
          ['list-keys', '--user', USER],
          ['verify', '--user', USER],
          ['create', '--user', USER, '--name', 'demo-extra', '--expires', '30d'],
          ['revoke', '--user', USER, '--key', 'demo-extra', '--yes'],
        ]),
    );
    await recordWait(stage, 'Vultr', 'per user', env.XDG_STATE_HOME);
    await cleanUp(stage.store, `vultr:${sandbox.snapshot().users.find((u) => u.email === USER)?.id ?? ''}:`);
  } finally {
    await sandbox.close();
  }
}

/** Grafana and the example platform: the per-key wait. Kubeadapt: the assisted rotation, the demo minting and revoking "in the dashboard". */
async function platformDemo(stage: Stage, dialect: PlatformDialect): Promise<void> {
  const { startPlatformSandbox } = await import('../sandbox/platforms.js');
  // Last use written at most every second (the real platforms: minutes), so the evidence comes in seconds.
  const sandbox = await startPlatformSandbox({ dialect, refreshMs: 2000 });
  const s = stage.ctx.out.style;
  try {
    const account = sandbox.snapshot().find((a) => a.login === ACCOUNT[dialect] || a.name === ACCOUNT[dialect]);
    const old = account?.keys[0];
    if (!account || !old) throw new Error(`the ${dialect} sandbox has no ${ACCOUNT[dialect]}`);
    stage.ctx.out.info(
      s.bold(
        say`\nkeyrot demo: a sandbox ${displayText(`${dialect === 'kubeadapt' ? say`Kubeadapt` : dialect === 'grafana' ? 'Grafana' : 'example service-account platform'}`)} API runs at ${displayText(sandbox.url)}; no account needed.`,
      ),
    );
    const keyFile = join(stage.work, `${dialect}-consumer.key`);
    await writeFile(keyFile, old.plaintext, { mode: 0o600 });
    const stateHome = join(stage.work, `${dialect}-state`);
    const env = { ...sandbox.env, XDG_STATE_HOME: stateHome };
    const writeKey = keyWriter(keyFile);
    const provider = ['--provider', dialect];
    const call = (key: string) =>
      fetch(`${sandbox.url}${dialect === 'grafana' ? '/api/org' : dialect === 'example' ? '/me' : '/clusters'}`, {
        headers: dialect === 'example' ? { 'X-Api-Key': key } : { Authorization: `Bearer ${key}` },
      });
    if (dialect === 'kubeadapt') {
      const name = `${old.name}-v2`;
      stage.ctx.out.info(
        say`The demo plays the person at Kubeadapt's dashboard: it mints ${displayText(name)} with ${displayText(old.name)}'s scopes (${displayText(old.scopes.join(', '), 2000)}), pipes it in, and revokes ${displayText(old.name)} when keyrot asks.`,
      );
      const minted = sandbox.mint({ name, scopes: old.scopes });
      const revoker = revokeWhenAsked(sandbox, stateHome, old.id);
      await withConsumer(stage, keyFile, call, () =>
        runScript(
          stage,
          env,
          writeKey,
          [[...provider, 'rotate', '--key', old.name, '--new-key-stdin', '--on-new-key', writeKey, '--poll-interval', '250ms', '--wait-timeout', '1m', '--yes']],
          minted.plaintext,
        ),
      ).finally(() => revoker.stop());
    } else {
      const user = ACCOUNT[dialect];
      await withConsumer(stage, keyFile, call, () =>
        runScript(stage, env, writeKey, [
          [...provider, 'list-users'],
          [...provider, 'list-keys', '--user', user],
          [...provider, 'rotate', '--user', user, '--on-new-key', writeKey, '--usage-refresh', '2s', '--poll-interval', '250ms', '--wait-timeout', '1m', '--yes'],
          [...provider, 'list-keys', '--user', user],
          [...provider, 'verify', '--user', user],
        ]),
      );
      await recordWait(stage, dialect === 'grafana' ? 'Grafana' : 'Example platform', 'per key', stateHome);
    }
    // Only the entries of keys this sandbox made: a real key of the same provider and account id (Kubeadapt's account
    // is "org" everywhere) stays where it is.
    const made = sandbox.issued().map((key) => `${dialect}:${account.id}:${dialect === 'kubeadapt' ? identifyKubeadaptKey(key.plaintext, '').id : key.id}`);
    for (const entry of made) await stage.store.delete(entry);
  } finally {
    await sandbox.close();
  }
}

/** A --check: the key in the consumer's file authenticates against `apiUrl`. */
function keyChecker(file: string, apiUrl: string): string {
  const script = `fetch(process.argv[2]+'/account',{headers:{authorization:'Bearer '+require('fs').readFileSync(process.argv[1],'utf8').trim()}}).then(r=>process.exit(r.ok?0:1),()=>process.exit(2))`;
  return `${JSON.stringify(process.execPath)} -e "${script}" ${JSON.stringify(file)} ${JSON.stringify(apiUrl)}`;
}

/**
 * A command that writes its stdin (the new key) to `file`: the hand-over to the demo's consumer. The file is
 * replaced whole (written aside, then renamed over it): the consumer polls it, and a file truncated before the new
 * key is written would hand it an empty key, a 401 that no real consumer would cause.
 */
function keyWriter(file: string): string {
  const script = "let d='';process.stdin.on('data',c=>d+=c).on('end',()=>{const f=require('fs'),p=process.argv[1];f.writeFileSync(p+'.new',d,{mode:0o600});f.renameSync(p+'.new',p)})";
  return `${JSON.stringify(process.execPath)} -e "${script}" ${JSON.stringify(file)}`;
}

/** Runs each command line in-process, shown as typed (the hook as a placeholder); stops at the first failure. */
async function runScript(stage: Stage, env: Record<string, string>, writeKey: string, script: string[][], stdin?: string): Promise<void> {
  const { runCli } = await import('../main.js');
  const { ctx, store } = stage;
  const childEnv: NodeJS.ProcessEnv = { ...ctx.env, ...env };
  delete childEnv.GITHUB_ACTIONS;
  for (const argv of script) {
    const piped = stdin !== undefined && argv.includes('--new-key-stdin');
    const shown = `${piped ? "printf %s '<the minted key>' | " : ''}keyrot ${argv.map((a) => (a === writeKey ? "'<write the key to the key file of the consumer>'" : shellArg(a))).join(' ')}`;
    ctx.out.info(say`\n${ctx.out.style.cyan(say`$`)} ${ctx.out.style.bold(displayText(shown, 2000))}`);
    const io = piped ? { ...ctx.io, stdin: Readable.from([stdin]) } : ctx.io;
    const exitCode = await runCli(argv, { env: childEnv, ...io, secretStore: store }, ctx.signal);
    stage.result.steps.push({ command: shown, exitCode });
    if (exitCode !== 0) throw new UsageError(say`The demo stopped: "${displayText(shown)}" exited with ${exitCode}.`);
  }
}

/** A consumer calling the API every 150 ms with whatever key its file holds, while `during` runs. */
async function withConsumer(stage: Stage, keyFile: string, call: (key: string) => Promise<Response>, during: () => Promise<void>): Promise<void> {
  const counts = stage.result.consumer;
  const timer = setInterval(() => {
    void (async () => {
      const key = (await readFile(keyFile, 'utf8')).trim();
      const res = await call(key).catch(() => null);
      counts.calls++;
      if (res?.status === 401) counts.rejected++;
      await res?.body?.cancel();
    })();
  }, 150);
  try {
    await during();
  } finally {
    clearInterval(timer);
  }
}

/** The wait step of the rotation just finished (its archived journal), for the side-by-side comparison. */
async function recordWait(stage: Stage, provider: string, signal: string, stateHome: string): Promise<void> {
  const history = join(stateHome, 'keyrot', 'rotations', 'history');
  for (const name of await readdir(history).catch(() => [])) {
    const record = JSON.parse(await readFile(join(history, name), 'utf8')) as RotationRecord;
    const wait = record.steps.find((step) => step.phase === 'wait');
    if (wait?.detail) stage.result.waits.push({ provider, signal, detail: wait.detail });
  }
}

/** Acts as the person at the dashboard: revokes `keyId` once the rotation's journal asks for it. */
function revokeWhenAsked(sandbox: PlatformSandbox, stateHome: string, keyId: string): { stop(): void } {
  let stopped = false;
  const dir = join(stateHome, 'keyrot', 'rotations');
  void (async () => {
    while (!stopped) {
      for (const name of await readdir(dir).catch(() => [])) {
        if (!name.endsWith('.json')) continue;
        const text = await readFile(join(dir, name), 'utf8').catch(() => '{}');
        if ((JSON.parse(text) as Partial<RotationRecord>).awaiting === 'revoke') {
          // As a person would, a moment later: a consumer call sent with the old key just before the hand-over
          // (Kubeadapt reports no usage to wait on) is answered first.
          await sleep(500);
          sandbox.revoke(keyId);
          return;
        }
      }
      await sleep(100);
    }
  })();
  return { stop: () => (stopped = true) };
}

/** The OS keychain when it works here; otherwise memory, for the demo only. */
async function chooseStore(ctx: { secretStore(): Promise<SecretStore> }): Promise<SecretStore> {
  try {
    const store = await ctx.secretStore();
    await probeWritable(store, 3_000);
    return store;
  } catch {
    const { MemorySecretStore } = await import('../keychain/memory-store.js');
    return new MemorySecretStore();
  }
}

/** The demo's keys live only in the sandboxes: remove what it left in the keychain. */
async function cleanUp(store: SecretStore, prefix: string): Promise<void> {
  for (const account of await store.list()) if (account.startsWith(prefix)) await store.delete(account);
}
