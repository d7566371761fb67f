import type { Context } from '../cli/context.js';
import { CancelledError, UsageError } from '../errors.js';
import { say, displayText, type DisplayText } from '../ui/display-text.js';

/**
 * Consent to a destructive step: --yes, or a Yes at a prompt in a terminal (default No). Without either, a usage
 * error naming what would be destroyed (`what`) and nothing changes.
 */
export async function consentTo(ctx: Context, yes: boolean, question: string, what: string, hint?: DisplayText): Promise<void> {
  if (yes) return;
  if (!ctx.interactive) throw new UsageError(say`${displayText(what)}: pass --yes to confirm without a terminal.`, hint ? { hint } : {});
  if (!(await ctx.prompts.confirm(question, '--yes'))) throw new CancelledError(say`Cancelled: nothing was changed.`);
}
