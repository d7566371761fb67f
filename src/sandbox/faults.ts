// Injected failures for the sandbox API: the ways a real provider or the network between it and keyrot can let
// a client down, in a form a test, the demo or a user rehearsing a rotation can ask for by name.
import { UsageError } from '../errors.js';
import { say, displayText } from '../ui/display-text.js';

export const FAULT_ACTIONS = ['status', 'drop-before', 'drop-after', 'delay', 'delay-after', 'malformed', 'empty-answer'] as const;
export type FaultAction = (typeof FAULT_ACTIONS)[number];

/**
 * One injected failure. Matched against each /v2 request before rate limiting and authentication, in the order
 * faults were added; the first match consumes one of its `times`.
 *
 * - `status`: answer `status` without acting (body: `body`, default the JSON error body; optional Retry-After).
 * - `drop-before`: destroy the connection without acting.
 * - `drop-after`: act (a create really creates the key), then destroy the connection without answering.
 * - `delay`: wait `delayMs`, then handle normally (the request is acted on even if the client gave up).
 * - `delay-after`: act, wait `delayMs`, then answer.
 * - `malformed`: answer 200 with a body that is not JSON, without acting.
 * - `empty-answer`: act (a create really creates the key), then answer a success as `202` with no body, as
 *   Vultr's OpenAPI document describes the user-key create.
 */
export interface FaultSpec {
  /** HTTP method, case-insensitive; absent or "*" matches any. */
  method?: string;
  /** Path under /v2 ("/users/*\/apikeys"); each "*" matches exactly one segment. A leading "/v2" is tolerated. */
  path: string;
  action: FaultAction;
  /** Required for and only for `status`: the status code to answer (200-599). */
  status?: number;
  /** `status` only: the raw body. Absent: the JSON error body; "" means an empty body. */
  body?: string;
  /** `status` only: the Retry-After header value, e.g. "1" or an HTTP-date. */
  retryAfter?: string;
  /** Required for and only for `delay` and `delay-after`, in milliseconds. */
  delayMs?: number;
  /** How many matching requests this fault applies to; default 1; 0 means forever. */
  times?: number;
}

const MAX_DELAY_MS = 10 * 60 * 1000;
const FORMAT_HINT = say`Format: "METHOD PATH action[=status|ms] [times=N] [retry-after=V] [body=TEXT]", e.g. "POST /users/*/apikeys drop-after" or "GET /users status=503 times=2". Actions: status=CODE, drop-before, drop-after, delay=MS, delay-after=MS, malformed, empty-answer.`;

/**
 * Checks and normalises a fault from untrusted input (the control API, a programmatic caller).
 * Returns a new object: method upper-cased (absent for "any"), path without a "/v2" prefix or trailing slash,
 * times defaulted to 1. Throws UsageError with a one-line message on any invalid field.
 */
export function validateFaultSpec(input: unknown): FaultSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid('a fault must be an object with at least "path" and "action"');
  }
  const raw = input as Record<string, unknown>;
  const action = raw['action'];
  if (typeof action !== 'string' || !isFaultAction(action)) {
    throw invalid(`unknown action ${JSON.stringify(action)} (expected one of ${FAULT_ACTIONS.join(', ')})`);
  }
  const spec: FaultSpec = { path: normalisePattern(raw['path']), action, times: optionalCount(raw['times']) };
  const method = raw['method'];
  if (method !== undefined && method !== '*') {
    if (typeof method !== 'string' || !/^[A-Za-z]+$/.test(method)) {
      throw invalid(`method must be an HTTP method or "*", got ${JSON.stringify(method)}`);
    }
    spec.method = method.toUpperCase();
  }
  const only = (field: string, allowed: readonly FaultAction[]): void => {
    if (raw[field] !== undefined && !allowed.includes(action)) {
      throw invalid(`"${field}" does not apply to action "${action}"`);
    }
  };
  only('status', ['status']);
  only('body', ['status']);
  only('retryAfter', ['status']);
  only('delayMs', ['delay', 'delay-after']);
  if (action === 'status') {
    const status = raw['status'];
    // 1xx codes are interim answers, not something a fault can end a request with.
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
      throw invalid(`action "status" needs a status code from 200 to 599, got ${JSON.stringify(status)}`);
    }
    spec.status = status;
    if (raw['body'] !== undefined) spec.body = requireString(raw['body'], 'body');
    if (raw['retryAfter'] !== undefined) {
      const retryAfter = requireString(raw['retryAfter'], 'retryAfter');
      // A header value with a line break would let a fault spec forge further headers.
      if (/[\r\n]/.test(retryAfter)) throw invalid('retryAfter must be a single line');
      spec.retryAfter = retryAfter;
    }
  }
  if (action === 'delay' || action === 'delay-after') {
    const delayMs = raw['delayMs'];
    if (typeof delayMs !== 'number' || !Number.isInteger(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS) {
      throw invalid(`action "${action}" needs delayMs, an integer from 0 to ${MAX_DELAY_MS}`);
    }
    spec.delayMs = delayMs;
  }
  return spec;
}

/**
 * Parses the CLI form `"METHOD PATH action[=status|ms] [times=N] [retry-after=V] [body=TEXT]"`. Values may be
 * double-quoted to hold spaces (`retry-after="Wed, 21 Oct 2026 07:28:00 GMT"`, `body=""`).
 * Throws UsageError with a one-line message and a format hint.
 */
export function parseFaultSpec(text: string): FaultSpec {
  const fail = (why: string): UsageError => new UsageError(say`Invalid fault ${displayText(JSON.stringify(text))}: ${displayText(why)}.`, { hint: FORMAT_HINT });
  const tokens = tokenize(text);
  if (tokens === null) throw fail('unbalanced double quote');
  const [method, path, actionToken, ...options] = tokens;
  if (method === undefined || path === undefined || actionToken === undefined) {
    throw fail('expected at least METHOD, PATH and an action');
  }
  const [actionName, actionValue] = splitOnce(actionToken);
  const raw: Record<string, unknown> = { method, path, action: actionName };
  if (actionName === 'status' || actionName === 'delay' || actionName === 'delay-after') {
    const field = actionName === 'status' ? 'status' : 'delayMs';
    raw[field] = actionValue === undefined ? undefined : integerOrNaN(actionValue);
    if (actionValue === undefined || Number.isNaN(raw[field])) {
      throw fail(`action "${actionName}" needs a number: ${actionName}=${actionName === 'status' ? 'CODE' : 'MS'}`);
    }
  } else if (actionValue !== undefined) {
    throw fail(`action "${actionName}" takes no value`);
  }
  for (const option of options) {
    const [key, value] = splitOnce(option);
    if (value === undefined) throw fail(`option "${option}" should be key=value`);
    if (key === 'times') {
      raw['times'] = integerOrNaN(value);
      if (Number.isNaN(raw['times'])) throw fail(`times must be a whole number, got "${value}"`);
    } else if (key === 'retry-after') {
      raw['retryAfter'] = value;
    } else if (key === 'body') {
      raw['body'] = value;
    } else {
      throw fail(`unknown option "${key}" (expected times, retry-after or body)`);
    }
  }
  try {
    return validateFaultSpec(raw);
  } catch (err) {
    throw err instanceof UsageError ? fail(err.message.replace(/^Invalid fault: /, '').replace(/\.$/, '')) : err;
  }
}

/** Whether a fault's path pattern matches a request path under /v2 (query string already removed). */
export function faultPathMatches(pattern: string, path: string): boolean {
  const want = segments(pattern);
  const got = segments(path);
  return want.length === got.length && want.every((seg, i) => seg === '*' || seg === got[i]);
}

/** The live faults of one sandbox, consumed as requests match them. */
export class FaultSet {
  private readonly active: Array<{ spec: FaultSpec; remaining: number }> = [];

  /** Validates (UsageError on a bad spec) and appends. */
  add(spec: FaultSpec): void {
    const valid = validateFaultSpec(spec);
    const times = valid.times ?? 1;
    this.active.push({ spec: valid, remaining: times === 0 ? Number.POSITIVE_INFINITY : times });
  }

  clear(): void {
    this.active.length = 0;
  }

  /** The first fault matching the request, consuming one use of it; undefined when none matches. */
  take(method: string, path: string): FaultSpec | undefined {
    const index = this.active.findIndex(({ spec }) => (spec.method === undefined || spec.method === method.toUpperCase()) && faultPathMatches(spec.path, path));
    const hit = this.active[index];
    if (hit === undefined) return undefined;
    hit.remaining -= 1;
    if (hit.remaining <= 0) this.active.splice(index, 1);
    return hit.spec;
  }
}

function isFaultAction(value: string): value is FaultAction {
  return (FAULT_ACTIONS as readonly string[]).includes(value);
}

function invalid(why: string): UsageError {
  return new UsageError(say`Invalid fault: ${displayText(why)}.`, { hint: FORMAT_HINT });
}

function normalisePattern(path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/') || /\s|\?/.test(path)) {
    throw invalid(`path must start with "/" and hold no spaces or query string, got ${JSON.stringify(path)}`);
  }
  // Users copy paths from full URLs; "/v2/users" and "/users" mean the same route.
  const withoutPrefix = path === '/v2' || path.startsWith('/v2/') ? path.slice(3) : path;
  return `/${segments(withoutPrefix).join('/')}`;
}

function optionalCount(value: unknown): number {
  if (value === undefined) return 1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw invalid(`times must be a whole number (0 = forever), got ${JSON.stringify(value)}`);
  }
  return value;
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(`${field} must be a string`);
  return value;
}

function segments(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function splitOnce(token: string): [string, string | undefined] {
  const at = token.indexOf('=');
  return at === -1 ? [token, undefined] : [token.slice(0, at), token.slice(at + 1)];
}

function integerOrNaN(text: string): number {
  return /^\d+$/.test(text) ? Number(text) : Number.NaN;
}

/** Splits on whitespace outside double quotes and drops the quotes; null when a quote is left open. */
function tokenize(text: string): string[] | null {
  const tokens: string[] = [];
  let current: string | null = null;
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') {
      quoted = !quoted;
      current ??= '';
    } else if (!quoted && /\s/.test(ch)) {
      if (current !== null) tokens.push(current);
      current = null;
    } else {
      current = (current ?? '') + ch;
    }
  }
  if (quoted) return null;
  if (current !== null) tokens.push(current);
  return tokens;
}
