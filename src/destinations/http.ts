// JSON over HTTP for the destinations' APIs (GitHub, GitLab, Kubernetes): a bearer token that never reaches an
// error message, and failures turned into one line that says what the service answered.
import { request, type Dispatcher } from 'undici';
import { redact, sanitizeForDisplay } from '../core/mask.js';
import { DestinationError } from './errors.js';

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
