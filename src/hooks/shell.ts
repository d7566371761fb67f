// Running operator-supplied commands (--on-new-key, --check) through the shell. The new key reaches a hook
// on its stdin only: never in argv (visible in ps) nor the environment (inherited by every child). A hook
// runs in its own process group so a time-out or Ctrl-C ends it and everything it started.
import { spawn } from 'node:child_process';
import { HookFailedError } from '../errors.js';
import { formatDuration } from '../core/duration.js';
import { describeHookProcess, type HookProcess } from './process-group.js';
import { say, displayText } from '../ui/display-text.js';

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
  /**
   * Masks every secret in a line of the hook's output; `truncated` when the line was cut, so a secret's beginning
   * at its end must be masked too. Applied before a line is cut or handed on: a hook that echoes the key it got
   * must not show part of it.
   */
  redact(line: string, truncated: boolean): string;
  /** Each line the hook prints (stdout and stderr), redacted. */
  onLine(line: string): void;
  /**
   * Called once the hook's process exists and before its stdin is written (so before it has the key): the caller
   * journals it, so a later run can stop a hook that outlived a killed keyrot. A throw stops the hook unfed.
   */
  onStart?(proc: HookProcess): Promise<void>;
}

export interface HookOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
}

/** Lines longer than this are cut (a hook's output is shown under --verbose and quoted in errors, nothing more). */
const MAX_LINE = 4 * 1024;
/** After the hook exits, how long its pipes may still deliver what it wrote before keyrot stops reading. */
const EXIT_GRACE_MS = 200;
/** Output beyond this is read (so the hook never blocks on a full pipe) but not kept. */
const MAX_OUTPUT = 1024 * 1024;

export const GO_LINE = 'go\n';
export const GATE = 'IFS= read -r go && [ "$go" = go ] || exit 125; exec /bin/sh -c "$1"';

export function runShell(run: HookRun): Promise<HookOutcome> {
  // A cancel that came before the hook (during the hand-over's journal write, a --to delivery) has fired its one
  // 'abort' event already, and a listener added now would never hear it: the hook is not started, and gets no key.
  if (run.signal.aborted) return Promise.resolve({ exitCode: null, signal: 'SIGKILL', timedOut: false });
  return new Promise((resolve, reject) => {
    const isWindows = process.platform === 'win32';
    // On POSIX the command starts only once keyrot says so on stdin (GO_LINE), after onStart has journaled the process:
    // a keyrot killed before that (kill -9 in the journal write) closes the pipe, the shell reads end-of-file and
    // exits without running the command, so no hook runs that no journal names, and none reads an empty key and
    // installs it. `read` takes a pipe byte by byte, up to its newline: what follows (the key) is the command's stdin.
    const child = spawn(isWindows ? 'cmd.exe' : '/bin/sh', isWindows ? ['/d', '/s', '/c', run.command] : ['-c', GATE, 'keyrot-hook', run.command], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...run.baseEnv, ...run.env },
      detached: !isWindows,
    });
    let timedOut = false;
    let settled = false;
    let killed = false;
    const kill = () => {
      killed = true;
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
    let kept = 0;
    let capped = false;
    const emit = (line: string, cut = false) => {
      if (capped) return;
      kept += line.length;
      if (kept > MAX_OUTPUT) {
        capped = true;
        run.onLine(`[output beyond ${MAX_OUTPUT / 1024 / 1024} MiB discarded]`);
        return;
      }
      run.onLine(cut || line.length > MAX_LINE ? `${run.redact(line.slice(0, MAX_LINE), true)}… [line cut]` : run.redact(line, false));
    };
    for (const stream of [child.stdout, child.stderr]) {
      // One partial line per stream, itself bounded: splitting stays linear however long a line is.
      let partial = '';
      let partialCut = false;
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        let start = 0;
        let nl: number;
        while ((nl = chunk.indexOf('\n', start)) >= 0) {
          emit(partialCut ? partial : partial + chunk.slice(start, nl), partialCut);
          partial = '';
          partialCut = false;
          start = nl + 1;
        }
        if (!partialCut) {
          partial += chunk.slice(start);
          if (partial.length > MAX_LINE) {
            partial = partial.slice(0, MAX_LINE);
            partialCut = true;
          }
        }
      });
      stream.on('end', () => partial && emit(partial, partialCut));
    }
    // A hook that does not read its stdin closes the pipe early: that is its right, not an error.
    child.stdin.on('error', () => undefined);
    const started = run.onStart && child.pid ? run.onStart(describeHookProcess(child.pid)) : Promise.resolve();
    // onStart journals the hook's process: nothing settles before that write has landed. A hook stopped meanwhile (a
    // cancel, a time-out) would otherwise let the caller's next journal writes start while it is still in flight, and
    // the older write could land last (a cancelled rotation journaled as still running).
    const startSettled = started.then(
      () => undefined,
      () => undefined,
    );
    started.then(
      // A hook stopped before it was journaled is not started, and not given the key.
      () => child.stdin.end(killed ? '' : `${isWindows ? '' : GO_LINE}${run.stdin ?? ''}`),
      (err: unknown) => {
        kill();
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        run.signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
    const finish = (outcome: HookOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      run.signal.removeEventListener('abort', onAbort);
      // A hook that ended before its journal write failed is no success: the write's error is the outcome.
      started.then(() => resolve(outcome), reject);
    };
    child.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      run.signal.removeEventListener('abort', onAbort);
      void startSettled.then(() => reject(new HookFailedError(say`Could not start the command: ${displayText(err.message, 2000)}`)));
    });
    // The hook is done when its process exits, not when its pipes close: a child it left running (nohup x &, a
    // daemon it restarted) may hold them open for ever. What is already buffered is read; then keyrot stops.
    child.on('exit', (exitCode, signal) => {
      const outcome = { exitCode, signal, timedOut };
      child.on('close', () => finish(outcome));
      setTimeout(() => {
        for (const stream of [child.stdout, child.stderr]) stream.destroy();
        finish(outcome);
      }, EXIT_GRACE_MS).unref();
    });
  });
}

/** A one-line description of how a hook ended, for error messages. */
export function describeOutcome(name: string, outcome: HookOutcome, timeoutMs: number): string {
  if (outcome.timedOut) return `${name} did not finish within ${formatDuration(timeoutMs)} and was stopped.`;
  if (outcome.signal) return `${name} was killed by ${outcome.signal}.`;
  return `${name} exited with code ${outcome.exitCode}.`;
}
