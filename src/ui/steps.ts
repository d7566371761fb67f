// Live progress for multi-step commands: an ora spinner per step in a terminal (name and elapsed time,
// then a ✔/✖ mark), and one plain line per finished step on stderr otherwise.
import { formatDuration } from '../core/duration.js';
import type { Output } from './output.js';

export type StepOutcome = 'ok' | 'skipped' | 'failed';

export interface StepHandle {
  /** Replaces the step's trailing detail ("last activity 12:00:03"), shown live in a terminal. */
  update(detail: string): void;
  finish(outcome: StepOutcome, detail?: string): number;
}

export interface StepReporter {
  start(label: string): Promise<StepHandle>;
  /** Runs `fn` (a prompt) with the live spinner stopped, then restarts it. */
  whilePaused<T>(fn: () => Promise<T>): Promise<T>;
}

type OraFactory = typeof import('ora').default;

export function createStepReporter(out: Output, spinners: boolean, now: () => number = Date.now): StepReporter {
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
      const mark = (outcome: StepOutcome) =>
        outcome === 'ok' ? out.style.green('✔') : outcome === 'skipped' ? out.style.dim('–') : out.style.red('✖');
      const body = (detail?: string) => `${label}${detail ? ` ${out.style.dim(`· ${detail}`)}` : ''} ${out.style.dim(`(${elapsed()})`)}`;
      const line = (outcome: StepOutcome, detail?: string) => `${mark(outcome)} ${body(detail)}`;

      if (!spinners || out.quiet) {
        return {
          update() {},
          finish(outcome, detail) {
            if (outcome === 'failed') out.stderr(line(outcome, detail));
            else out.info(line(outcome, detail));
            return now() - startedAt;
          },
        };
      }
      ora ??= (await import('ora')).default;
      let detail = '';
      const text = () => out.clean(body(detail));
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
          spinner.stopAndPersist({ symbol: mark(outcome), text: out.clean(body(d)) });
          return now() - startedAt;
        },
      };
    },
  };
}
