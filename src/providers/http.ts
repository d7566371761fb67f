// A small JSON-over-HTTP client on undici, shared by providers. It owns the transport policy: timeouts, the
// process-wide request budget, retries that are safe for the method, and the mapping of final failures onto
// keyrot's error hierarchy. It knows no provider URLs; a provider's client.ts builds one and passes paths.
//
// Retry rules (the safety of a key rotation hangs on them):
// - GET/DELETE (idempotent): retried on connection errors, timeouts, 429 and 5xx except 501, with exponential
//   back-off and full jitter, or the server's Retry-After (429/503), each wait capped at maxDelayMs.
// - POST (creates a key): retried only when the server provably did not act: a 429, or a connection error that
//   happened before anything was sent (refused, DNS, connect timeout). Any answer lost after sending (reset,
//   timeout, 5xx) throws CreateOutcomeUnknownError, because a blind retry would make a second key.
import { setTimeout as sleepTimer } from 'node:timers/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { checkedProxyFor, proxyLabel, PROXY_VARIABLES, ProxyConnectError, ProxyRouter } from './proxy.js';
import { Agent, requestWith } from './undici-core.js';
import type { Dispatcher } from 'undici';
import { AuthError, CancelledError, CreateOutcomeUnknownError, NotFoundError, PermissionError, ProviderResponseError, ProviderUnavailableError, UsageError } from '../errors.js';
import { redact, sanitizeForDisplay } from '../core/mask.js';
import { urlUnder } from '../core/base-url.js';
import type { HttpLogger, ProviderOptions, RetryPolicy, Timeouts } from './types.js';
import { say, displayText, type DisplayText } from '../ui/display-text.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = { attempts: 4, baseDelayMs: 250, maxDelayMs: 20_000 };
export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = { connectMs: 10_000, totalMs: 30_000 };

/** Waits `ms` milliseconds; rejects (with anything) when `signal` aborts. */
export type SleepFn = (ms: number, signal?: AbortSignal) => Promise<void>;

const realSleep: SleepFn = (ms, signal) => sleepTimer(ms, undefined, signal ? { signal } : undefined);

/**
 * The pace of requests to one API from this process, shared by every client of it (so by every rotation of a batch):
 * Vultr allows 30 requests per second per source IP, whatever the key, counted in a sliding second as they arrive.
 *
 * keyrot cannot see when a request arrives there, only that it did between its start here and its answer. So a request
 * holds its place in the window from its start until a whole window after its answer: the 31st request starts only once
 * the answer to the 1st is a second old. The provider then never sees more than `limit` in any window, whatever the
 * network's jitter or a stalled process, at `limit` per (window + round trip). While the window has room a request
 * starts at once (a rotation's ten sequential requests never wait on a spacing of their own). A 429 (someone else on
 * this IP, or a stricter provider) makes every request wait out its Retry-After together and slows the pace by a
 * quarter, with starts spread evenly at that pace; each quiet `recoverMs` halves the slowdown again, and within 1% of
 * the full pace the spacing ends.
 *
 * A provider that keeps answering 429 is not waited on for ever: once MAX_THROTTLED_MS have passed since the first 429
 * with no other answer since, every request waiting and every later one fails with ThrottledTooLongError (clean-ups
 * excepted), so a batch of 200 keys or an audit of 1000 users ends in minutes, not hours.
 *
 * Clean-ups after a cancel (`urgent`) go first: ahead of every request waiting, past a Retry-After pause and the even
 * spacing. They still count in the window, so even they never make more than `limit` in one.
 */
export class RateLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #intervalMs: number;
  readonly #recoverMs: number;
  readonly #now: () => number;
  readonly #sleep: SleepFn;
  /** Multiplies the even spacing: 1 at full pace, more after 429s. */
  #slowdown = 1;
  #nextStart = -Infinity;
  #pausedUntil = -Infinity;
  #lastThrottleAt = -Infinity;
  #lastRecoveryAt = -Infinity;
  #inFlight = 0;
  /** When the provider began answering only 429 (null: its last answer was something else). */
  #throttledSince: number | null = null;
  /** Set once the provider has answered only 429 for too long: every non-urgent request fails with it. */
  #gaveUp: ThrottledTooLongError | null = null;
  readonly #maxThrottledMs: number;
  /** When the answers of recent requests came, ascending; those older than a window are dropped. */
  readonly #answered: number[] = [];
  readonly #queue: Array<{ grant: (ticket: RequestTicket) => void; fail: (err: Error) => void; urgent: boolean }> = [];
  /** The wake-up the queue waits for, if any: its time, and how to call it off. */
  #timer: { at: number; cancel: AbortController } | undefined;

  constructor(options: { limit?: number; windowMs?: number; recoverMs?: number; maxThrottledMs?: number; now?: () => number; sleep?: SleepFn } = {}) {
    this.#limit = options.limit ?? VULTR_REQUESTS_PER_SECOND;
    this.#windowMs = options.windowMs ?? 1000;
    this.#intervalMs = this.#windowMs / this.#limit;
    this.#recoverMs = options.recoverMs ?? 2_000;
    this.#maxThrottledMs = options.maxThrottledMs ?? MAX_THROTTLED_MS;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? realSleep;
  }

  /** Starts per second at the current pace, answers taking no time (the limit itself at full pace). */
  get perSecond(): number {
    return 1000 / (this.#intervalMs * this.#slowdown);
  }

  /**
   * Resolves, in the order callers asked, when a request may start: with a ticket to release() once its answer is in
   * (or it failed), and to hand to throttled() if that answer is a 429. Rejects with CancelledError when `signal`
   * aborts first. An `urgent` request (a clean-up after a cancel) goes ahead of every other and is not held by a
   * Retry-After pause or the spacing: only by the window's count.
   */
  acquire(signal?: AbortSignal, urgent = false): Promise<RequestTicket> {
    if (signal?.aborted) return Promise.reject(new CancelledError(say`Cancelled.`));
    if (this.#gaveUp && !urgent) return Promise.reject(this.#gaveUp);
    return new Promise<RequestTicket>((resolve, reject) => {
      const onAbort = () => {
        const at = this.#queue.indexOf(entry);
        if (at >= 0) this.#queue.splice(at, 1);
        reject(new CancelledError(say`Cancelled.`));
        this.#pump();
      };
      const entry = {
        grant: (ticket: RequestTicket) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(ticket);
        },
        fail: reject,
        urgent,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (urgent) {
        const firstNormal = this.#queue.findIndex((e) => !e.urgent);
        this.#queue.splice(firstNormal < 0 ? this.#queue.length : firstNormal, 0, entry);
      } else {
        this.#queue.push(entry);
      }
      this.#pump();
    });
  }

  /**
   * The provider answered 429 to the request of `ticket`: every request waits `waitMs` (its Retry-After) from now, and
   * the pace slows by a quarter. Answers to requests started before the last slowdown do not slow it again: they were
   * sent before the pace was corrected.
   */
  throttled(waitMs: number, ticket: RequestTicket): void {
    const now = this.#now();
    this.#throttledSince ??= now;
    this.#pausedUntil = Math.max(this.#pausedUntil, now + Math.max(0, waitMs));
    if (ticket.startedAt > this.#lastThrottleAt) {
      this.#slowdown = Math.min(MAX_SLOWDOWN, this.#slowdown * 1.25);
      this.#lastThrottleAt = now;
      this.#lastRecoveryAt = this.#pausedUntil;
    }
    this.#pump();
  }

  /** The provider answered a request with something other than 429: it is not throttling every request. */
  answered(): void {
    this.#throttledSince = null;
  }

  /** Grants every waiter that may start now, and sets a wake-up for the next one. */
  #pump(): void {
    while (this.#queue.length > 0) {
      const now = this.#now();
      if (this.#throttledSince !== null && now - this.#throttledSince >= this.#maxThrottledMs) this.#giveUp(now);
      const at = this.#earliestStart(now, this.#queue[0]?.urgent ?? false);
      if (at === null) break; // `limit` requests unanswered: the next answer pumps again.
      if (at > now) {
        this.#wakeAt(at, now);
        return;
      }
      this.#inFlight++;
      const entry = this.#queue.shift();
      // On the grid, not from now: a timer that fires late does not push every later start back.
      if (!entry?.urgent) this.#nextStart = (this.#nextStart >= now - this.#intervalMs ? this.#nextStart : now) + this.#intervalMs * this.#slowdown;
      let released = false;
      entry?.grant({
        startedAt: now,
        release: () => {
          if (released) return;
          released = true;
          this.#inFlight--;
          this.#answered.push(this.#now());
          this.#pump();
        },
      });
    }
    if (this.#queue.length === 0) this.#stopTimer();
  }

  /** When the next request may start (null: once an answer comes); an urgent one only waits for room in the window. */
  #earliestStart(now: number, urgent: boolean): number | null {
    this.#recover(now);
    while (this.#answered.length > 0 && (this.#answered[0] ?? 0) <= now - this.#windowMs) this.#answered.shift();
    this.#answered.sort((a, b) => a - b);
    // At full pace a request starts at once while the window has room: one rotation's few sequential requests never
    // wait. Only after a 429 are starts spread out (at the slowed pace), where the count alone let the provider refuse.
    const spaced = this.#slowdown > 1 ? this.#nextStart : -Infinity;
    let at = urgent ? now : Math.max(now, spaced, this.#pausedUntil);
    const over = this.#inFlight + this.#answered.length - this.#limit;
    if (over >= 0) {
      // Enough answers must leave the window to make room: the (over+1)-th oldest, a window after it came.
      const leaving = this.#answered[over];
      if (leaving === undefined) return null;
      at = Math.max(at, leaving + this.#windowMs);
    }
    return at;
  }

  /** The provider has answered only 429 for too long: every waiting and later request but the urgent ones fails. */
  #giveUp(now: number): void {
    this.#gaveUp ??= new ThrottledTooLongError(now - (this.#throttledSince ?? now));
    for (const entry of this.#queue.filter((e) => !e.urgent)) {
      this.#queue.splice(this.#queue.indexOf(entry), 1);
      entry.fail(this.#gaveUp);
    }
  }

  #wakeAt(at: number, now: number): void {
    if (this.#timer && this.#timer.at <= at) return;
    this.#stopTimer();
    const timer = { at, cancel: new AbortController() };
    this.#timer = timer;
    this.#sleep(at - now, timer.cancel.signal).then(
      () => {
        if (this.#timer === timer) this.#timer = undefined;
        this.#pump();
      },
      () => undefined,
    );
  }

  #stopTimer(): void {
    this.#timer?.cancel.abort();
    this.#timer = undefined;
  }

  #recover(now: number): void {
    const periods = Math.floor((now - this.#lastRecoveryAt) / this.#recoverMs);
    if (this.#slowdown <= 1 || periods < 1) return;
    this.#slowdown = 1 + (this.#slowdown - 1) / 2 ** periods;
    // Within 1% of the full pace is the full pace: starts are no longer spaced (halving never reaches 1 exactly).
    if (this.#slowdown < 1.01) this.#slowdown = 1;
    this.#lastRecoveryAt += periods * this.#recoverMs;
  }
}

/** A request's place in the rate limiter's window. */
export interface RequestTicket {
  /** When it was let through (the limiter's clock, ms). */
  readonly startedAt: number;
  /** Its answer is in, or it failed: from now on it counts for a window more, then frees its place. Idempotent. */
  release(): void;
}

/**
 * How long the limiter waits on a provider that answers nothing but 429 before it fails every request: a few of its
 * Retry-After pauses (each capped at DEFAULT_RETRY_POLICY.maxDelayMs), where one rotation alone gives up after ~1 min.
 */
export const MAX_THROTTLED_MS = 120_000;

/** The rate limiter gave up: the provider has answered every request with 429 for `forMs`. HttpClient names it. */
export class ThrottledTooLongError extends Error {
  constructor(readonly forMs: number) {
    super(`answered only 429 (too many requests) for ${Math.round(forMs / 1000)} s`);
  }
}

/** Vultr's documented limit: 30 requests per second per source IP. */
export const VULTR_REQUESTS_PER_SECOND = 30;
/** However many 429s, the pace never drops below a quarter of the limit: Retry-After does the rest. */
const MAX_SLOWDOWN = 4;

const limiters = new Map<string, RateLimiter>();

/**
 * The limiter of the API at `origin` ("https://api.vultr.com"), one per process: every client, admin key and user key
 * of this process that talks to it draws on the same budget, as the provider counts them together.
 */
export function rateLimiterFor(origin: string): RateLimiter {
  let limiter = limiters.get(origin);
  if (!limiter) limiters.set(origin, (limiter = new RateLimiter()));
  return limiter;
}

/** Hints attached to auth errors; the provider knows what its users should do. */
export interface HttpErrorHints {
  /** 401 in general (bad, revoked or expired key). */
  unauthorized?: DisplayText;
  /** 401 whose message starts "Unauthorized IP address". */
  ipNotAllowed?: DisplayText;
  /** 403. */
  forbidden?: DisplayText;
  /** 404, and answers that are not JSON: e.g. a base URL that misses the API's path. */
  notFound?: DisplayText;
}

/** The header a token travels in: `<header>: <prefix><token>`, e.g. Authorization / "Bearer ", or X-Api-Key / "". */
export interface AuthScheme {
  header: string;
  prefix: string;
}

/** Collaborators that tests (and tuning) may replace. Production uses the defaults. */
export interface HttpClientDeps {
  /** Back-off and Retry-After waits. Default: a real timer. */
  sleep?: SleepFn;
  /** Wall clock in ms, for durations and Retry-After dates. Default: Date.now. */
  now?: () => number;
  /** [0, 1) source for the back-off jitter. Default: Math.random. */
  random?: () => number;
  /** Default: rateLimiterFor(the base URL's origin), shared by every client of that API in this process. */
  limiter?: RateLimiter;
}

export interface HttpClientOptions extends HttpClientDeps {
  /** e.g. "https://api.vultr.com/v2"; request paths are appended to it. */
  baseUrl: string;
  /** Default bearer token (the admin key). A request may pass another one. */
  token: string;
  /** How the token is sent; default `Authorization: Bearer <token>`. */
  auth?: AuthScheme;
  /** Name used in messages: "Vultr rejected the request: …". */
  serviceName: string;
  /** Default: an undici Agent with the connect timeout. Tests pass a MockAgent. */
  dispatcher?: Dispatcher;
  logger?: HttpLogger;
  /** Aborts in-flight requests and waits; surfaces as CancelledError. */
  signal?: AbortSignal;
  /** Clean-up after a cancel: its requests go ahead of every other in the rate limiter (see RateLimiter). */
  urgent?: boolean;
  retry?: Partial<RetryPolicy>;
  timeouts?: Partial<Timeouts>;
  hints?: HttpErrorHints;
}

export interface RequestOptions {
  /** Bearer token for this request instead of the client's (e.g. to check a user's key). */
  token?: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON request body. */
  json?: unknown;
  /**
   * Non-2xx statuses returned as an HttpResponse instead of thrown (no retry applies to them), e.g. [401, 403]
   * to probe a key, or [404] for a delete.
   */
  passStatuses?: readonly number[];
  /** Whether a 2xx must carry a JSON body. Default: true, except for DELETE. */
  expectBody?: boolean;
  /**
   * What the request does, for people: a verb phrase that follows "to" ("list the keys of user 3f0c…"). Error
   * messages use it, never the method and path, which only --debug shows (and the JSON error's `request`).
   */
  what?: string;
}

export interface HttpResponse {
  status: number;
  /** Parsed JSON of a 2xx answer (undefined when empty); for a passed status, its parsed body if JSON. */
  body: unknown;
  /** For a passed non-2xx status: the provider's message, redacted and sanitized; '' when it sent none. */
  errorMessage: string;
  /** How many attempts were made (1 = no retry). */
  attempts: number;
  /**
   * True when an earlier attempt may have been acted on by the server although its answer was lost (reset,
   * timeout, 5xx). A DELETE answered 404 after such an attempt most likely deleted the key itself.
   */
  afterLostAnswer: boolean;
}

const IDEMPOTENT: ReadonlySet<HttpMethod> = new Set<HttpMethod>(['GET', 'PUT', 'DELETE']);

/** Connection errors that happen before a single byte of the request leaves this machine. */
const NOT_SENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'UND_ERR_CONNECT_TIMEOUT']);

/** TLS problems (certificates, a handshake with something that is not TLS): retrying cannot help. */
const TLS_ERROR = /CERT|SELF_SIGNED|ERR_TLS|ERR_SSL|^EPROTO$|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|HOSTNAME_MISMATCH/;

/** The largest answer keyrot reads: its answers are small JSON documents; a bigger one is not retried. */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

type AttemptOutcome =
  | { kind: 'response'; status: number; headers: IncomingHttpHeaders; text: string }
  | { kind: 'failed'; label: string; code: string | undefined; notSent: boolean; error: unknown }
  | { kind: 'too-large'; status: number }
  | { kind: 'cancelled' };

/** An HttpClient for a provider: its admin key, base URL and tuning from `options`, its name and hints from `service`. */
export function providerHttpClient(options: ProviderOptions, deps: HttpClientDeps, service: { name: string; hints: HttpErrorHints; auth?: AuthScheme }): HttpClient {
  return new HttpClient({
    ...deps,
    baseUrl: options.baseUrl,
    token: options.adminKey,
    ...(service.auth ? { auth: service.auth } : {}),
    serviceName: service.name,
    dispatcher: options.dispatcher,
    logger: options.logger,
    signal: options.signal,
    urgent: options.urgent,
    retry: options.retry,
    timeouts: options.timeouts,
    hints: service.hints,
  });
}

export class HttpClient {
  readonly #base: URL;
  readonly #token: string;
  readonly #auth: AuthScheme;
  readonly #service: string;
  readonly #logger: HttpLogger | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #urgent: boolean;
  readonly #retry: RetryPolicy;
  readonly #timeouts: Timeouts;
  readonly #hints: HttpErrorHints;
  readonly #sleep: SleepFn;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #limiter: RateLimiter;
  #dispatcher: Dispatcher | undefined;
  readonly #ownsDispatcher: boolean;

  constructor(options: HttpClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new UsageError(say`Invalid ${displayText(options.serviceName)} API base URL: ${displayText(sanitizeForDisplay(options.baseUrl))}`);
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') {
      throw new UsageError(say`The ${displayText(options.serviceName)} API base URL must start with https:// or http://`);
    }
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    base.search = '';
    base.hash = '';
    this.#base = base;
    this.#token = options.token;
    this.#auth = options.auth ?? { header: 'authorization', prefix: 'Bearer ' };
    this.#service = options.serviceName;
    this.#logger = options.logger;
    this.#signal = options.signal;
    this.#urgent = options.urgent ?? false;
    this.#retry = { ...DEFAULT_RETRY_POLICY, ...definedOnly(options.retry) };
    this.#retry.attempts = Math.max(1, Math.floor(this.#retry.attempts));
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...definedOnly(options.timeouts) };
    this.#hints = options.hints ?? {};
    this.#sleep = options.sleep ?? realSleep;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#limiter = options.limiter ?? rateLimiterFor(base.origin);
    this.#dispatcher = options.dispatcher;
    this.#ownsDispatcher = options.dispatcher === undefined;
  }

  /** Closes the default Agent if this client created one; an injected dispatcher is left to its owner. */
  async close(): Promise<void> {
    if (this.#ownsDispatcher && this.#dispatcher) await this.#dispatcher.close();
    this.#dispatcher = undefined;
  }

  /**
   * Sends one logical request, with the retries its method allows. Resolves for 2xx and `passStatuses`.
   * Throws AuthError (401), PermissionError (403), NotFoundError (404), UsageError (other 4xx),
   * ProviderUnavailableError (retries exhausted, 501, network), ProviderResponseError (2xx without the
   * expected JSON), CreateOutcomeUnknownError (non-idempotent request whose answer was lost after sending),
   * CancelledError (the client's signal aborted).
   */
  async request(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<HttpResponse> {
    const relative = this.#relativePath(path, options.query);
    // The one place a request's URL is made: it never leaves the base URL (a key goes with every request).
    const url = urlUnder(this.#base, relative)?.toString();
    if (url === undefined) {
      throw new UsageError(
        say`keyrot refused to send a request to "${displayText(sanitizeForDisplay(relative, 100))}": it is not a path under the ${displayText(this.#service)} API base URL ${displayText(this.#base.href)}.`,
        {
          hint: say`Check the provider definition (--provider-file): its paths are paths under the base URL, such as "/keys".`,
        },
      );
    }
    const token = options.token ?? this.#token;
    const secrets = [this.#token, token];
    const idempotent = IDEMPOTENT.has(method);
    const expectBody = options.expectBody ?? method !== 'DELETE';
    // --debug names the proxy a request goes through (keyrot's own dispatcher only: an injected one routes itself).
    // A proxy variable keyrot cannot use is bad input (exit 2), said before any attempt, not retried as a network failure.
    const proxy = this.#ownsDispatcher ? checkedProxyFor(new URL(url), process.env) : null;
    const label = `${method} ${relative}${proxy === null ? '' : ` via proxy ${proxyLabel(proxy)}`}`;
    const what = options.what ?? 'handle a request';
    const headers: Record<string, string> = {
      accept: 'application/json',
      [this.#auth.header.toLowerCase()]: `${this.#auth.prefix}${token}`,
      'user-agent': 'keyrot',
    };
    let body: string | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    }
    const { attempts } = this.#retry;
    let afterLostAnswer = false;

    for (let attempt = 1; ; attempt++) {
      const ticket = await this.#limiter.acquire(this.#signal, this.#urgent).catch((err: unknown) => {
        if (!(err instanceof ThrottledTooLongError)) throw err;
        throw new ProviderUnavailableError(say`${displayText(this.#service)} did not ${displayText(what)}: it has ${displayText(err.message, 2000)}, so keyrot stopped waiting.`, {
          hint: say`Another client on this IP address may be using up ${displayText(this.#service)}'s rate limit: try again later.`,
          data: { request: label, throttledForMs: err.forMs },
        });
      });
      const started = this.#now();
      let outcome: AttemptOutcome;
      try {
        outcome = await this.#attempt(method, url, headers, body);
      } finally {
        ticket.release();
      }
      const elapsed = Math.max(0, Math.round(this.#now() - started));

      if (outcome.kind === 'cancelled') {
        this.#log(`${label} → cancelled (${elapsed} ms)`, secrets);
        throw idempotent
          ? new CancelledError(say`Cancelled.`)
          : new CancelledError(say`Cancelled while waiting for ${displayText(this.#service)} to ${displayText(what)}: the key may or may not have been created.`, {
              hint: say`List the user's keys to see whether it was.`,
              data: { outcomeUnknown: true },
            });
      }

      if (outcome.kind === 'too-large') {
        this.#log(`${label} → ${outcome.status}, answer over ${MAX_ANSWER_BYTES} bytes (${elapsed} ms)`, secrets);
        // Not transient: the same request would get the same answer. For a create it is a 2xx without a readable key.
        throw new ProviderResponseError(
          say`${displayText(this.#service)}'s answer when asked to ${displayText(what)} is larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB (HTTP ${outcome.status}); keyrot stopped reading it.`,
          {
            data: { status: outcome.status, request: label },
          },
        );
      }
      let lastProblem: string;
      let retryAfterMs: number | undefined;
      if (outcome.kind === 'failed') {
        this.#log(`${label} → ${outcome.label} (${elapsed} ms)`, secrets);
        lastProblem = outcome.label;
        if (outcome.code === 'UND_ERR_INVALID_ARG') {
          throw new UsageError(say`Could not ask ${displayText(this.#service)} to ${displayText(what)}: the API key or a parameter contains characters not allowed in HTTP.`, {
            cause: outcome.error,
          });
        }
        if (outcome.code === 'KEYROT_PROXY_AUTH') {
          // Asking again with the same credentials gets the same 407.
          throw new UsageError(say`Could not reach ${displayText(this.#service)}: ${displayText(outcome.label)}.`, {
            hint: say`Put the user and password the proxy accepts in the proxy variable (http://user:password@proxy:port, percent-encoded).`,
            cause: outcome.error,
          });
        }
        if (outcome.code !== undefined && TLS_ERROR.test(outcome.code)) {
          throw new ProviderUnavailableError(say`Could not reach ${displayText(this.#service)}: TLS problem (${displayText(outcome.code)}).`, {
            hint: say`Check the base URL and any proxy intercepting HTTPS.`,
            data: { lastError: outcome.code },
            cause: outcome.error,
          });
        }
        if (!outcome.notSent) {
          if (!idempotent) throw this.#outcomeUnknown(method, what, outcome.label, outcome.error, secrets);
          afterLostAnswer = true;
        }
      } else {
        const { status } = outcome;
        this.#log(`${label} → ${status} (${elapsed} ms)`, secrets);
        if (status !== 429) this.#limiter.answered();
        const passed = options.passStatuses?.includes(status) ?? false;
        if ((status >= 200 && status < 300) || passed) {
          return this.#success(outcome, what, attempt, afterLostAnswer, expectBody && !passed, secrets);
        }
        const retryable = status === 429 || (status >= 500 && status !== 501);
        const message = providerMessage(outcome.text, secrets);
        if (status >= 500 && !idempotent) {
          throw this.#outcomeUnknown(method, what, `HTTP ${status}${message ? `: ${message}` : ''}`, undefined, secrets);
        }
        if (!retryable) throw this.#statusError(status, message, what, label, attempt);
        if (status >= 500) afterLostAnswer = true;
        lastProblem = `HTTP ${status}${message ? ` (${message})` : ''}`;
        if (status === 429 || status === 503) retryAfterMs = this.#retryAfterMs(outcome.headers['retry-after']);
      }

      if (attempt >= attempts) {
        throw new ProviderUnavailableError(
          say`${displayText(this.#service)} did not ${displayText(what)} after ${attempt} attempt${attempt === 1 ? say`` : say`s`} (last: ${displayText(lastProblem)}).`,
          {
            hint: lastProblem.startsWith('the proxy ')
              ? say`Check the proxy, or the proxy variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), then try again.`
              : say`Check the network connection and ${displayText(this.#service)}'s status page, then try again.`,
            data: { attempts: attempt, last: lastProblem, request: label },
            cause: outcome.kind === 'failed' ? outcome.error : undefined,
          },
        );
      }
      const delay = retryAfterMs ?? this.#backoffMs(attempt);
      this.#log(`${label}: retrying in ${delay} ms${retryAfterMs === undefined ? '' : ' (Retry-After)'} (attempt ${attempt + 1} of ${attempts}) after ${lastProblem}`, secrets);
      // A 429 is about the pace of every request to this API, not this one: all of them wait it out, in the limiter.
      // An urgent request, which the limiter's pause does not hold, waits it out itself (until its deadline).
      if (outcome.kind === 'response' && outcome.status === 429) this.#limiter.throttled(delay, ticket);
      if (!(outcome.kind === 'response' && outcome.status === 429) || this.#urgent) await sleepOrCancel(this.#sleep, delay, this.#signal);
    }
  }

  #relativePath(path: string, query: RequestOptions['query']): string {
    if (!path.startsWith('/')) throw new TypeError(`HttpClient paths start with "/": ${path}`);
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) params.append(key, String(value));
    }
    const search = params.toString();
    return search ? `${path}${path.includes('?') ? '&' : '?'}${search}` : path;
  }

  async #attempt(method: HttpMethod, url: string, headers: Record<string, string>, body: string | undefined): Promise<AttemptOutcome> {
    const outer = this.#signal;
    if (outer?.aborted) return { kind: 'cancelled' };
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('request timed out'));
    }, this.#timeouts.totalMs);
    const onAbort = (): void => controller.abort(outer?.reason);
    outer?.addEventListener('abort', onAbort, { once: true });
    const timeoutLabel = `timeout after ${this.#timeouts.totalMs} ms`;
    try {
      let res: Dispatcher.ResponseData;
      try {
        res = await requestWith(this.#getDispatcher(), url, {
          method,
          headers,
          body,
          signal: controller.signal,
        });
      } catch (error) {
        if (outer?.aborted) return { kind: 'cancelled' };
        if (timedOut) return { kind: 'failed', label: timeoutLabel, code: 'TIMEOUT', notSent: false, error };
        const code = errorCode(error);
        // A proxy's failure is named by the proxy (ProxyConnectError carries no credentials), not as a network code.
        const viaProxy = error instanceof ProxyConnectError ? error : undefined;
        return {
          kind: 'failed',
          label: viaProxy?.message ?? networkLabel(code),
          code: viaProxy?.code ?? code,
          // A failed tunnel sent nothing to the API.
          notSent: viaProxy !== undefined || (code !== undefined && NOT_SENT_CODES.has(code)),
          error,
        };
      }
      let text = '';
      try {
        text = await readCapped(res.body, MAX_ANSWER_BYTES);
      } catch (error) {
        if (error instanceof AnswerTooLargeError) return { kind: 'too-large', status: res.statusCode };
        if (outer?.aborted) return { kind: 'cancelled' };
        // An error answer whose body broke still tells its status; a success whose body broke lost its data.
        if (res.statusCode >= 200 && res.statusCode < 300) {
          const code = timedOut ? 'TIMEOUT' : errorCode(error);
          const what = timedOut ? timeoutLabel : networkLabel(code);
          return { kind: 'failed', label: `${what} while reading the ${res.statusCode} answer`, code, notSent: false, error };
        }
      }
      return { kind: 'response', status: res.statusCode, headers: res.headers, text };
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    }
  }

  #getDispatcher(): Dispatcher {
    // Behind an egress proxy (HTTPS_PROXY and the like, as curl reads them) requests go through it; else direct.
    const options = { connect: { timeout: this.#timeouts.connectMs } };
    this.#dispatcher ??= PROXY_VARIABLES.some((name) => process.env[name]?.trim()) ? new ProxyRouter(process.env, options) : new Agent(options);
    return this.#dispatcher;
  }

  #success(outcome: { status: number; text: string }, what: string, attempts: number, afterLostAnswer: boolean, expectBody: boolean, secrets: string[]): HttpResponse {
    const { status, text } = outcome;
    const ok = status >= 200 && status < 300;
    const base = { status, attempts, afterLostAnswer };
    if (!ok) {
      return { ...base, body: tryParseJson(text), errorMessage: providerMessage(text, secrets) };
    }
    if (text.trim() === '') {
      if (expectBody) {
        throw new ProviderResponseError(say`${displayText(this.#service)} sent an empty answer when asked to ${displayText(what)} (HTTP ${status}).`, {
          data: { status },
        });
      }
      return { ...base, body: undefined, errorMessage: '' };
    }
    const body = tryParseJson(text);
    if (body === undefined) {
      if (!expectBody) return { ...base, body: undefined, errorMessage: '' };
      throw new ProviderResponseError(say`${displayText(this.#service)} sent an answer that is not JSON when asked to ${displayText(what)} (HTTP ${status}).`, {
        hint: this.#hints.notFound ?? say`A proxy may be intercepting the request; check the base URL.`,
        data: { status },
      });
    }
    return { ...base, body, errorMessage: '' };
  }

  #statusError(status: number, message: string, what: string, label: string, attempts: number): Error {
    const data = { status, method: label.split(' ')[0], request: label, providerMessage: message || undefined, attempts };
    const service = this.#service;
    if (status === 401) {
      const ipNotAllowed = /^Unauthorized IP address/i.test(message);
      return new AuthError(say`${displayText(service)} rejected the API key: ${displayText(message || 'HTTP 401 Unauthorized')}`, {
        hint: ipNotAllowed ? this.#hints.ipNotAllowed : this.#hints.unauthorized,
        facts: { status },
        data: { ...data, reason: ipNotAllowed ? 'ip-not-allowed' : 'rejected' },
      });
    }
    if (status === 403) {
      return new PermissionError(say`${displayText(service)} denied permission to ${displayText(what)}${message ? say`: ${displayText(message)}` : say``}`, {
        hint: this.#hints.forbidden,
        data,
        facts: { status },
      });
    }
    if (status === 404) {
      return new NotFoundError(say`${displayText(service)} found nothing when asked to ${displayText(what)}${message ? say`: ${displayText(message)}` : say``}`, {
        hint: this.#hints.notFound,
        data,
        facts: { status },
      });
    }
    if (status >= 400 && status < 500) {
      return new UsageError(say`${displayText(service)} rejected the request to ${displayText(what)}: ${displayText(message || `HTTP ${status}`)}`, { data, facts: { status } });
    }
    if (status >= 500) {
      return new ProviderUnavailableError(say`${displayText(service)} could not ${displayText(what)}: HTTP ${status}${message ? say` (${displayText(message)})` : say``}`, {
        data,
        facts: { status },
      });
    }
    return new ProviderResponseError(say`${displayText(service)} answered the request to ${displayText(what)} with an unexpected HTTP ${status}.`, { data, facts: { status } });
  }

  #outcomeUnknown(method: HttpMethod, what: string, problem: string, cause: unknown, secrets: string[]): CreateOutcomeUnknownError {
    // A POST creates a key; any other change (a PATCH moving an expiry) may or may not have taken effect.
    const create = method === 'POST';
    const clean = (text: string): DisplayText => displayText(redact(text, secrets));
    return new CreateOutcomeUnknownError(
      say`${clean(this.#service)}'s answer when asked to ${clean(what)} was lost (${clean(problem)}): ${create ? say`the key may or may not have been created` : say`the change may or may not have taken effect`}.`,
      {
        hint: create ? say`Do not simply retry: list the user's keys to see whether it was created, and delete any key you cannot use.` : say`Check the key at the provider before going on.`,
        data: { last: problem },
        cause,
      },
    );
  }

  #retryAfterMs(header: string | string[] | undefined): number | undefined {
    const value = Array.isArray(header) ? header[0] : header;
    if (value === undefined) return undefined;
    const trimmed = value.trim();
    let ms: number;
    if (/^\d+$/.test(trimmed)) {
      ms = Number(trimmed) * 1000;
    } else {
      const at = Date.parse(trimmed);
      if (Number.isNaN(at)) return undefined;
      ms = at - this.#now();
    }
    return Math.min(Math.max(0, Math.ceil(ms)), this.#retry.maxDelayMs);
  }

  /** Full jitter: uniform in [0, min(max, base·2^(n-1))). */
  #backoffMs(failedAttempt: number): number {
    const { baseDelayMs, maxDelayMs } = this.#retry;
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (failedAttempt - 1));
    return Math.floor(this.#random() * ceiling);
  }

  #log(message: string, secrets: string[]): void {
    this.#logger?.debug(redact(message, secrets));
  }
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function tryParseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The provider's message from an error body: `{"error": "..."}`, `{"message": "..."}`, `{"detail": "..."}`, a short plain-text body, or '' (empty body,
 * HTML from a proxy, or JSON without a message). Redacted and sanitized: it ends up on the user's terminal.
 */
function providerMessage(text: string, secrets: string[]): string {
  const trimmed = text.trim();
  if (trimmed === '') return '';
  const parsed = tryParseJson(trimmed);
  let message = '';
  if (parsed !== undefined) {
    if (typeof parsed === 'object' && parsed !== null) {
      const fields = parsed as Record<string, unknown>;
      // `error` may be the message itself or, in an envelope (Kubeadapt's current docs), `{code, message}`.
      const error = fields['error'];
      const inner = typeof error === 'object' && error !== null && !Array.isArray(error) ? (error as Record<string, unknown>)['message'] : error;
      const candidate = inner ?? fields['message'] ?? fields['detail'];
      if (typeof candidate === 'string') message = candidate;
    } else if (typeof parsed === 'string') {
      message = parsed;
    }
  } else if (!trimmed.startsWith('<') && trimmed.length <= 300) {
    message = trimmed;
  }
  return sanitizeForDisplay(redact(message, secrets));
}

/** The most specific error code of an undici/Node network error (it may sit on a cause or inside an aggregate). */
function errorCode(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  let current: unknown = error;
  let fallback: string | undefined;
  while (typeof current === 'object' && current !== null && !seen.has(current)) {
    seen.add(current);
    const { code } = current as { code?: unknown };
    if (typeof code === 'string') {
      // undici's generic socket code hides the system one (ECONNRESET…) on its cause.
      if (code !== 'UND_ERR_SOCKET') return code;
      fallback ??= code;
    }
    if (current instanceof AggregateError && current.errors.length > 0) {
      current = current.errors[0];
      continue;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return fallback;
}

function networkLabel(code: string | undefined): string {
  if (code === undefined) return 'network error';
  return code === 'UND_ERR_SOCKET' ? 'connection closed (UND_ERR_SOCKET)' : code;
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError(say`Cancelled.`);
}

async function sleepOrCancel(sleep: SleepFn, ms: number, signal: AbortSignal | undefined): Promise<void> {
  throwIfCancelled(signal);
  try {
    await sleep(ms, signal);
  } catch (error) {
    if (signal?.aborted) throw new CancelledError(say`Cancelled.`);
    throw error;
  }
  throwIfCancelled(signal);
}

class AnswerTooLargeError extends Error {}

/** The body as text, or AnswerTooLargeError as soon as it passes `limit` bytes (the rest is never buffered). */
async function readCapped(body: AsyncIterable<Buffer | Uint8Array> & { destroy?(): unknown }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      body.destroy?.();
      throw new AnswerTooLargeError();
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}
