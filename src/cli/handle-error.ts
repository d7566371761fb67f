// Turns anything thrown into one line on stderr (plus a JSON error object on stdout with --json, or a
// rotation.failed-style event with --events) and an exit code. Stack traces only with --debug.
// A KeyrotError's message and hint are DisplayText by construction (errors.ts); anything else thrown (a bug,
// commander's own errors) is made display-safe here, so the terminal line and the JSON object never carry raw text.
import { sanitizeForTerminal } from '../core/mask.js';
import { ExitCode, isKeyrotError } from '../errors.js';
import { type DisplayText, displayText, say } from '../ui/display-text.js';
import type { Output } from '../ui/output.js';

/**
 * Errors thrown before a command's context exists (commander's unknown command / flag / choice) have no Output:
 * the caller says whether --json was asked for, and where stdout is, so scripts still get a JSON error object.
 */
export interface EarlyOutput {
  json: boolean;
  stdout: NodeJS.WritableStream;
}

export function handleError(err: unknown, out: Output | undefined, fallbackStderr: NodeJS.WritableStream, early?: EarlyOutput): number {
  const known = isKeyrotError(err);
  const message = oneLine(known ? err.message : say`Internal error: ${displayText(err instanceof Error ? err.message : String(err), 2000)}`);
  const exitCode = known ? err.exitCode : ExitCode.internal;
  const rawHint = known ? err.hint : say`This is a bug in keyrot. Run again with --debug and report the output (it contains no secrets).`;
  const hint = rawHint === undefined ? undefined : oneLine(rawHint);
  const write = (line: DisplayText) => (out ? out.stderr(line) : fallbackStderr.write(`${sanitizeForTerminal(line)}\n`));
  const style = out?.style;
  const red = style ? style.red : (s: DisplayText) => s;
  const dim = style ? style.dim : (s: DisplayText) => s;
  write(hint ? say`${red(say`error:`)} ${message} ${dim(say`(${hint})`)}` : say`${red(say`error:`)} ${message}`);
  if (out?.debugEnabled && err instanceof Error && err.stack) {
    // A stack trace is a --debug diagnostic: many lines, kept as they are (Output's filter still cleans them).
    out.stderr(err.stack as DisplayText);
    if (err.cause instanceof Error && err.cause.stack) out.stderr(`cause: ${err.cause.stack}` as DisplayText);
  }
  const body = { code: known ? err.code : 'internal', exitCode, message, ...(hint ? { hint } : {}), ...(known && err.data ? err.data : {}) };
  if (out?.json) out.result({ error: body });
  else if (out?.events) out.event('error', { error: body });
  else if (!out && early?.json) early.stdout.write(`${JSON.stringify({ error: body }, null, 2)}\n`);
  return exitCode;
}

/** Errors are one line on stderr, whatever the message's author (commander adds "\n(Did you mean …?)"). */
function oneLine(text: DisplayText): DisplayText {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim() as DisplayText;
}
