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

export interface TerminalSize {
  columns?: number;
  rows?: number;
}

/** Starts `keyrot <args>` in a terminal (120x40 unless `size` says otherwise) with exactly `env` (plus TERM) in a work dir. */
export function startTerminal(args: string[], env: Record<string, string>, workDir: string, stdoutTo?: string, size: TerminalSize = {}): Terminal {
  const quoted = [process.execPath, BIN, ...args].map(shellQuote).join(' ');
  const redirect = stdoutTo ? ` > ${shellQuote(stdoutTo)}` : '';
  return startScript(`unset CI GITHUB_ACTIONS\n${exportLines(env)}\n${quoted}${redirect}\necho "KEYROT-EXIT=$?"\nsleep 600\n`, workDir, size);
}

/** Starts an interactive shell (`command`, e.g. "zsh -f") with exactly `env` (plus TERM), to type into. */
export function startShell(command: string, env: Record<string, string>, workDir: string, size: TerminalSize = {}): Terminal {
  return startScript(`${exportLines(env)}\ncd ${shellQuote(workDir)}\nexec ${command}\n`, workDir, size);
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function exportLines(env: Record<string, string>): string {
  return Object.entries({ TERM: 'xterm-256color', ...env })
    .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
    .join('\n');
}

function startScript(text: string, workDir: string, size: TerminalSize): Terminal {
  const name = `keyrot-test-${process.pid}-${++counter}`;
  const script = join(workDir, `${name}.sh`);
  writeFileSync(script, text);
  const start = ['new-session', '-d', '-s', name, '-x', String(size.columns ?? 120), '-y', String(size.rows ?? 40), `bash ${script}`];
  // The private server exits with its last session: a session started while it is going fails once ("server
  // exited unexpectedly"); the next start gets a fresh server.
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync('tmux', [...SOCKET, ...start], { stdio: ['ignore', 'ignore', 'pipe'] });
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
  const screen = (escapes = false) => execFileSync('tmux', [...SOCKET, 'capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', name, '-S', '-200'], { encoding: 'utf8' });
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
