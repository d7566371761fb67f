// Progress of a batch of concurrent rotations (keyrot rotate --all). In a terminal: one live line per rotation under
// way (its step, its elapsed time), then a progress bar with counts and an estimate of the time left, redrawn in place
// below the lines that are done. Without one: a line per finished rotation ("[12/200] ✔ …"), failed steps, and a
// heartbeat every 30 s, so a CI log never goes quiet; every step with --verbose.
import { formatDuration } from '../core/duration.js';
import type { StepProgress } from '../core/rotation.js';
import type { Output } from './output.js';
import { HEARTBEAT_MS } from './steps.js';
import { visibleLength } from './wrap.js';
import { say, displayText, type DisplayText } from './display-text.js';

export interface BatchTask {
  startStep(label: string): Promise<StepProgress>;
  note(message: string): void;
  warn(message: string): void;
  /** The rotation ended: its line leaves the live block for good. */
  finish(outcome: 'ok' | 'failed', text: DisplayText): void;
}

export interface BatchProgress {
  begin(label: string): BatchTask;
  /** Stops redrawing and leaves the terminal clean. */
  close(): void;
}

interface Running {
  label: string;
  startedAt: number;
  step: string;
  detail: string | (() => string);
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/** Live lines shown at most; the others are counted on one more line. */
const MAX_LIVE_LINES = 12;
const BAR_WIDTH = 24;

export function createBatchProgress(out: Output, live: boolean, total: number, now: () => number = Date.now): BatchProgress {
  const running = new Set<Running>();
  const counts = { ok: 0, failed: 0 };
  const startedAt = now();
  const finished = () => counts.ok + counts.failed;
  const summary = () => {
    const done = finished();
    const elapsed = now() - startedAt;
    const left = done > 0 && done < total ? say` · about ${displayText(formatDuration((elapsed / done) * (total - done)))} left` : say``;
    return say`${done}/${total} · ✔ ${counts.ok} · ✖ ${counts.failed} · ${running.size} running · ${displayText(formatDuration(elapsed))}${left}`;
  };
  const detailOf = (r: Running) => (typeof r.detail === 'function' ? r.detail() : r.detail);

  /** The visible width of each line of the block on screen. */
  let drawn: number[] = [];
  let frame = 0;
  const stream = out.stderrStream;
  const width = () => Math.max(20, out.stderrColumns - 1);
  // Each line is cut to what is left of the terminal's width after its prefix (the spinner, the bar), once made inert
  // (an invisible character shows as <U+…>, longer), by whole characters: no line wraps, so the block is redrawn
  // in place and leaves no stale lines behind.
  const fit = (text: DisplayText, reserved = 0): DisplayText => {
    const room = width() - reserved;
    const chars = Array.from(out.terminalText(text));
    // Display-safe text, redacted and cut: still display-safe.
    return (chars.length > room ? `${chars.slice(0, room - 1).join('')}…` : chars.join('')) as DisplayText;
  };
  const elapsedSince = (start: number) => displayText(formatDuration(now() - start));
  // The block's rows as the terminal holds them now: a window narrowed since the draw re-wrapped each line onto
  // ceil(width / columns) rows, and moving up one row per line would leave the rest behind as stale spinner lines.
  // Each row is erased on its own: a narrowed tmux keeps the cursor's row and pushes the rows above into its history,
  // so the block can start at the screen's top, and there "erase to end of screen" clears the whole screen, which
  // tmux (scroll-on-clear) copies into the scrollback, one stale frame per redraw.
  const clear = () => {
    const columns = Math.max(1, out.stderrColumns);
    const rows = drawn.reduce((sum, w) => sum + Math.max(1, Math.ceil(w / columns)), 0);
    if (rows > 0) stream.write(`\x1b[${rows}F${'\x1b[2K\x1b[1E'.repeat(rows)}\x1b[${rows}F`);
    drawn = [];
  };
  const draw = () => {
    clear();
    frame = (frame + 1) % FRAMES.length;
    const lines: string[] = [];
    let shown = 0;
    for (const r of running) {
      if (shown++ === MAX_LIVE_LINES) {
        lines.push(out.style.dim(fit(say`  … and ${running.size - MAX_LIVE_LINES} more`)));
        break;
      }
      const detail = detailOf(r);
      const what = say`${displayText(r.label)} · ${displayText(r.step)}${detail ? say` · ${displayText(detail)}` : say``} (${elapsedSince(r.startedAt)})`;
      lines.push(`${out.style.cyan(displayText(FRAMES[frame] ?? '-'))} ${fit(what, 2)}`);
    }
    const done = Math.min(BAR_WIDTH, Math.round((finished() / Math.max(1, total)) * BAR_WIDTH));
    lines.push(`${out.style.green(displayText('█'.repeat(done)))}${out.style.dim(displayText('░'.repeat(BAR_WIDTH - done)))} ${fit(summary(), BAR_WIDTH + 1)}`);
    stream.write(`${lines.join('\n')}\n`);
    drawn = lines.map(visibleLength);
  };
  /** A line that stays: written above the live block. */
  const print = (write: () => void) => {
    if (!live) return write();
    clear();
    write();
    draw();
  };

  const timer = setInterval(live ? draw : () => out.info(say`… ${summary()}`), live ? 150 : HEARTBEAT_MS);
  timer.unref();
  if (live) draw();

  return {
    begin(label) {
      const entry: Running = { label, startedAt: now(), step: 'waiting for its turn', detail: '' };
      running.add(entry);
      return {
        async startStep(step) {
          const stepStarted = now();
          entry.step = step;
          entry.detail = '';
          return {
            update(detail) {
              entry.detail = detail;
            },
            finish(outcome, detail) {
              const mark = outcome === 'failed' ? say`✖` : outcome === 'skipped' ? say`–` : say`✔`;
              const line = say`${displayText(label)}: ${mark} ${displayText(step)}${detail ? say` · ${displayText(detail)}` : say``} (${elapsedSince(stepStarted)})`;
              if (outcome === 'failed') print(() => out.failure(line));
              else if (out.verbose || out.debugEnabled) print(() => out.detail(line));
              return now() - stepStarted;
            },
          };
        },
        note: (message) => print(() => out.detail(say`${displayText(label)}: ${displayText(message)}`)),
        warn: (message) => print(() => out.warn(say`${displayText(label)}: ${displayText(message)}`)),
        finish(outcome, text) {
          running.delete(entry);
          counts[outcome]++;
          const mark = outcome === 'ok' ? out.style.green(say`✔`) : out.style.red(say`✖`);
          const line = say`[${finished()}/${total}] ${mark} ${text} (${elapsedSince(entry.startedAt)})`;
          print(() => (outcome === 'failed' ? out.failure(line) : out.info(line)));
        },
      };
    },
    close() {
      clearInterval(timer);
      if (live) clear();
    },
  };
}
