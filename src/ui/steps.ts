// Live progress for multi-step commands: an ora spinner per step in a terminal (name and elapsed time,
// then a ✔/✖ mark), and one plain line per finished step on stderr otherwise.
import { formatDuration } from '../core/duration.js';
import type { Output } from './output.js';
import { say, displayText } from './display-text.js';

export type StepOutcome = 'ok' | 'skipped' | 'failed';

export interface StepHandle {
  /**
   * Replaces the step's trailing detail ("2m 10s of 10m 00s, 7m 50s left"). A function is re-read at every
   * redraw: each second in a terminal, and in a heartbeat line every HEARTBEAT_MS without one.
   */
  update(detail: string | (() => string)): void;
  finish(outcome: StepOutcome, detail?: string): number;
}

export interface StepReporter {
  start(label: string): Promise<StepHandle>;
  /** Runs `fn` (a prompt) with the live spinner stopped, then restarts it. */
  whilePaused<T>(fn: () => Promise<T>): Promise<T>;
}

/** Without a terminal, a step still running says so this often: a CI log never goes quiet for minutes. */
export const HEARTBEAT_MS = 30_000;

type OraFactory = typeof import('ora').default;

export function createStepReporter(out: Output, spinners: boolean, now: () => number = Date.now, heartbeatMs = HEARTBEAT_MS): StepReporter {
  let ora: OraFactory | undefined;
  let active: import('ora').Ora | undefined;
  return {
    async whilePaused(fn) {
      const spinner = active;
      spinner?.stop();
      try {
        return await fn();
      } finally {
        if (spinner && spinner === active) spinner.start();
      }
    },
    async start(label) {
      const startedAt = now();
      const elapsed = () => formatDuration(now() - startedAt);
      const mark = (outcome: StepOutcome) => (outcome === 'ok' ? out.style.green(say`✔`) : outcome === 'skipped' ? out.style.dim(say`–`) : out.style.red(say`✖`));
      // The label names keys and users (a batch's "alice@example.com/ci-runner"): cleaned as outside text.
      const name = displayText(label);
      const body = (detail?: string) => say`${name}${detail ? say` ${out.style.dim(say`· ${displayText(detail)}`)}` : say``} ${out.style.dim(say`(${displayText(elapsed())})`)}`;
      const line = (outcome: StepOutcome, detail?: string) => say`${mark(outcome)} ${body(detail)}`;

      let detail: string | (() => string) = '';
      const current = () => (typeof detail === 'function' ? detail() : detail);

      if (!spinners || out.quiet) {
        const heartbeat = setInterval(() => out.info(say`… ${body(current())}`), heartbeatMs);
        heartbeat.unref();
        return {
          update(d) {
            detail = d;
          },
          finish(outcome, d) {
            clearInterval(heartbeat);
            // A failure is shown even with --quiet, stamped like every other line.
            if (outcome === 'failed') out.failure(line(outcome, d));
            else out.info(line(outcome, d));
            return now() - startedAt;
          },
        };
      }
      ora ??= (await import('ora')).default;
      // ora draws its mark and a space before the text: the rest of the line is the text's.
      const shown = (d: string | undefined) => out.wrap(out.terminalText(body(d)), 2);
      const text = () => shown(current());
      const spinner = ora({ text: text(), stream: out.stderrStream, discardStdin: false }).start();
      active = spinner;
      const timer = setInterval(() => (spinner.text = text()), 1_000);
      timer.unref();
      return {
        update(d) {
          detail = d;
          spinner.text = text();
        },
        finish(outcome, d) {
          clearInterval(timer);
          if (active === spinner) active = undefined;
          spinner.stopAndPersist({ symbol: mark(outcome), text: shown(d) });
          return now() - startedAt;
        },
      };
    },
  };
}
