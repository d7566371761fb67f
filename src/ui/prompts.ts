// Prompts on stderr through @inquirer/prompts, loaded on first use. Without a terminal (or under CI) no
// prompt ever runs: the call fails with a usage error that names the flag to pass instead.
import { sanitizeForTerminal } from '../core/mask.js';
import { CancelledError, UsageError } from '../errors.js';
import { type DisplayText, say, displayText } from './display-text.js';

/** A choice shows provider text (key and user names): only as DisplayText. */
export interface Choice<T> {
  name: DisplayText;
  value: T;
  description?: string;
}

export interface Prompter {
  readonly interactive: boolean;
  /** Yes/no; `flag` is what a non-interactive caller passes instead (e.g. "--yes"). Default answer: No. */
  confirm(message: string, flag: string): Promise<boolean>;
  select<T>(message: DisplayText, choices: readonly Choice<T>[], flag: string): Promise<T>;
  /** A hidden answer (nothing is echoed): for a secret typed at the terminal, never a flag. */
  secret(message: string, flag: string): Promise<string>;
  /** A list filtered as the user types (matching name and description). */
  search<T>(message: DisplayText, choices: readonly Choice<T>[], flag: string): Promise<T>;
}

export interface PromptIo {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  signal: AbortSignal;
}

export function createPrompter(interactive: boolean, io: PromptIo): Prompter {
  const context = { input: io.input, output: io.output, signal: io.signal, clearPromptOnDone: false };
  const refuse = (flag: string): never => {
    throw nonInteractiveError(flag);
  };
  return {
    interactive,
    async confirm(message, flag) {
      if (!interactive) return refuse(flag);
      // A "y" typed before the question was shown answers nothing: consent is given to a question seen.
      if (await typedAhead(io.input)) io.output.write('(What was typed before this question is discarded.)\n');
      const { confirm } = await import('@inquirer/prompts');
      return ask(() => confirm({ message: sanitizeForTerminal(message), default: false }, context));
    },
    async select(message, choices, flag) {
      if (!interactive) return refuse(flag);
      const { select } = await import('@inquirer/prompts');
      return ask(() => select({ message: sanitizeForTerminal(message), choices: choices.map(safeChoice), pageSize: 12 }, context));
    },
    async secret(message, flag) {
      if (!interactive) return refuse(flag);
      // Typed (or pasted) before the prompt was up, the secret was echoed by the terminal in clear: never taken.
      if (await typedAhead(io.input)) {
        throw new UsageError(say`Input arrived before the hidden prompt was up, so the terminal showed it in clear; it was not used.`, {
          hint: say`If it was the key, it may be on your screen or in its scrollback. Run the command again and type or paste the key once the prompt asks.`,
        });
      }
      const { password } = await import('@inquirer/prompts');
      return ask(() => password({ message: sanitizeForTerminal(message) }, context));
    },
    async search(message, choices, flag) {
      if (!interactive) return refuse(flag);
      const { search } = await import('@inquirer/prompts');
      const matching = (term: string) => {
        const needle = term.toLowerCase();
        return choices.filter((c) => `${c.name} ${c.description ?? ''}`.toLowerCase().includes(needle));
      };
      // @inquirer's search filters asynchronously: text and Enter typed in one burst (a paste, a fast typist) act
      // on the list as it was before the text, i.e. its first entry. The source is called synchronously with each
      // term, so the last term typed is known here: a pick it does not match is never acted on.
      for (;;) {
        let lastTerm = '';
        const picked = await ask(() =>
          search(
            {
              message: sanitizeForTerminal(message),
              pageSize: 12,
              source: (term) => {
                lastTerm = term ?? '';
                return matching(lastTerm).map(safeChoice);
              },
            },
            context,
          ),
        );
        const current = matching(lastTerm);
        if (current.some((c) => c.value === picked)) return picked;
        // The typed text names exactly one entry: that is the one the person meant (and sees typed).
        const [only] = current;
        if (current.length === 1 && only) {
          io.output.write(`Using ${sanitizeForTerminal(only.name)}, which is what was typed.\n`);
          return only.value;
        }
        io.output.write(`No entry matches what was typed${lastTerm ? ` ("${sanitizeForTerminal(lastTerm)}")` : ''} exactly once: pick again.\n`);
      }
    },
  };
}

/**
 * Whether input is already waiting on a terminal: keys typed before a prompt. The terminal is put in raw mode
 * (so a line typed without Enter becomes readable too) and read for a moment; what was read is discarded, so
 * the prompt that follows only sees what is typed at it.
 */
async function typedAhead(input: NodeJS.ReadableStream): Promise<boolean> {
  const tty = input as NodeJS.ReadStream;
  if (!tty.isTTY || typeof tty.setRawMode !== 'function') return false;
  const wasRaw = tty.isRaw;
  tty.setRawMode(true);
  let seen = false;
  const onData = () => {
    seen = true;
  };
  tty.on('data', onData);
  tty.resume();
  await new Promise((resolve) => setTimeout(resolve, 50));
  tty.off('data', onData);
  tty.pause();
  tty.setRawMode(wasRaw);
  return seen;
}

/** A choice as @inquirer takes it; its description (an id) is made inert here too. */
function safeChoice<T>(choice: Choice<T>): { name: string; value: T; description?: string } {
  return { ...choice, name: sanitizeForTerminal(choice.name), ...(choice.description === undefined ? {} : { description: sanitizeForTerminal(choice.description) }) };
}

/** The error for a step that would ask, run without a terminal. */
export function nonInteractiveError(flag: string): UsageError {
  return new UsageError(say`This step needs an answer and cannot be run non-interactively: pass ${displayText(flag)}.`);
}

/** Ctrl-C (or our own abort on SIGTERM) inside a prompt is a cancellation, not a crash. */
async function ask<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const name = (err as Error)?.name;
    if (name === 'ExitPromptError' || name === 'AbortPromptError' || name === 'CancelPromptError') {
      throw new CancelledError(say`Cancelled: nothing was changed.`);
    }
    throw err;
  }
}
