// keyrot get: the plaintext of the key keyrot holds for a user, for a consumer (like `op read`). It follows
// rotations: the keychain account changes with every rotation, the command line does not.
import type { Context } from '../cli/context.js';
import { maskSecret } from '../core/mask.js';
import { CancelledError, StateError, UsageError } from '../errors.js';
import { RotationJournal } from '../journal/rotations.js';
import { entryName, keychainAccount } from '../keychain/secret-store.js';
import type { User } from '../providers/types.js';
import { addMaskLine, inGithubActions } from '../ui/github.js';
import { heldKeyFor, resolveUser, type HeldKey } from './resolve.js';
import type { CommandModule } from './types.js';
import { say, displayText } from '../ui/display-text.js';

export interface GetOptions {
  user?: string;
  key?: string;
  /** Consent to print the plaintext on a terminal without being asked. */
  reveal?: boolean;
}

export interface GetResult extends HeldKey {
  user: User;
  account: string;
  /** Whether stdout is a terminal (then a newline ends the key, so the prompt does not run into it). */
  terminal: boolean;
}

export const getCommand: CommandModule<GetOptions, GetResult> = {
  async run(options, ctx) {
    if (ctx.out.events) throw new UsageError(say`keyrot get prints a key, and --events never carries one: use --json or plain output.`);
    const terminal = Boolean(ctx.io.stdout.isTTY);
    // Refused before anything is read: a terminal is seen (and scrolled back, recorded) by more than a pipe.
    if (terminal && !options.reveal && !ctx.interactive) {
      throw new UsageError(say`stdout is a terminal: keyrot get prints a plaintext key only to a pipe or a file, or with --reveal.`, {
        hint: say`Pipe it (keyrot get --user U | consumer), or pass --reveal to print it here.`,
      });
    }
    const found = await consumerKey(ctx, options);
    if (terminal && !options.reveal) {
      const question = `Print the plaintext of ${found.key.name} (${maskSecret(found.secret)}) of ${found.user.email} on this terminal?`;
      if (!(await ctx.prompts.confirm(question, '--reveal'))) throw new CancelledError(say`Cancelled: the key was not printed.`);
    }
    return { ...found, terminal };
  },
  render(r, ctx) {
    // A pipe gets exactly the key: no newline, so `$(keyrot get …)`, `| gh secret set` and files hold nothing else.
    ctx.out.reveal(r.secret, r.terminal);
  },
  toJson: (r) => ({ userId: r.user.id, userEmail: r.user.email, keyId: r.key.id, name: r.key.name, account: r.account, why: r.why, secret: r.secret }),
  revealed: (r) => r.secret,
};

/**
 * The user and the key a consumer should use now (see heldKeyFor), with the keychain account it is read from. Says
 * on stderr which key it is when an unfinished rotation decided.
 */
export async function consumerKey(ctx: Context, options: { user?: string; key?: string }): Promise<HeldKey & { user: User; account: string }> {
  const provider = await ctx.provider();
  const user = await resolveUser(ctx, provider, options.user);
  const store = await ctx.secretStore();
  const active = await new RotationJournal(ctx.stateDir).active(provider.id, user.id).catch((err: unknown) => {
    // A damaged journal cannot say which key is proven: choose among the held keys alone, and say so.
    if (!(err instanceof StateError)) throw err;
    ctx.out.warn(say`${err.message} Choosing among the keys keyrot holds without it.`);
    return null;
  });
  const held = await heldKeyFor(ctx, store, provider, user, options.key, active);
  if (held.why === 'rotation-new') ctx.out.info(say`Using the new key ${displayText(held.key.name)} of ${displayText(user.email)}: its rotation is unfinished, and the new key is stored and proven.`);
  if (held.why === 'rotation-old') ctx.out.info(say`Using the old key ${displayText(held.key.name)} of ${displayText(user.email)}: its rotation has not proven the new key yet.`);
  // Under GitHub Actions the runner masks the key in every later log line (the consumer's included: exec) before it
  // is printed or handed on.
  if (inGithubActions(ctx.env)) ctx.out.workflowCommand(addMaskLine(held.secret));
  return { ...held, user, account: entryName(store, keychainAccount(provider.id, user.id, held.key.id)) };
}
