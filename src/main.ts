// Entry point: main(argv, deps?) parses, runs one command and returns the exit code. It never calls
// process.exit except on a second Ctrl-C, when the user insists on stopping at once.
import { CommanderError } from 'commander';
import { handleError } from './cli/handle-error.js';
import { buildProgram, fromCommanderError, type RunState } from './cli/program.js';
import type { Deps } from './cli/context.js';
import { CancelledError, ExitCode } from './errors.js';

export async function main(argv: string[], deps: Partial<Deps> = {}): Promise<number> {
  const full: Deps = { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, ...deps };
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals) => {
    signals++;
    if (signals > 1) process.exit(ExitCode.cancelled);
    controller.abort(new CancelledError(`Interrupted by ${name}.`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runCli(argv, full, controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Runs one command line with the given process streams and cancellation signal; returns the exit code. */
export async function runCli(argv: string[], deps: Deps, signal: AbortSignal): Promise<number> {
  const state: RunState = {};
  try {
    await buildProgram(deps, signal, state).parseAsync(argv, { from: 'user' });
    return state.exitCode ?? ExitCode.ok;
  } catch (err) {
    const error = err instanceof CommanderError ? fromCommanderError(err) : err;
    if (error === null) return ExitCode.ok;
    // Errors from parsing come before a command's context exists: --json still gets its error object.
    const flags = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
    return handleError(error, state.ctx?.out, deps.stderr, { json: flags.includes('--json'), stdout: deps.stdout });
  } finally {
    await state.ctx?.close();
  }
}
