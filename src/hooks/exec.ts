// Running a consumer with a key in its environment (keyrot exec): the command is run directly (no shell), attached
// to keyrot's own terminal, and keyrot stays in between only to pass signals on and hand back its exit status.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { UsageError } from '../errors.js';
import { startForwarding } from './signals.js';
import { say, displayText } from '../ui/display-text.js';

/** Signals passed on to the command while it runs. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export interface ExecOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export interface ExecRun {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  /**
   * Whether keyrot runs in a terminal's foreground: a Ctrl-C there reaches the command directly (same process group),
   * so SIGINT is not passed on a second time.
   */
  terminal: boolean;
}

/** Runs the command to its end. UsageError when it cannot be started (not found, not executable). */
export function runAttached(run: ExecRun): Promise<ExecOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(run.command, run.args, { stdio: 'inherit', env: run.env });
    const forward = (signal: NodeJS.Signals) => {
      if (signal === 'SIGINT' && run.terminal) return;
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
    };
    const handlers = FORWARDED.map((signal) => [signal, () => forward(signal)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    // keyrot's own handlers (cancel on SIGINT/SIGTERM, exit on a second) stand aside meanwhile: see main.ts.
    const stopForwarding = startForwarding();
    const done = () => {
      stopForwarding();
      for (const [signal, handler] of handlers) process.off(signal, handler);
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      done();
      const why = err.code === 'ENOENT' ? 'not found' : err.code === 'EACCES' ? 'permission denied' : err.message;
      reject(
        new UsageError(say`Cannot run "${displayText(run.command)}": ${displayText(why)}.`, { hint: err.code === 'ENOENT' ? say`Give a command on PATH or a path to one, after --.` : undefined }),
      );
    });
    child.on('exit', (exitCode, signal) => {
      done();
      resolve({ exitCode, signal });
    });
  });
}

/** The exit status a shell would report for the outcome: the command's code, or 128 + the signal's number. */
export function exitStatusOf(outcome: ExecOutcome): number {
  if (outcome.exitCode !== null) return outcome.exitCode;
  const number = outcome.signal ? constants.signals[outcome.signal] : undefined;
  return 128 + (number ?? 0);
}
