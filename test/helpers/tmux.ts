// Drives keyrot in a real terminal: tmux runs it in a detached session of a fixed size; tests type with
// send-keys and read the screen with capture-pane.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from './e2e.js';

export const HAS_TMUX = spawnSync('sh', ['-c', 'command -v tmux'], { stdio: 'ignore' }).status === 0;

let counter = 0;
// A private tmux server for the tests: never the user's own sessions.
const SOCKET = ['-L', `keyrot-test-${process.pid}`];

export interface Terminal {
  /** Types keys (tmux key names: 'Enter', 'C-c', 'Down', or literal text with literal=true). */
  send(keys: string, literal?: boolean): void;
  /** The visible screen as text (with escape sequences when `escapes`). */
  screen(escapes?: boolean): string;
  /** Waits until the screen matches, or throws with the screen in the message. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** keyrot's exit code once it has ended (the wrapper prints it), or null while it runs. */
  exitCode(): number | null;
  kill(): void;
}

/** Starts `keyrot <args>` in a 120x40 terminal with exactly `env` (plus TERM) in a work dir. */
export function startTerminal(args: string[], env: Record<string, string>, workDir: string, stdoutTo?: string): Terminal {
  const name = `keyrot-test-${process.pid}-${++counter}`;
  const script = join(workDir, `${name}.sh`);
  const exports = Object.entries({ TERM: 'xterm-256color', ...env })
    .map(([k, v]) => `export ${k}='${v.replace(/'/g, `'\\''`)}'`)
    .join('\n');
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const redirect = stdoutTo ? ` > '${stdoutTo.replace(/'/g, `'\\''`)}'` : '';
  writeFileSync(script, `unset CI GITHUB_ACTIONS\n${exports}\n${quoted}${redirect}\necho "KEYROT-EXIT=$?"\nsleep 600\n`);
  execFileSync('tmux', [...SOCKET, 'new-session', '-d', '-s', name, '-x', '120', '-y', '40', `bash ${script}`]);
  const screen = (escapes = false) =>
    execFileSync('tmux', [...SOCKET, 'capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', name, '-S', '-200'], { encoding: 'utf8' });
  return {
    send(keys, literal = false) {
      execFileSync('tmux', [...SOCKET, 'send-keys', '-t', name, ...(literal ? ['-l'] : []), keys]);
    },
    screen,
    async waitFor(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = screen();
        if (pattern.test(text)) return text;
        if (Date.now() > deadline) throw new Error(`screen never matched ${pattern}:\n${text}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    exitCode() {
      const m = /KEYROT-EXIT=(\d+)/.exec(screen());
      return m ? Number(m[1]) : null;
    },
    kill() {
      spawnSync('tmux', [...SOCKET, 'kill-session', '-t', name], { stdio: 'ignore' });
    },
  };
}
