// Turns anything thrown into one line on stderr (plus a JSON error object on stdout with --json, or a
// rotation.failed-style event with --events) and an exit code. Stack traces only with --debug.
import { sanitizeForTerminal } from '../core/mask.js';
import { ExitCode, isKeyrotError } from '../errors.js';
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
  const message = oneLine(known ? err.message : `Internal error: ${err instanceof Error ? err.message : String(err)}`);
  const exitCode = known ? err.exitCode : ExitCode.internal;
  const rawHint = known ? err.hint : 'This is a bug in keyrot. Run again with --debug and report the output (it contains no secrets).';
  const hint = rawHint === undefined ? undefined : oneLine(rawHint);
  const write = (line: string) => (out ? out.stderr(line) : fallbackStderr.write(`${sanitizeForTerminal(line)}\n`));
  const style = out?.style;
  write(`${style ? style.red('error:') : 'error:'} ${message}${hint ? ` ${style ? style.dim(`(${hint})`) : `(${hint})`}` : ''}`);
  if (out?.debugEnabled && err instanceof Error && err.stack) {
    write(err.stack);
    if (err.cause instanceof Error && err.cause.stack) write(`cause: ${err.cause.stack}`);
  }
  const body = { code: known ? err.code : 'internal', exitCode, message, ...(hint ? { hint } : {}), ...(known && err.data ? err.data : {}) };
  if (out?.json) out.result({ error: body });
  else if (out?.events) out.event('error', { error: body });
  else if (!out && early?.json) early.stdout.write(`${JSON.stringify({ error: body }, null, 2)}\n`);
  return exitCode;
}

/** Errors are one line on stderr, whatever the message's author (commander adds "\n(Did you mean …?)"). */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
