import { UsageError } from '../errors.js';
import type { CommandModule } from './types.js';

export interface SandboxCommandOptions {
  port?: string;
  users?: string;
  keysPerUser?: string;
  fault?: string[];
  createAnswer?: string;
}

export interface SandboxCommandResult {
  url: string;
  requests: number;
}

/** Serves the sandbox until Ctrl-C/SIGTERM, then closes it cleanly (exit 0). */
export const sandboxCommand: CommandModule<SandboxCommandOptions, SandboxCommandResult> = {
  streams: true,
  async run(options, ctx) {
    const port = wholeNumber(options.port ?? '8080', '--port', 0, 65_535);
    const users = wholeNumber(options.users ?? '6', '--users', 4, 100_000);
    const keysPerUser = wholeNumber(options.keysPerUser ?? '0', '--keys-per-user', 0, 10);
    const { startSandbox, parseFaultSpec } = await import('../sandbox/server.js');
    const faults = (options.fault ?? []).map(parseFaultSpec);
    const sandbox = await startSandbox({ port, users, keysPerUser, faults, createAnswer: options.createAnswer === 'empty' ? 'empty' : 'plaintext' });
    try {
      if (ctx.out.json) {
        ctx.out.reveal(JSON.stringify({ url: sandbox.url, adminKey: sandbox.adminKey, controlUrl: sandbox.controlUrl }));
      } else {
        // The sandbox's admin key is fake and printed on purpose: it is how you use the sandbox.
        ctx.out.reveal(`export VULTR_API_URL=${sandbox.url}\nexport VULTR_API_KEY=${sandbox.adminKey}`);
        ctx.out.info(`Sandbox Vultr API on ${sandbox.url} (${users} users${keysPerUser ? `, ${keysPerUser} key${keysPerUser === 1 ? '' : 's'} per generated user` : ''}; fixtures admin@, ops@, ci@, viewer@example.com).`);
        ctx.out.info(`Paste the two export lines above into another shell, then try: keyrot list-users`);
        if (faults.length) ctx.out.info(`Faults armed: ${options.fault?.join('; ')}`);
        ctx.out.info('Ctrl-C stops it.');
      }
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      return { url: sandbox.url, requests: sandbox.requests().length };
    } finally {
      await sandbox.close();
      ctx.out.info('Sandbox stopped.');
    }
  },
  render() {},
};

function wholeNumber(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}; got "${text}".`);
  return n;
}
