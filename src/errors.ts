// keyrot's error hierarchy. Every error a user can meet is a KeyrotError with a stable exit code and a
// machine-readable `code`; anything else reaching the top is a bug (exit 1, stack trace only with --debug).
// Messages must never contain a secret: callers pass masked values only.

export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  auth: 3,
  permission: 4,
  notFound: 5,
  unavailable: 6,
  verifyFailed: 7,
  keychain: 8,
  conflict: 9,
  hookFailed: 10,
  waitTimeout: 11,
  incomplete: 12,
  keyNotReturned: 13,
  state: 14,
  auditFindings: 15,
  batchPartial: 16,
  batchFailed: 17,
  operatorStep: 18,
  scopeMismatch: 19,
  cancelled: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** One row per exit code, in order: the single source for README and `--help`. */
export const EXIT_CODE_TABLE: ReadonlyArray<readonly [number, string]> = [
  [ExitCode.ok, 'success'],
  [ExitCode.internal, 'internal error (a bug: please report it with --debug output)'],
  [ExitCode.usage, 'usage error or bad input (nothing was changed)'],
  [ExitCode.auth, 'authentication rejected (401: bad, revoked or expired key, or IP not allowed)'],
  [ExitCode.permission, 'permission denied (403: the admin key lacks manage_users)'],
  [ExitCode.notFound, 'user or key not found'],
  [ExitCode.unavailable, 'provider unavailable after retries (network, timeout, 5xx, 429) or a malformed answer'],
  [ExitCode.verifyFailed, 'verification failed (the key does not authenticate, or the old key still does)'],
  [ExitCode.keychain, 'keychain unavailable, locked or failing (no key was created)'],
  [ExitCode.conflict, 'another rotation of this user is in progress or unfinished (see --resume / --abort)'],
  [ExitCode.hookFailed, 'the --on-new-key or --check command failed or timed out (a rotation keeps both keys live; a create deletes its new key)'],
  [ExitCode.waitTimeout, 'consumers did not use the new key in time (both keys stay live; --resume later)'],
  [ExitCode.incomplete, 'the operation stopped part-way; the message says what is live and how to continue'],
  [ExitCode.keyNotReturned, 'the provider accepted a create but sent no key: keyrot deleted that key; nothing else changed'],
  [ExitCode.state, "keyrot's state directory is unusable or a state file in it is damaged (the message names it and how to recover)"],
  [ExitCode.auditFindings, 'keyrot audit found keys with a finding named by --fail-on (the whole report is printed)'],
  [ExitCode.batchPartial, 'rotate --all: some rotations failed, the others succeeded (the summary says how to continue)'],
  [ExitCode.batchFailed, 'rotate --all: no rotation succeeded (the summary says how to continue)'],
  [ExitCode.operatorStep, 'the rotation is paused for a step only a person can do in the provider\'s dashboard (mint or revoke a key); the message says which; --resume continues'],
  [ExitCode.scopeMismatch, 'the new key lacks a scope the old key has (403 where the old key gets 2xx): both keys stay live'],
  [ExitCode.cancelled, 'cancelled (Ctrl-C, SIGTERM, or No at a confirmation)'],
];

export interface ErrorDetails {
  /** A next step for the user, shown after the message. */
  hint?: string;
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
  hint: string | undefined;
  data: Record<string, unknown> | undefined;
  readonly facts: ErrorFacts;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.hint = details.hint;
    this.facts = { ...details.facts };
    this.data = details.facts ? { ...details.data, ...details.facts } : details.data;
  }

  /** Adds context on the way up (where a rotation stopped, how to go on); the class and exit code stay. */
  amend(hint: string, data: Record<string, unknown>, facts?: ErrorFacts): this {
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

  constructor(message: string, details: ErrorDetails & { plaintext?: string | null } = {}) {
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
