import type { Context } from '../cli/context.js';
import { parseDuration } from '../core/duration.js';
import { UsageError } from '../errors.js';
import type { CommandModule } from './types.js';
import { say, displayText } from '../ui/display-text.js';

export interface SandboxCommandOptions {
  port?: string;
  users?: string;
  keysPerUser?: string;
  fault?: string[];
  createAnswer?: string;
  /** Platform sandboxes: how often a key's last use may be written. */
  refresh?: string;
  /** The Kubeadapt sandbox: which generation of Kubeadapt's docs it answers by. */
  docs?: 'current' | 'earlier';
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
    if (ctx.providerFactory.id !== 'vultr') return servePlatform(options, ctx, port);
    const users = wholeNumber(options.users ?? '6', '--users', 4, 100_000);
    const keysPerUser = wholeNumber(options.keysPerUser ?? '0', '--keys-per-user', 0, 10);
    const { startSandbox, parseFaultSpec } = await import('../sandbox/server.js');
    const faults = (options.fault ?? []).map(parseFaultSpec);
    const sandbox = await startSandbox({ port, users, keysPerUser, faults, createAnswer: options.createAnswer === 'empty' ? 'empty' : 'plaintext' });
    return serveUntilStopped(ctx, sandbox, () => {
      // The sandbox's admin key is fake and printed on purpose: it is how you use the sandbox.
      ctx.out.reveal(`export VULTR_API_URL=${sandbox.url}\nexport VULTR_API_KEY=${sandbox.adminKey}`);
      ctx.out.info(
        say`Sandbox Vultr API on ${displayText(sandbox.url)} (${users} users${keysPerUser ? say`, ${keysPerUser} key${keysPerUser === 1 ? say`` : say`s`} per generated user` : say``}; fixtures admin@, ops@, ci@, viewer@example.com).`,
      );
      ctx.out.info(say`Paste the two export lines above into another shell, then try: keyrot list-users`);
      if (faults.length) ctx.out.info(say`Faults armed: ${displayText(`${options.fault?.join('; ')}`)}`);
    });
  },
  render() {},
};

/** `keyrot --provider grafana|example|kubeadapt sandbox`: the platform's stand-in, until Ctrl-C. */
async function servePlatform(options: SandboxCommandOptions, ctx: Context, port: number): Promise<SandboxCommandResult> {
  const { startPlatformSandbox, PLATFORM_DIALECTS } = await import('../sandbox/platforms.js');
  const dialect = PLATFORM_DIALECTS.find((d) => d === ctx.providerFactory.id);
  if (!dialect) throw new UsageError(say`keyrot has no sandbox for ${displayText(ctx.providerFactory.displayName)}: it serves ${displayText(['vultr', ...PLATFORM_DIALECTS].join(', '), 2000)}.`);
  if (options.fault?.length || (options.createAnswer !== undefined && options.createAnswer !== 'plaintext')) throw new UsageError(say`--fault and --create-answer apply to the Vultr sandbox only.`);
  if (options.docs !== undefined && dialect !== 'kubeadapt') throw new UsageError(say`--docs applies to the Kubeadapt sandbox only.`);
  const refreshMs = options.refresh === undefined ? undefined : parseDuration(options.refresh, '--refresh');
  const sandbox = await startPlatformSandbox({ dialect, port, ...(refreshMs === undefined ? {} : { refreshMs }), ...(options.docs ? { kubeadaptDocs: options.docs } : {}) });
  return serveUntilStopped(ctx, sandbox, () => {
    // The sandbox's keys are fake and printed on purpose: it is how you use the sandbox.
    ctx.out.reveal(
      Object.entries(sandbox.env)
        .map(([name, value]) => `export ${name}=${value}`)
        .join('\n'),
    );
    ctx.out.info(
      say`Sandbox ${displayText(ctx.providerFactory.displayName)} API on ${displayText(sandbox.url)}; its dashboard is ${displayText(sandbox.controlUrl)}/dashboard/keys (POST {"name","scopes"} mints, DELETE …/<id> revokes).`,
    );
    ctx.out.info(
      say`Paste the export lines above into another shell, then try: keyrot --provider ${displayText(`${dialect}`)} ${dialect === 'kubeadapt' ? say`rotate --key prod-exporter` : say`list-users`}`,
    );
  });
}

/**
 * Prints how to use a started sandbox (`explain`, or one JSON document with --json), serves until Ctrl-C/SIGTERM,
 * then closes it.
 */
async function serveUntilStopped(
  ctx: Context,
  sandbox: { url: string; adminKey: string; controlUrl: string; requests(): unknown[]; close(): Promise<void> },
  explain: () => void,
): Promise<SandboxCommandResult> {
  try {
    if (ctx.out.json) {
      ctx.out.reveal(JSON.stringify({ url: sandbox.url, adminKey: sandbox.adminKey, controlUrl: sandbox.controlUrl }));
    } else {
      explain();
      ctx.out.info(say`Ctrl-C stops it.`);
    }
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    return { url: sandbox.url, requests: sandbox.requests().length };
  } finally {
    await sandbox.close();
    ctx.out.info(say`Sandbox stopped.`);
  }
}

function wholeNumber(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(say`${displayText(flag)} must be a whole number from ${min} to ${max}; got "${displayText(text)}".`);
  return n;
}
