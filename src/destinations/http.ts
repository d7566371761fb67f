// JSON over HTTP for the destinations' APIs (GitHub, GitLab, Kubernetes): a bearer token that never reaches an
// error message, and failures turned into one line that says what the service answered.
import type { Dispatcher } from 'undici';
import { request } from '../providers/undici-core.js';
import { redact, sanitizeForDisplay } from '../core/mask.js';
import { UsageError } from '../errors.js';
import { DestinationError } from './errors.js';
import { say, displayText, type DisplayText } from '../ui/display-text.js';

export interface JsonCall {
  method: 'GET' | 'PUT' | 'POST' | 'PATCH';
  url: URL;
  headers: Record<string, string>;
  body?: unknown;
  contentType?: string;
}

export interface JsonAnswer {
  status: number;
  body: unknown;
}

/** How long one call to a destination's API may take before keyrot gives up on it. */
const CALL_TIMEOUT_MS = 30_000;

/** Sends one call; any status is returned (the caller decides what it means). DestinationError when unreachable. */
export async function callJson(target: string, call: JsonCall, dispatcher: Dispatcher | undefined, signal?: AbortSignal): Promise<JsonAnswer> {
  try {
    const res = await request(call.url, {
      method: call.method,
      headers: { accept: 'application/json', ...(call.body === undefined ? {} : { 'content-type': call.contentType ?? 'application/json' }), ...call.headers },
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
      ...(dispatcher ? { dispatcher } : {}),
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(CALL_TIMEOUT_MS)]) : AbortSignal.timeout(CALL_TIMEOUT_MS),
      headersTimeout: CALL_TIMEOUT_MS,
      bodyTimeout: CALL_TIMEOUT_MS,
    });
    const text = await res.body.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON (a proxy's HTML page): kept as text, quoted shortened in errors.
    }
    return { status: res.statusCode, body };
  } catch (err) {
    // A cancel (SIGTERM, Ctrl-C) surfaces as the cancel itself, so the caller deletes a key nobody got.
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : err;
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).name;
    throw new DestinationError(target, `${call.url.origin} could not be reached (${code})`);
  }
}

/**
 * What a failed answer said, in one printable line: the service's own `message` where it gave one, with every
 * secret in `secrets` (the token sent, the key being delivered) masked: a service or proxy may echo a header back.
 */
export function answerText(answer: JsonAnswer, secrets: readonly string[]): string {
  const body = answer.body as { message?: unknown } | string | null;
  const said = typeof body === 'string' ? body : typeof body?.message === 'string' ? body.message : '';
  const line = sanitizeForDisplay(redact(said.replace(/\s+/g, ' '), secrets)).slice(0, 200);
  return `HTTP ${answer.status}${line ? `: ${line}` : ''}`;
}

/** Hosts a token may be sent to over plain http: this machine only (a local test server, a tunnel). */
const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];

/**
 * An API's base URL from `text` (read from the variable `name`): https, or plain http to this machine only; normalised
 * once (no trailing or doubled slash, no query or fragment), so a call's path only ever appends to it.
 */
export function apiUrl(target: string, name: string, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(say`--to ${displayText(target)}: ${displayText(name)} is not a URL.`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.includes(url.hostname))) {
    throw new UsageError(say`--to ${displayText(target)}: ${displayText(name)} must be https (plain http only to this machine).`);
  }
  url.pathname = segments(url.pathname);
  url.search = '';
  url.hash = '';
  return url;
}

/**
 * `path` (with its query) joined onto the API's base URL as path segments (the base may have a path, such as /api/v4):
 * never resolved as a URL, since a path that starts with "//" would then name another host. A token goes only to the
 * origin the base names.
 */
export function under(target: string, base: URL, path: string): URL {
  const [pathname = '', query] = path.split('?', 2);
  const url = new URL(base.href);
  url.pathname = segments(`${base.pathname}/${pathname}`);
  url.search = query ? `?${query}` : '';
  if (url.origin !== base.origin) throw new UsageError(say`--to ${displayText(target)}: a call would leave ${displayText(base.origin)}; refused.`);
  return url;
}

const segments = (path: string) =>
  path
    .split('/')
    .filter(Boolean)
    .map((s) => `/${s}`)
    .join('');

/**
 * Throws the one line a refused call gives: who refused what, what it said (every secret in `secrets` masked: the
 * token sent, the key being delivered), and the hint for that status.
 */
export function refused(target: string, service: string, doing: string, answer: JsonAnswer, hints: Partial<Record<number, DisplayText>>, secrets: readonly string[]): never {
  throw new DestinationError(target, `${service} refused ${doing} (${answerText(answer, secrets)})`, hints[answer.status]);
}
