// Running operator-supplied commands (--on-new-key, --check) through the shell. The new key reaches a hook
// on its stdin only: never in argv (visible in ps) nor the environment (inherited by every child). A hook
// runs in its own process group so a time-out or Ctrl-C ends it and everything it started.
import { spawn } from 'node:child_process';
import { HookFailedError } from '../errors.js';
import { formatDuration } from '../core/duration.js';

export interface HookRun {
  command: string;
  /** Written to the hook's stdin, then stdin is closed. */
  stdin?: string;
  /** The environment the hook inherits (keyrot's own, less anything secret) … */
  baseEnv: NodeJS.ProcessEnv;
  /** … plus these variables. */
  env: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
  /** Each line the hook prints (stdout and stderr), already to be redacted by the caller. */
  onLine(line: string): void;
}

export interface HookOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
}

export function runShell(run: HookRun): Promise<HookOutcome> {
  return new Promise((resolve, reject) => {
    const isWindows = process.platform === 'win32';
    const child = spawn(isWindows ? 'cmd.exe' : '/bin/sh', isWindows ? ['/d', '/s', '/c', run.command] : ['-c', run.command], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...run.baseEnv, ...run.env },
      detached: !isWindows,
    });
    let timedOut = false;
    const kill = () => {
      try {
        if (!isWindows && child.pid) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, run.timeoutMs);
    const onAbort = () => kill();
    run.signal.addEventListener('abort', onAbort, { once: true });
    for (const stream of [child.stdout, child.stderr]) {
      let buffer = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          run.onLine(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
        }
      });
      stream.on('end', () => buffer && run.onLine(buffer));
    }
    // A hook that does not read its stdin closes the pipe early: that is its right, not an error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(run.stdin ?? '');
    child.on('error', (err) => {
      clearTimeout(timer);
      run.signal.removeEventListener('abort', onAbort);
      reject(new HookFailedError(`Could not start the command: ${err.message}`));
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      run.signal.removeEventListener('abort', onAbort);
      resolve({ exitCode, signal, timedOut });
    });
  });
}

/** A one-line description of how a hook ended, for error messages. */
export function describeOutcome(name: string, outcome: HookOutcome, timeoutMs: number): string {
  if (outcome.timedOut) return `${name} did not finish within ${formatDuration(timeoutMs)} and was stopped.`;
  if (outcome.signal) return `${name} was killed by ${outcome.signal}.`;
  return `${name} exited with code ${outcome.exitCode}.`;
}
