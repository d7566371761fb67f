// Handing a new key to its consumers through --on-new-key, and where a new key lives (--store): shared by
// create and rotate, so both keep the same promises (the key on the hook's stdin only, masked in GitHub
// Actions first, the admin key never in the hook's environment).
import type { Context } from '../cli/context.js';
import { sanitizeForDisplay } from '../core/mask.js';
import { CancelledError, HookFailedError, KeychainError, UsageError } from '../errors.js';
import { describeOutcome, runShell, type HookOutcome } from '../hooks/shell.js';
import type { HookProcess } from '../hooks/process-group.js';
import type { SecretStore } from '../keychain/secret-store.js';
import { parseTargets, targetList } from '../destinations/index.js';
import { addMaskLine, inGithubActions } from '../ui/github.js';
import { say, displayText, type DisplayText } from '../ui/display-text.js';

/** --hook-timeout when not given. */
export const DEFAULT_HOOK_TIMEOUT = '2m';

/** --store none keeps a new key in memory only: --on-new-key or --to must take it, or nobody ever would. */
export function requireHookWithoutStore(ctx: Context, onNewKey: string | undefined, to: readonly string[] = []): void {
  if (ctx.storeMode === 'none' && !onNewKey && to.length === 0) {
    throw new UsageError(say`--store none keeps the new key in memory only: --on-new-key or --to is then the only way to hand it on, and one is required.`);
  }
}

/** --to of a command, each target parsed (so a malformed one is bad input before any call); the targets. */
export function parseTargetsEarly(ctx: Context, options: { to?: string | string[] }): string[] {
  const targets = targetList(options.to);
  parseTargets(targets, { env: ctx.env });
  return targets;
}

/** The keychain, or with --store none a store that lives only as long as this process. */
export async function storeFor(ctx: Context, mode: 'os' | 'none'): Promise<SecretStore> {
  if (mode === 'os') return ctx.secretStore();
  const { MemorySecretStore } = await import('../keychain/memory-store.js');
  return new MemorySecretStore();
}

/** A keychain that cannot take the new key: the way out on a runner without one is --store none with a hook. */
export function withoutKeychainHint(err: unknown): never {
  if (err instanceof KeychainError) {
    err.hint = say`${err.hint ? say`${err.hint} ` : say``}Without a keychain (a CI runner): --store none --on-new-key CMD hands the new key to CMD alone.`;
  }
  throw err;
}

/**
 * Runs an operator's command (a hook, a check) through the shell with keyrot's environment less the admin key;
 * its lines are shown with --verbose (masked). Throws CancelledError when keyrot is interrupted meanwhile.
 */
export async function runLogged(
  ctx: Context,
  name: string,
  command: string,
  stdin: string | undefined,
  env: Record<string, string>,
  timeoutMs: number,
  onStart?: (proc: HookProcess) => Promise<void>,
): Promise<{ outcome: HookOutcome; tail: string[] }> {
  const tail: string[] = [];
  const outcome = await runShell({
    command,
    stdin,
    // Hooks get the new key on stdin and nothing more: not the admin key keyrot runs with.
    baseEnv: withoutAdminKey(ctx.env, ctx.providerFactory.adminKeyEnv),
    env,
    timeoutMs,
    signal: ctx.signal,
    redact: (line, truncated) => (truncated ? ctx.out.cleanTruncated(line) : ctx.out.clean(line)),
    onLine: (line) => {
      tail.push(line);
      if (tail.length > 5) tail.shift();
      ctx.out.detail(say`  ${displayText(name)}: ${displayText(line)}`);
    },
    ...(onStart ? { onStart } : {}),
  });
  if (ctx.signal.aborted) throw new CancelledError(say`Interrupted while ${displayText(name)} was running.`);
  return { outcome, tail };
}

/**
 * Gives `secret` to --on-new-key on its stdin, exactly as `keyrot get` prints it: no newline after it (a consumer that
 * stores what it reads must hold the key, not the key and a line break), after masking it in the GitHub Actions log.
 * Throws HookFailedError (with `hint`, if any) when the command fails or times out, CancelledError when interrupted.
 */
export async function runNewKeyHook(
  ctx: Context,
  command: string,
  secret: string,
  env: Record<string, string>,
  timeoutMs: number,
  hint?: DisplayText,
  onStart?: (proc: HookProcess) => Promise<void>,
): Promise<void> {
  // Under GitHub Actions the runner masks the key in every later log line before anyone can echo it.
  if (inGithubActions(ctx.env)) ctx.out.workflowCommand(addMaskLine(secret));
  const { outcome, tail } = await runLogged(ctx, '--on-new-key', command, secret, env, timeoutMs, onStart);
  if (outcome.exitCode !== 0 || outcome.timedOut) {
    // The hook's own words may quote the key it was given (a careless `echo`): masked and made printable.
    const last = tail.length ? sanitizeForDisplay(ctx.out.clean(tail.at(-1) ?? '')) : undefined;
    throw new HookFailedError(say`${displayText(describeOutcome('--on-new-key', outcome, timeoutMs))}${last ? say` Last output: ${displayText(last)}` : say``}`, hint ? { hint } : {});
  }
}

function withoutAdminKey(env: NodeJS.ProcessEnv, adminKeyEnv: string): NodeJS.ProcessEnv {
  const { [adminKeyEnv]: _adminKey, ...rest } = env;
  return rest;
}
