// Text from outside keyrot (a provider's key names, e-mails and people's names and error texts; what a user typed)
// becomes printable in one place: displayText(). Everything that prints to a person takes DisplayText: prompts and
// their choices (ui/prompts.ts), table cells (ui/table.ts), every error message and hint (errors.ts KeyrotError,
// printed by cli/handle-error.ts) and Output's lines and summaries (ui/output.ts). Messages are keyrot's own words
// written with `say`, whose interpolated values must be DisplayText: a raw string does not compile there. In core/ so
// that the engine and core helpers may build messages without importing an adapter; ui/display-text.ts re-exports it.
import { sanitizeForDisplay, sanitizeForTerminal, singleLine } from './mask.js';

declare const displaySafe: unique symbol;
/** Text made safe to print by displayText(): one line, no escape sequences or controls, invisible characters shown. */
export type DisplayText = string & { readonly [displaySafe]: true };

/** The one way outside text becomes DisplayText. */
export function displayText(text: string, maxLength?: number): DisplayText {
  // Spaces around the text are kept (a value interpolated into a message may carry its own separator, " (HTTP 403)");
  // everything else sanitizeForDisplay cleans, trimming what its controls turned into blanks.
  const [, lead = '', middle = '', trail = ''] = /^( *)([\s\S]*?)( *)$/.exec(singleLine(text)) ?? [];
  return `${lead}${sanitizeForDisplay(middle, maxLength)}${trail}` as DisplayText;
}

/**
 * A message of keyrot's own words (the template's literal parts) around DisplayText and numbers: interpolating a raw
 * string does not compile. `say\`${displayText(key.name)} of ${who}\``.
 */
export function say(parts: TemplateStringsArray, ...values: ReadonlyArray<DisplayText | number>): DisplayText {
  return parts.reduce((out, part, i) => out + part + (i < values.length ? String(values[i]) : ''), '') as DisplayText;
}

/** DisplayText joined with keyrot's own separator. */
export function joinDisplay(items: readonly DisplayText[], separator = ', '): DisplayText {
  return items.join(separator) as DisplayText;
}

/**
 * A whole string filtered as Output's terminal filter does (line breaks and keyrot's own colours kept), for the one
 * kind of text that still arrives as a plain string: commander's own usage messages (several lines). Its parts are
 * not type-checked, so every other message is built with say/displayText; test/unit/composed-sites.test.ts lists the
 * allowed call sites.
 */
export function composed(text: string): DisplayText;
export function composed(text: string | undefined): DisplayText | undefined;
export function composed(text: string | undefined): DisplayText | undefined {
  return text === undefined ? undefined : (sanitizeForTerminal(text) as DisplayText);
}

/** The lines of display-safe text, each display-safe. */
export function displayLines(text: DisplayText): DisplayText[] {
  return (text as string).split('\n') as DisplayText[];
}
