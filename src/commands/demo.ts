// keyrot demo: the main job end to end against an in-process sandbox, as real command lines, so someone
// with no Vultr account sees it work in seconds. A simulated consumer keeps calling the API with whatever key
// is in its key file during the rotation; the hook hands it the new key, and it must never see a 401.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { probeWritable, type SecretStore } from '../keychain/secret-store.js';
import type { CommandModule } from './types.js';

export type DemoOptions = Record<string, never>;

export interface DemoResult {
  steps: Array<{ command: string; exitCode: number }>;
  keychain: string;
  consumer: { calls: number; rejected: number };
}

const USER = 'ops@example.com';

export const demoCommand: CommandModule<DemoOptions, DemoResult> = {
  async run(_options, ctx) {
    if (ctx.out.json) throw new UsageError('keyrot demo is for people: it has no --json output.');
    const { startSandbox } = await import('../sandbox/server.js');
    const { runCli } = await import('../main.js');
    const sandbox = await startSandbox({ port: 0 });
    const work = await mkdtemp(join(tmpdir(), 'keyrot-demo-'));
    const consumer = { calls: 0, rejected: 0 };
    let consumerTimer: NodeJS.Timeout | undefined;
    try {
      const store = await chooseStore(ctx);
      const s = ctx.out.style;
      ctx.out.info(s.bold(`keyrot demo: a sandbox Vultr API runs at ${sandbox.url}; no account needed.`));
      ctx.out.info(store.kind === 'os' ? `Keys go to ${store.description} (service "keyrot"); the demo removes them at the end.` : `No OS keychain here: the demo uses ${store.description}. Real runs refuse to create keys without a keychain.`);

      const keyFile = join(work, 'consumer.key');
      const sandboxOps = sandbox.snapshot().users.find((u) => u.email === USER);
      await writeFile(keyFile, sandboxOps?.keys[0]?.plaintext ?? '', { mode: 0o600 });
      // The consumer: an application reading its key from a file and calling the API every 150 ms.
      const callApi = async () => {
        const key = (await readFile(keyFile, 'utf8')).trim();
        const res = await fetch(`${sandbox.url}/account`, { headers: { Authorization: `Bearer ${key}` } }).catch(() => null);
        consumer.calls++;
        if (res?.status === 401) consumer.rejected++;
        await res?.body?.cancel();
      };
      consumerTimer = setInterval(() => void callApi(), 150);

      const env: NodeJS.ProcessEnv = { ...ctx.env, VULTR_API_URL: sandbox.url, VULTR_API_KEY: sandbox.adminKey, XDG_STATE_HOME: join(work, 'state') };
      delete env.GITHUB_ACTIONS;
      const node = JSON.stringify(process.execPath);
      const writeKey = `${node} -e "process.stdin.pipe(require('fs').createWriteStream(process.argv[1]))" ${JSON.stringify(keyFile)}`;
      const script: string[][] = [
        ['list-users'],
        ['list-keys', '--user', USER],
        ['rotate', '--user', USER, '--key', 'ops-deploy', '--on-new-key', writeKey, '--poll-interval', '1s', '--wait-timeout', '1m', '--yes'],
        ['list-keys', '--user', USER],
        ['verify', '--user', USER],
        ['create', '--user', USER, '--name', 'demo-extra', '--expires', '30d'],
        ['revoke', '--user', USER, '--key', 'demo-extra', '--yes'],
      ];
      const steps: DemoResult['steps'] = [];
      for (const argv of script) {
        const shown = `keyrot ${argv.map((a) => (a === writeKey ? "'<write the key to the consumer's key file>'" : /\s/.test(a) ? `'${a}'` : a)).join(' ')}`;
        ctx.out.info(`\n${s.cyan('$')} ${s.bold(shown)}`);
        const exitCode = await runCli(argv, { env, ...ctx.io, secretStore: store }, ctx.signal);
        steps.push({ command: shown, exitCode });
        if (exitCode !== 0) throw new UsageError(`The demo stopped: "${shown}" exited with ${exitCode}.`);
      }
      clearInterval(consumerTimer);
      await cleanUp(store, sandbox.snapshot().users.find((u) => u.email === USER)?.id ?? '');
      return { steps, keychain: store.description, consumer };
    } finally {
      clearInterval(consumerTimer);
      await sandbox.close();
      await rm(work, { recursive: true, force: true });
    }
  },
  render(result, ctx) {
    const s = ctx.out.style;
    ctx.out.info(
      `\n${s.green('✔')} Demo done: ${result.steps.length} commands. The consumer made ${result.consumer.calls} API calls during the run, ${result.consumer.rejected} rejected.` +
        `\nNext: keyrot sandbox (a sandbox that stays up), keyrot --help, or set VULTR_API_KEY and run keyrot list-users.`,
    );
  },
};

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

/** The demo's keys live only in the sandbox: remove what it left in the keychain. */
async function cleanUp(store: SecretStore, userId: string): Promise<void> {
  for (const account of await store.list()) if (account.startsWith(`vultr:${userId}:`)) await store.delete(account);
}
