// keyrot exec: run a consumer with the key keyrot holds for a user in its environment (like `aws-vault exec`). The
// key goes into one variable of the command's environment: never into argv, a file, or keyrot's own output.
import { UsageError } from '../errors.js';
import { exitStatusOf, runAttached, type ExecOutcome } from '../hooks/exec.js';
import { consumerKey } from './get.js';
import type { CommandModule } from './types.js';
import { say, displayText } from '../ui/display-text.js';

export interface ExecOptions {
  user?: string;
  key?: string;
  /** The variable that receives the key (default: the provider's, e.g. VULTR_API_KEY). */
  env?: string;
  /** The command and its arguments (after --). */
  command?: string[];
}

export interface ExecResult extends ExecOutcome {
  status: number;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const execCommand: CommandModule<ExecOptions, ExecResult> = {
  // The command owns stdout: keyrot prints nothing after it.
  streams: true,
  async run(options, ctx) {
    const [command, ...args] = options.command ?? [];
    if (!command) throw new UsageError(say`keyrot exec needs a command to run: keyrot exec --user U -- CMD [ARGS…].`);
    if (ctx.out.json || ctx.out.events) throw new UsageError(say`keyrot exec hands stdout to the command it runs: --json and --events do not apply.`);
    const name = options.env ?? ctx.providerFactory.adminKeyEnv;
    if (!ENV_NAME.test(name)) throw new UsageError(say`--env: "${displayText(name.slice(0, 100))}" is not an environment variable name.`);
    const found = await consumerKey(ctx, options);
    // The command gets the user's key, never the admin key keyrot ran with (when --env names another variable).
    const { [ctx.providerFactory.adminKeyEnv]: _admin, ...env } = ctx.env;
    ctx.out.detail(say`Running ${displayText(command)} with ${displayText(found.key.name)} of ${displayText(found.user.email)} in ${displayText(name)}.`);
    const outcome = await runAttached({ command, args, env: { ...env, [name]: found.secret }, terminal: Boolean(ctx.io.stdin.isTTY) });
    return { ...outcome, status: exitStatusOf(outcome) };
  },
  render() {},
  exitCode: (r) => r.status,
};
