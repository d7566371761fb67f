// Turns anything thrown into one line on stderr (plus a JSON error object on stdout with --json, or a
// rotation.failed-style event with --events) and an exit code. Stack traces only with --debug.
import { ExitCode, isKeyrotError } from '../errors.js';
import type { Output } from '../ui/output.js';

export function handleError(err: unknown, out: Output | undefined, fallbackStderr: NodeJS.WritableStream): number {
  const known = isKeyrotError(err);
  const message = known ? err.message : `Internal error: ${err instanceof Error ? err.message : String(err)}`;
  const exitCode = known ? err.exitCode : ExitCode.internal;
  const hint = known ? err.hint : 'This is a bug in keyrot. Run again with --debug and report the output (it contains no secrets).';
  const write = (line: string) => (out ? out.stderr(line) : fallbackStderr.write(`${line}\n`));
  const style = out?.style;
  write(`${style ? style.red('error:') : 'error:'} ${message}${hint ? ` ${style ? style.dim(`(${hint})`) : `(${hint})`}` : ''}`);
  if (out?.debugEnabled && err instanceof Error && err.stack) {
    write(err.stack);
    if (err.cause instanceof Error && err.cause.stack) write(`cause: ${err.cause.stack}`);
  }
  const body = { code: known ? err.code : 'internal', exitCode, message, ...(hint ? { hint } : {}), ...(known && err.data ? err.data : {}) };
  if (out?.json) out.result({ error: body });
  else if (out?.events) out.event('error', { error: body });
  return exitCode;
}
