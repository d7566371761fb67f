import type { Context } from '../cli/context.js';
import type { ExitCodeValue } from '../errors.js';
import type { DisplayText } from '../ui/display-text.js';

/**
 * A subcommand: `run` does the work and returns data (tests assert on it); `render` prints it for people;
 * `toJson` is the --json document (the result itself when absent). Handlers never exit the process.
 */
export interface CommandModule<Options, Result> {
  run(options: Options, ctx: Context): Promise<Result>;
  render(result: Result, ctx: Context): void;
  toJson?(result: Result): unknown;
  /** True when `run` prints its own output while it runs (a server): nothing is printed after it. */
  streams?: boolean;
  /** True when the command streams its own --events (and prints nothing else under --events). */
  emitsEvents?: boolean;
  /** The process's exit code for a result (keyrot exec: the command's status); 0 when absent. */
  exitCode?(result: Result): number;
  /** The secret this result shows because the user passed --reveal, if any. */
  revealed?(result: Result): string | undefined;
  /**
   * A result that is printed in full and yet is no success (audit findings named by --fail-on, a batch with failed
   * rotations): its exit code, and one line for stderr, said after the result.
   */
  outcome?(result: Result): { exitCode: ExitCodeValue; message: DisplayText } | undefined;
}
