// keyrot's error hierarchy. Every error a user can meet is a KeyrotError with a stable exit code and a
// machine-readable `code`; anything else reaching the top is a bug (exit 1, stack trace only with --debug).
// Messages must never contain a secret: callers pass masked values only. A message and its hint are DisplayText:
// keyrot's own words built with `say`, any outside value (a key name, an e-mail, a provider's error body, a URL)
// through displayText(), so a raw provider string handed to an error does not compile.
import type { DisplayText } from './core/display-text.js';

// Each exit code tells a script a different next action. Codes that asked for the same action were merged (the
// names stay, so every error class keeps its name and its `code` string for --json): see RETIRED_EXIT_CODES.
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  auth: 3,
  /** Merged into auth (was 4): either way a person fixes the admin key (its value or its permissions). */
  permission: 3,
  notFound: 5,
  unavailable: 6,
  /** Merged into unavailable (was 13): the provider's answer was unusable; nothing changed; try again later. */
  keyNotReturned: 6,
  verifyFailed: 7,
  keychain: 8,
  conflict: 9,
  waitTimeout: 11,
  incomplete: 12,
  /** Merged into incomplete (was 10): a person reads what is live, fixes the hook, then --resume or --abort. */
  hookFailed: 12,
  /**
   * Kept apart from incomplete: the new key itself is wrong (narrower scopes, another organization, fewer clusters),
   * so --resume can never finish; the next action is --abort and a new key made like the old one.
   */
  scopeMismatch: 19,
  state: 14,
  auditFindings: 15,
  batchPartial: 16,
  /** Merged into batchPartial (was 17): the summary says how to continue, whether none or some succeeded. */
  batchFailed: 16,
  operatorStep: 18,
  /** Set by bin/keyrot, which cannot import this module's types: keep its literal in step. */
  outputLost: 20,
  cancelled: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** One row per exit code, in order, with the next action it asks of a script: the single source for the docs and `--help`. */
export const EXIT_CODE_TABLE: ReadonlyArray<readonly [number, string]> = [
  [ExitCode.ok, 'success'],
  [ExitCode.internal, 'internal error: a bug; report it with the --debug output'],
  [ExitCode.usage, 'usage error or bad input: fix the command line (nothing was changed)'],
  [ExitCode.auth, 'the admin key is rejected (401: bad, revoked, expired, IP not allowed) or lacks a permission (403, e.g. manage_users): fix the admin key'],
  [ExitCode.notFound, 'the user or key does not exist (the closest ones are suggested)'],
  [
    ExitCode.unavailable,
    'the provider is unavailable after retries (network, timeout, 5xx, 429) or its answer is unusable (malformed; a create without its key, which keyrot deleted): nothing else changed; try again later',
  ],
  [ExitCode.verifyFailed, 'verification failed: the key does not authenticate, or the old key still does'],
  [ExitCode.keychain, 'the keychain is missing, locked or failing: fix it (no key was created)'],
  [ExitCode.conflict, 'another rotation of this user is running or unfinished: --resume or --abort it'],
  [ExitCode.waitTimeout, 'consumers did not use the new key in time: both keys stay live; --resume later'],
  [
    ExitCode.incomplete,
    'stopped part-way (a hook failed or timed out, or another stop): the message and keyrot status say what is live; fix it, then --resume or --abort (a create whose hook failed deleted its key)',
  ],
  [ExitCode.state, "keyrot's state folder is unusable or a state file in it is damaged: the message names it and how to recover"],
  [ExitCode.auditFindings, 'keyrot audit found keys with a finding named by --fail-on (the whole report is printed)'],
  [ExitCode.batchPartial, 'rotate --all: not every rotation finished (some or none succeeded): the summary says how to continue'],
  [ExitCode.operatorStep, "paused for a step only a person can do in the provider's dashboard (mint or revoke a key): the message says which; --resume continues"],
  [
    ExitCode.scopeMismatch,
    'the new key does not reach what the old key reaches (a scope, the organization, a cluster): both keys stay live and nothing was handed over; --abort, then make a key like the old one',
  ],
  [ExitCode.outputLost, 'keyrot did its work but could not write its output (a full disk under a redirect, a $GITHUB_OUTPUT it cannot write): keyrot status shows where things stand'],
  [ExitCode.cancelled, 'cancelled (Ctrl-C, SIGTERM, or No at a confirmation)'],
];

/** Each exit code in a few words (the root --help lists them on a line or two). */
export const EXIT_CODE_NAMES: Readonly<Record<number, string>> = {
  [ExitCode.ok]: 'success',
  [ExitCode.internal]: 'bug',
  [ExitCode.usage]: 'usage',
  [ExitCode.auth]: 'admin key',
  [ExitCode.notFound]: 'not found',
  [ExitCode.unavailable]: 'provider unavailable',
  [ExitCode.verifyFailed]: 'verification failed',
  [ExitCode.keychain]: 'keychain',
  [ExitCode.conflict]: 'rotation in progress',
  [ExitCode.waitTimeout]: 'wait timed out',
  [ExitCode.incomplete]: 'stopped part-way',
  [ExitCode.state]: 'state folder',
  [ExitCode.auditFindings]: 'audit findings',
  [ExitCode.batchPartial]: 'batch not all done',
  [ExitCode.operatorStep]: 'waiting for a person',
  [ExitCode.scopeMismatch]: 'new key narrower',
  [ExitCode.outputLost]: 'output lost',
  [ExitCode.cancelled]: 'cancelled',
};

/** Exit codes merged away (old → the code that now says it), for the docs: nothing was published with the old ones. */
export const RETIRED_EXIT_CODES: ReadonlyArray<readonly [old: number, now: number, why: string]> = [
  [4, ExitCode.permission, 'a permission the admin key lacks is fixed like a rejected admin key'],
  [10, ExitCode.hookFailed, 'a failed hook stops a rotation part-way, both keys live: read, fix, --resume or --abort'],
  [13, ExitCode.keyNotReturned, 'a create answered without its key is an unusable answer; keyrot deleted that key'],
  [17, ExitCode.batchFailed, 'with none or some rotations done, the summary says how to continue'],
];

export interface ErrorDetails {
  /** A next step for the user, shown after the message. */
  hint?: DisplayText;
  /** Extra machine-readable fields for the JSON error object. Never secrets. */
  data?: Record<string, unknown>;
  /** What control flow may act on, typed; also shown in the JSON error object (merged into data). */
  facts?: ErrorFacts;
  cause?: unknown;
}

/** The facts about a failure that keyrot's own control flow reads (never the untyped data bag). */
export interface ErrorFacts {
  /** The provider's HTTP status, where it answered. */
  status?: number;
  /** Raised after a create whose answer was lost: a key may exist that no listing showed yet. */
  afterLostAnswer?: boolean;
  /** Unheld keys of the new key's name that may be another's: never deleted by this rotation. */
  unheldKeyIds?: readonly string[];
  /** Another keyrot rotated the same user at the same moment; this run stepped back. */
  concurrent?: boolean;
  /** false when the new key no longer works (deleted, expired, rejected). */
  newKeyUsable?: boolean;
  /** A delete was answered 2xx and the key is still listed (and not rejected): it is live. */
  keyStillLive?: boolean;
}

export abstract class KeyrotError extends Error {
  abstract readonly exitCode: ExitCodeValue;
  /** Stable identifier for scripts (`error.code` in JSON output). */
  abstract readonly code: string;
  hint: DisplayText | undefined;
  data: Record<string, unknown> | undefined;
  readonly facts: ErrorFacts;

  override message: DisplayText;

  constructor(message: DisplayText, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.message = message;
    this.name = new.target.name;
    this.hint = details.hint;
    this.facts = { ...details.facts };
    this.data = details.facts ? { ...details.data, ...details.facts } : details.data;
  }

  /** Adds context on the way up (where a rotation stopped, how to go on); the class and exit code stay. */
  amend(hint: DisplayText, data: Record<string, unknown>, facts?: ErrorFacts): this {
    this.hint = hint;
    this.data = { ...(this.data ?? {}), ...data, ...facts };
    Object.assign(this.facts, facts);
    return this;
  }
}

export class UsageError extends KeyrotError {
  readonly exitCode = ExitCode.usage;
  readonly code = 'usage';
}

export class AuthError extends KeyrotError {
  readonly exitCode = ExitCode.auth;
  readonly code = 'auth';
}

export class PermissionError extends KeyrotError {
  readonly exitCode = ExitCode.permission;
  readonly code = 'permission';
}

export class NotFoundError extends KeyrotError {
  readonly exitCode = ExitCode.notFound;
  readonly code = 'not_found';
}

export class ProviderUnavailableError extends KeyrotError {
  readonly exitCode = ExitCode.unavailable;
  readonly code = 'unavailable';
}

/** The provider answered, but not in a shape keyrot understands. */
export class ProviderResponseError extends KeyrotError {
  readonly exitCode = ExitCode.unavailable;
  readonly code = 'bad_response';
}

/**
 * A create call whose outcome is unknown: the request may have reached the provider but the answer (with
 * the only copy of the plaintext) was lost. Callers must reconcile by listing keys, never retry blindly.
 */
export class CreateOutcomeUnknownError extends KeyrotError {
  readonly exitCode = ExitCode.unavailable;
  readonly code = 'create_outcome_unknown';
}

/**
 * The provider answered a create with success but without a usable plaintext (an empty body, as Vultr's own
 * OpenAPI document describes the answer, or one without the key). Nothing was lost in transit, so the create
 * must never be sent again: the key it made can never be read, and is deleted.
 */
export class KeyNotReturnedError extends KeyrotError {
  readonly exitCode = ExitCode.keyNotReturned;
  readonly code = 'key_not_returned';
  /** The plaintext, when the answer held one but no usable record of its key: only for the rescue file. */
  readonly #plaintext: string | null;

  constructor(message: DisplayText, details: ErrorDetails & { plaintext?: string | null } = {}) {
    const { plaintext, ...rest } = details;
    super(message, rest);
    this.#plaintext = plaintext ?? null;
  }

  /** Not a field: a private slot never reaches JSON, logs or `--debug` dumps of the error. */
  get plaintext(): string | null {
    return this.#plaintext;
  }
}

/** keyrot's own state (a journal, its folder) is damaged or unusable: the message names the file and the way out. */
export class StateError extends KeyrotError {
  readonly exitCode = ExitCode.state;
  readonly code = 'state';
}

export class VerificationFailedError extends KeyrotError {
  readonly exitCode = ExitCode.verifyFailed;
  readonly code = 'verify_failed';
}

export class KeychainError extends KeyrotError {
  readonly exitCode = ExitCode.keychain;
  readonly code = 'keychain';
}

export class RotationConflictError extends KeyrotError {
  readonly exitCode = ExitCode.conflict;
  readonly code = 'conflict';
}

export class HookFailedError extends KeyrotError {
  readonly exitCode = ExitCode.hookFailed;
  readonly code = 'hook_failed';
}

export class WaitTimeoutError extends KeyrotError {
  readonly exitCode = ExitCode.waitTimeout;
  readonly code = 'wait_timeout';
}

export class RotationIncompleteError extends KeyrotError {
  readonly exitCode = ExitCode.incomplete;
  readonly code = 'incomplete';
}

/**
 * A rotation waits for a person to act in the provider's dashboard (mint the new key, revoke the old one): it is
 * paused, journaled, and `--resume` continues it. Not a failure.
 */
export class OperatorStepError extends KeyrotError {
  readonly exitCode = ExitCode.operatorStep;
  readonly code = 'operator_step';
}

/** The new key is valid but narrower than the old one: a probe the old key passes gets 403 with the new key. */
export class ScopeMismatchError extends KeyrotError {
  readonly exitCode = ExitCode.scopeMismatch;
  readonly code = 'scope_mismatch';
}

export class CancelledError extends KeyrotError {
  readonly exitCode = ExitCode.cancelled;
  readonly code = 'cancelled';
}

export function isKeyrotError(err: unknown): err is KeyrotError {
  return err instanceof KeyrotError;
}
