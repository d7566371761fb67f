// Entry point: main(argv, deps?) parses, runs one command and returns the exit code. It never calls
// process.exit except on a second Ctrl-C, when the user insists on stopping at once.
import { setMaxListeners } from 'node:events';
import { CommanderError } from 'commander';
import { handleError } from './cli/handle-error.js';
import { displayText, joinDisplay, say } from './ui/display-text.js';
import { buildProgram, fromCommanderError, type RunState } from './cli/program.js';
import type { Context, Deps } from './cli/context.js';
import { CancelledError, ExitCode } from './errors.js';
import { signalsForwarded } from './hooks/signals.js';

// For bin/code-cache.js, before it makes a code cache at the end of a run.
export { restoreV8Defaults } from './v8-flags.js';

export async function main(argv: string[], deps: Partial<Deps> = {}): Promise<number> {
  const full: Deps = { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, ...deps };
  const controller = new AbortController();
  // Every request under way, every request waiting in the rate limiter and every hook listens for the cancel (and
  // stops listening when done): a batch of 100 rotations has hundreds at once, which is no leak to warn about.
  setMaxListeners(0, controller.signal);
  let signals = 0;
  const onSignal = (name: NodeJS.Signals) => {
    // keyrot exec passes the signal to the command it runs and ends with that command's status.
    if (signalsForwarded()) return;
    signals++;
    if (signals > 1) process.exit(ExitCode.cancelled);
    controller.abort(new CancelledError(say`Interrupted by ${displayText(`${name}`)}.`));
  };
  // SIGHUP: the terminal was closed. Like Ctrl-C: a create in flight is settled, not left for a later run.
  const signalNames: NodeJS.Signals[] = process.platform === 'win32' ? ['SIGINT', 'SIGTERM'] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const name of signalNames) process.on(name, onSignal);
  try {
    return await runCli(argv, full, controller.signal);
  } finally {
    for (const name of signalNames) process.off(name, onSignal);
  }
}

/** Runs one command line with the given process streams and cancellation signal; returns the exit code. */
export async function runCli(argv: string[], deps: Deps, signal: AbortSignal): Promise<number> {
  const state: RunState = {};
  try {
    await buildProgram(deps, signal, state).parseAsync(argv, { from: 'user' });
    return withLostOutputs(state.ctx, state.exitCode ?? ExitCode.ok);
  } catch (err) {
    const error = err instanceof CommanderError ? fromCommanderError(err, argv) : err;
    if (error === null) return ExitCode.ok;
    // Errors from parsing come before a command's context exists: --json still gets its error object.
    const flags = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
    return withLostOutputs(state.ctx, handleError(error, state.ctx?.out, deps.stderr, { json: flags.includes('--json'), stdout: deps.stdout }));
  } finally {
    await state.ctx?.close();
  }
}

/**
 * A file a later CI step reads ($GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY) that keyrot could not write, said in one line
 * once the work has ended (like a stdout on a full disk, bin/keyrot). A run that succeeded ends with exit 20, so the
 * job does not go on with outputs that are missing; one that failed keeps its own code.
 */
function withLostOutputs(ctx: Context | undefined, code: number): number {
  const lost = [...new Set(ctx?.lostOutputs)];
  if (!ctx || lost.length === 0) return code;
  // The paths come from the environment and the causes from the OS: display-safe only once filtered.
  const message = say`${joinDisplay(
    lost.map((l) => displayText(l, 2000)),
    '; ',
  )}; the work ran to its end: keyrot status shows where things stand.`;
  if (code !== ExitCode.ok) {
    ctx.out.warn(message);
    return code;
  }
  ctx.out.stderr(say`${ctx.out.style.red(say`error:`)} ${message}`);
  return ExitCode.outputLost;
}
