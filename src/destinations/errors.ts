import { HookFailedError } from '../errors.js';
import { say, displayText, type DisplayText } from '../ui/display-text.js';

/**
 * A destination that refused or could not be reached. It is a failed hand-over, like a failing --on-new-key
 * (same exit code, same consequences for the rotation), and its message starts with the target.
 */
export class DestinationError extends HookFailedError {
  constructor(target: string, what: string, hint?: DisplayText) {
    super(say`--to ${displayText(target)}: ${displayText(what)}.`, hint ? { hint } : {});
  }
}
