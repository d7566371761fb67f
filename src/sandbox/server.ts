// The embedded Vultr-compatible API server: the demo, the end-to-end tests and users rehearsing a rotation
// run keyrot against it instead of the real account. It follows the public Vultr API v2, and where the public
// sources disagree (create status, date_expire of non-expiring keys, user status) it serves every variant so
// clients are forced to accept them all. It never writes to stdout or stderr: the caller owns the terminal.
//
// This is a test double: it keeps key plaintexts and hands them out through the unauthenticated control API
// (/__sandbox), which is why it refuses to listen on anything but loopback.
import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { UsageError } from '../errors.js';
import { FaultSet } from './faults.js';
import type { FaultAction, FaultSpec } from './faults.js';
import { FIXTURE_USERS, generateKeyPlaintext, KeyFactory, seedUsers } from './fixtures.js';
import type { KeyRecord, UserRecord } from './fixtures.js';
import { say, displayText } from '../ui/display-text.js';

export { parseFaultSpec } from './faults.js';
export type { FaultAction, FaultSpec } from './faults.js';

export interface SandboxOptions {
  /** 0 (default) picks any free port. */
  port?: number;
  /** Default 127.0.0.1; must be a loopback address. */
  host?: string;
  /** Total users, default 6, at least the number of fixture users (4). */
  users?: number;
  /** API keys of each generated user (user5@ onwards), default 0, at most 10: expired, due soon, later, never. */
  keysPerUser?: number;
  /** The admin key's plaintext; default random. */
  adminKey?: string;
  /** Requests per source IP in any sliding second before 429; default 30; 0 disables. */
  rateLimitPerSecond?: number;
  /**
   * The answer to a user-key create (POST /users/{id}/apikeys): 'plaintext' (default), 202 with the new key as
   * Vultr's guides describe it; 'empty', 202 with no body, as Vultr's OpenAPI document describes it (the key is
   * created all the same). POST /apikeys always answers with its body, as the spec gives it one.
   */
  createAnswer?: CreateAnswer;
  /**
   * How to answer where Vultr's OpenAPI document leaves the answer open, so clients meet every variant:
   * `notFound` (404 default, or 400: the spec lists only 400 and 401 on the key paths) for an unknown user or key
   * id; `forbidden` (403 default, or 401 with an error body) for a key without manage_users; `keyListMeta`
   * (false default) adds a `meta` object to key lists.
   */
  dialect?: Partial<Dialect>;
  /**
   * Sees every /v2 exchange in-process, bodies included (contract tests check them against Vultr's OpenAPI
   * document). It runs inside the sandbox's process only: nothing of it reaches a log or the control API.
   */
  onExchange?: (exchange: Exchange) => void;
  faults?: FaultSpec[];
}

export type CreateAnswer = 'plaintext' | 'empty';

/** One /v2 request and its answer, as the client sent and got it. */
export interface Exchange {
  method: string;
  /** Below /v2, without the query string: "/users/abc/apikeys". */
  path: string;
  query: Record<string, string>;
  requestBody: string;
  status: number;
  /** The answer's body as sent ('' when none). */
  responseBody: string;
  /** The fault that shaped the answer, if any (such answers are wrong on purpose). */
  fault?: FaultAction;
}

export interface Dialect {
  notFound: 404 | 400;
  forbidden: 403 | 401;
  keyListMeta: boolean;
}
export const CREATE_ANSWERS: readonly CreateAnswer[] = ['plaintext', 'empty'];

export interface SnapshotKey {
  id: string;
  name: string;
  plaintext: string;
  expire: boolean;
  /** Vultr-formatted expiry, or null when the key never expires. */
  date_expire: string | null;
  allowedIps: string[];
}

export interface SnapshotUser {
  id: string;
  email: string;
  acls: string[];
  /** As the API shows it: "2026-11-01T10:00:00+00:00", or "" when never active. */
  last_activity: string;
  keys: SnapshotKey[];
}

export interface SandboxSnapshot {
  users: SnapshotUser[];
}

/** One /v2 (or unknown-route) request. Never headers or bodies: they carry keys. */
export interface RequestLogEntry {
  method: string;
  /** The URL path without the query string, e.g. "/v2/users". */
  path: string;
  /** The status answered; 0 when the connection was dropped without an answer. */
  status: number;
  /** When the request arrived (ISO 8601, milliseconds). */
  at: string;
  /** The authenticated caller, null when the request did not authenticate. */
  userEmail: string | null;
  /** The fault that applied to this request, if any. */
  fault?: FaultAction;
}

export interface Sandbox {
  /** The API base URL, e.g. "http://127.0.0.1:PORT/v2". */
  url: string;
  /** The control API base URL, e.g. "http://127.0.0.1:PORT/__sandbox". */
  controlUrl: string;
  adminKey: string;
  /** Stops listening and ends every connection (keep-alive and in-flight ones). Idempotent. */
  close(): Promise<void>;
  snapshot(): SandboxSnapshot;
  /** Throws UsageError on an invalid spec. */
  addFault(f: FaultSpec): void;
  clearFaults(): void;
  requests(): RequestLogEntry[];
}

/** Starts a sandbox on loopback. Throws UsageError for invalid options or a port already in use. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const settings = resolveSettings(options);
  const core = new SandboxCore(settings);
  for (const fault of options.faults ?? []) core.faults.add(fault);
  const server = createServer((req, res) => core.handle(req, res));
  await listen(server, settings.port, settings.host);
  const { port } = server.address() as AddressInfo;
  const origin = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}`;
  let closed: Promise<void> | undefined;
  return {
    url: `${origin}${API_PREFIX}`,
    controlUrl: `${origin}${CONTROL_PREFIX}`,
    adminKey: settings.adminKey,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        core.shutdown.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
    snapshot: () => snapshotOf(core.state),
    addFault: (f) => core.faults.add(f),
    clearFaults: () => core.faults.clear(),
    requests: () => core.log.entries(),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Settings

const API_PREFIX = '/v2';
const CONTROL_PREFIX = '/__sandbox';
const MAX_BODY_BYTES = 64 * 1024;
const MAX_LOG_ENTRIES = 10_000;
const PER_PAGE_DEFAULT = 100;
const PER_PAGE_MAX = 500;
const MAX_KEY_NAME = 255;

interface Settings {
  port: number;
  host: string;
  users: number;
  keysPerUser: number;
  adminKey: string;
  rateLimitPerSecond: number;
  createAnswer: CreateAnswer;
  dialect: Dialect;
  onExchange: ((exchange: Exchange) => void) | undefined;
}

function resolveSettings(options: SandboxOptions): Settings {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host)) {
    throw new UsageError(say`The sandbox only listens on loopback, not "${displayText(host)}".`, {
      hint: say`Its control API is unauthenticated and reveals keys; use 127.0.0.1, ::1 or localhost.`,
    });
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(say`Invalid sandbox port ${port}.`);
  const users = options.users ?? 6;
  if (!Number.isInteger(users) || users < FIXTURE_USERS.length) {
    throw new UsageError(say`The sandbox needs a whole number of users, at least ${FIXTURE_USERS.length}; got ${users}.`);
  }
  const keysPerUser = options.keysPerUser ?? 0;
  if (!Number.isInteger(keysPerUser) || keysPerUser < 0 || keysPerUser > 10) {
    throw new UsageError(say`The sandbox's keys per generated user must be a whole number from 0 to 10; got ${keysPerUser}.`);
  }
  const rateLimitPerSecond = options.rateLimitPerSecond ?? 30;
  if (!Number.isInteger(rateLimitPerSecond) || rateLimitPerSecond < 0) {
    throw new UsageError(say`The sandbox rate limit must be a whole number (0 disables it); got ${rateLimitPerSecond}.`);
  }
  const createAnswer = options.createAnswer ?? 'plaintext';
  if (!CREATE_ANSWERS.includes(createAnswer)) {
    throw new UsageError(say`The sandbox create answer must be one of ${displayText(CREATE_ANSWERS.join(', '), 2000)}; got ${displayText(String(createAnswer))}.`);
  }
  if (options.adminKey !== undefined && !/^\S+$/.test(options.adminKey)) {
    throw new UsageError(say`The sandbox admin key must be non-empty and hold no spaces.`);
  }
  return {
    port,
    host,
    users,
    keysPerUser,
    adminKey: options.adminKey ?? generateKeyPlaintext(),
    rateLimitPerSecond,
    createAnswer,
    dialect: { notFound: 404, forbidden: 403, keyListMeta: false, ...options.dialect },
    onExchange: options.onExchange,
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(host);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        err.code === 'EADDRINUSE'
          ? new UsageError(say`Port ${port} on ${displayText(host)} is already in use.`, {
              hint: say`Pick another port, or 0 for any free port.`,
              cause: err,
            })
          : err,
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// State

/** A handler's way to end a request with the API's error body. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

class SandboxState {
  readonly startedAt = new Date();
  readonly keyFactory = new KeyFactory();
  readonly users: UserRecord[];
  private readonly byId: Map<string, UserRecord>;

  constructor(private readonly settings: Settings) {
    this.users = seedUsers({ users: settings.users, keysPerUser: settings.keysPerUser, adminKey: settings.adminKey, now: this.startedAt, keys: this.keyFactory });
    this.byId = new Map(this.users.map((user) => [user.id, user]));
  }

  /** Deletes a user (DELETE /users/{id}) with its keys. */
  removeUser(user: UserRecord): void {
    this.users.splice(this.users.indexOf(user), 1);
    this.byId.delete(user.id);
  }

  user(id: string): UserRecord {
    const user = this.byId.get(id);
    if (user === undefined) throw new ApiError(this.settings.dialect.notFound, this.settings.dialect.notFound === 400 ? 'Invalid user ID.' : 'user not found');
    return user;
  }

  key(owner: UserRecord, keyId: string): KeyRecord {
    const key = owner.keys.find((k) => k.id === keyId);
    if (key === undefined) throw new ApiError(this.settings.dialect.notFound, this.settings.dialect.notFound === 400 ? 'Invalid API key ID.' : 'api key not found');
    return key;
  }

  findByPlaintext(plaintext: string): { user: UserRecord; key: KeyRecord } | undefined {
    for (const user of this.users) {
      const key = user.keys.find((k) => k.plaintext === plaintext);
      if (key !== undefined) return { user, key };
    }
    return undefined;
  }

  findKey(keyId: string): KeyRecord | undefined {
    for (const user of this.users) {
      const key = user.keys.find((k) => k.id === keyId);
      if (key !== undefined) return key;
    }
    return undefined;
  }
}

/** At most `limit` admitted requests per source IP in any sliding second. */
class RateLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(private readonly limit: number) {}

  admit(ip: string, nowMs: number): boolean {
    if (this.limit === 0) return true;
    const recent = (this.hits.get(ip) ?? []).filter((t) => t > nowMs - 1000);
    // Rejected requests are not counted: a client that waits the advertised Retry-After must get through.
    const admitted = recent.length < this.limit;
    if (admitted) recent.push(nowMs);
    this.hits.set(ip, recent);
    return admitted;
  }
}

class RequestLog {
  private readonly items: RequestLogEntry[] = [];

  add(entry: RequestLogEntry): void {
    this.items.push(entry);
    // A rehearsal may run for hours; keep the newest entries only.
    if (this.items.length > MAX_LOG_ENTRIES) this.items.splice(0, this.items.length - MAX_LOG_ENTRIES);
  }

  entries(): RequestLogEntry[] {
    return this.items.map((entry) => ({ ...entry }));
  }

  clear(): void {
    this.items.length = 0;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Request handling

interface Reply {
  status: number;
  /** Serialised as JSON. */
  json?: unknown;
  /** Sent as is, when `json` is absent. */
  raw?: string;
  headers?: Record<string, string>;
}

type Params = Readonly<Record<string, string>>;

interface Route<C> {
  method: string;
  /** Segments starting with ":" capture a parameter. */
  pattern: string;
  handle(ctx: C): Reply;
}

interface ApiContext {
  state: SandboxState;
  settings: Settings;
  caller: UserRecord;
  params: Params;
  query: URLSearchParams;
  body: string;
  now: Date;
}

interface ApiRoute extends Route<ApiContext> {
  /** Vultr's user endpoints need root or the manage_users ACL. */
  needsManageUsers: boolean;
}

interface ControlContext {
  core: SandboxCore;
  params: Params;
  body: string;
}

class SandboxCore {
  readonly state: SandboxState;
  readonly faults = new FaultSet();
  readonly log = new RequestLog();
  /** Aborted by close(): pending delays stop instead of holding the process open. */
  readonly shutdown = new AbortController();
  private readonly limiter: RateLimiter;

  constructor(readonly settings: Settings) {
    this.state = new SandboxState(settings);
    this.limiter = new RateLimiter(settings.rateLimitPerSecond);
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.dispatch(req, res).catch(() => {
      // Shutdown, a client gone mid-request, or a sandbox bug: nobody is left to read a clean answer
      // except in the last case, which still deserves the API's error shape.
      if (this.shutdown.signal.aborted || res.headersSent || res.destroyed) res.destroy();
      else send(res, errorReply(500, 'internal sandbox error'));
    });
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivedAt = new Date().toISOString();
    const method = (req.method ?? 'GET').toUpperCase();
    // Concatenated rather than resolved, so a path starting with "//" stays a path, not a host.
    const url = new URL(`http://sandbox.invalid${req.url ?? '/'}`);
    if (underPrefix(url.pathname, CONTROL_PREFIX) !== null) {
      await this.dispatchControl(req, res, method, url);
      return;
    }
    const apiPath = underPrefix(url.pathname, API_PREFIX);
    const fault = apiPath === null ? undefined : this.faults.take(method, apiPath);
    let requestBody = '';
    const record = (status: number, userEmail: string | null, reply?: Reply): void => {
      this.log.add({ method, path: url.pathname, status, at: arrivedAt, userEmail, ...(fault ? { fault: fault.action } : {}) });
      if (apiPath !== null) {
        this.settings.onExchange?.({
          method,
          path: apiPath,
          query: Object.fromEntries(url.searchParams),
          requestBody,
          status,
          responseBody: reply ? (reply.json !== undefined ? JSON.stringify(reply.json) : (reply.raw ?? '')) : '',
          ...(fault ? { fault: fault.action } : {}),
        });
      }
    };

    if (fault?.action === 'drop-before') {
      req.socket.destroy();
      record(0, null);
      return;
    }
    const body = await readBody(req);
    requestBody = body ?? '';
    if (fault?.action === 'status' || fault?.action === 'malformed') {
      const reply = fault.action === 'status' ? statusFaultReply(fault) : MALFORMED_REPLY;
      send(res, reply);
      record(reply.status, null, reply);
      return;
    }
    if (fault?.action === 'delay') await this.pause(fault.delayMs);
    const { reply, userEmail } = this.answerApi(req, method, url, apiPath, body);
    if (fault?.action === 'drop-after') {
      req.socket.destroy();
      record(0, userEmail);
      return;
    }
    if (fault?.action === 'delay-after') await this.pause(fault.delayMs);
    // empty-answer: acted on (a create really creates), answered as the spec documents it: 202, no body.
    const sent = fault?.action === 'empty-answer' && reply.status >= 200 && reply.status < 300 ? EMPTY_ACCEPTED : reply;
    send(res, sent);
    record(sent.status, userEmail, sent);
  }

  /** Rate limit, route, authenticate, authorise, act: in that order, like the real API. */
  private answerApi(req: IncomingMessage, method: string, url: URL, apiPath: string | null, body: string | undefined): { reply: Reply; userEmail: string | null } {
    const now = new Date();
    const ip = clientIp(req);
    if (!this.limiter.admit(ip, now.getTime())) {
      return { reply: errorReply(429, 'Rate limit exceeded.', { 'Retry-After': '1' }), userEmail: null };
    }
    const match = apiPath === null ? undefined : resolveRoute(API_ROUTES, method, apiPath);
    if (match === undefined) return { reply: errorReply(404, 'route not found'), userEmail: null };
    if ('allowed' in match) {
      return { reply: errorReply(405, 'method not allowed', { Allow: match.allowed.join(', ') }), userEmail: null };
    }
    const auth = this.authenticate(req, ip, now);
    if (typeof auth === 'string') return { reply: errorReply(401, auth), userEmail: null };
    auth.lastActivity = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const userEmail = auth.email;
    if (match.route.needsManageUsers && !auth.acls.includes('manage_users')) {
      return { reply: errorReply(this.settings.dialect.forbidden, "Unauthorized: the API key's user lacks the manage_users permission."), userEmail };
    }
    if (body === undefined) return { reply: errorReply(413, 'request body too large'), userEmail };
    const ctx: ApiContext = {
      state: this.state,
      settings: this.settings,
      caller: auth,
      params: match.params,
      query: url.searchParams,
      body,
      now,
    };
    return { reply: runHandler(() => match.route.handle(ctx)), userEmail };
  }

  /** The key's owner, or the 401 message. */
  private authenticate(req: IncomingMessage, ip: string, now: Date): UserRecord | string {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    const found = token === undefined ? undefined : this.state.findByPlaintext(token);
    if (found === undefined) return 'Invalid API token.';
    const { key, user } = found;
    if (key.allowedIps.length > 0 && !key.allowedIps.includes(ip)) return `Unauthorized IP address: ${ip}`;
    if (key.expire && key.dateExpire !== null && key.dateExpire.getTime() <= now.getTime()) return 'Invalid API token.';
    return user;
  }

  private async dispatchControl(req: IncomingMessage, res: ServerResponse, method: string, url: URL): Promise<void> {
    const body = await readBody(req);
    const match = resolveRoute(CONTROL_ROUTES, method, underPrefix(url.pathname, CONTROL_PREFIX) ?? '/');
    let reply: Reply;
    if (match === undefined) reply = errorReply(404, 'control route not found');
    else if ('allowed' in match) reply = errorReply(405, 'method not allowed', { Allow: match.allowed.join(', ') });
    else if (body === undefined) reply = errorReply(413, 'request body too large');
    else reply = runHandler(() => match.route.handle({ core: this, params: match.params, body }));
    send(res, reply);
  }

  private async pause(ms: number | undefined): Promise<void> {
    await sleep(ms ?? 0, undefined, { signal: this.shutdown.signal });
  }
}

function runHandler(handle: () => Reply): Reply {
  try {
    return handle();
  } catch (err) {
    if (err instanceof ApiError) return errorReply(err.status, err.message);
    if (err instanceof UsageError) return errorReply(400, err.message);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Routes

const API_ROUTES: readonly ApiRoute[] = [
  { method: 'GET', pattern: '/account', needsManageUsers: false, handle: (c) => ok({ account: renderAccount(c.caller, c.state) }) },
  { method: 'GET', pattern: '/apikeys', needsManageUsers: false, handle: (c) => listKeys(c.caller, c.settings) },
  { method: 'POST', pattern: '/apikeys', needsManageUsers: false, handle: (c) => createKey(c, c.caller) },
  { method: 'GET', pattern: '/apikeys/:keyId', needsManageUsers: false, handle: (c) => getKey(c, c.caller) },
  { method: 'DELETE', pattern: '/apikeys/:keyId', needsManageUsers: false, handle: (c) => deleteKey(c, c.caller) },
  { method: 'GET', pattern: '/users', needsManageUsers: true, handle: listUsers },
  { method: 'GET', pattern: '/users/:userId', needsManageUsers: true, handle: (c) => ok({ user: renderUser(targetUser(c)) }) },
  {
    method: 'DELETE',
    pattern: '/users/:userId',
    needsManageUsers: true,
    handle: (c) => {
      c.state.removeUser(targetUser(c));
      return NO_CONTENT;
    },
  },
  { method: 'GET', pattern: '/users/:userId/apikeys', needsManageUsers: true, handle: (c) => listKeys(targetUser(c), c.settings) },
  {
    method: 'POST',
    pattern: '/users/:userId/apikeys',
    needsManageUsers: true,
    handle: (c) => {
      const reply = createKey(c, targetUser(c));
      return c.settings.createAnswer === 'empty' ? EMPTY_ACCEPTED : reply;
    },
  },
  { method: 'GET', pattern: '/users/:userId/apikeys/:keyId', needsManageUsers: true, handle: (c) => getKey(c, targetUser(c)) },
  { method: 'DELETE', pattern: '/users/:userId/apikeys/:keyId', needsManageUsers: true, handle: (c) => deleteKey(c, targetUser(c)) },
];

const CONTROL_ROUTES: readonly Route<ControlContext>[] = [
  {
    method: 'POST',
    pattern: '/faults',
    handle: (c) => {
      c.core.faults.add(parseJsonObject(c.body) as unknown as FaultSpec);
      return NO_CONTENT;
    },
  },
  {
    method: 'DELETE',
    pattern: '/faults',
    handle: (c) => {
      c.core.faults.clear();
      return NO_CONTENT;
    },
  },
  { method: 'GET', pattern: '/state', handle: (c) => ok(snapshotOf(c.core.state)) },
  { method: 'GET', pattern: '/requests', handle: (c) => ok(c.core.log.entries()) },
  { method: 'POST', pattern: '/keys/:keyId', handle: patchKey },
  { method: 'POST', pattern: '/users/:userId', handle: patchUser },
  {
    method: 'POST',
    pattern: '/reset-log',
    handle: (c) => {
      c.core.log.clear();
      return NO_CONTENT;
    },
  },
];

function resolveRoute<R extends Route<never>>(routes: readonly R[], method: string, path: string): { route: R; params: Params } | { allowed: string[] } | undefined {
  const got = path.split('/').filter((s) => s.length > 0);
  const allowed: string[] = [];
  for (const route of routes) {
    const want = route.pattern.split('/').filter((s) => s.length > 0);
    if (want.length !== got.length) continue;
    const params: Record<string, string> = {};
    const matches = want.every((seg, i) => {
      const value = got[i] ?? '';
      if (seg.startsWith(':')) params[seg.slice(1)] = value;
      return seg.startsWith(':') || seg === value;
    });
    if (!matches) continue;
    if (route.method === method) return { route, params };
    allowed.push(route.method);
  }
  return allowed.length > 0 ? { allowed } : undefined;
}

function param(params: Params, name: string): string {
  return params[name] ?? '';
}

function targetUser(c: ApiContext): UserRecord {
  return c.state.user(param(c.params, 'userId'));
}

function listUsers(c: ApiContext): Reply {
  const users = c.state.users;
  const perPage = parsePerPage(c.query.get('per_page'));
  const cursor = c.query.get('cursor');
  let start = 0;
  if (cursor !== null && cursor !== '') {
    const { direction, index } = decodeCursor(cursor, users);
    start = direction === 'next' ? index : Math.max(0, index - perPage);
  }
  const page = users.slice(start, start + perPage);
  const nextUser = users[start + perPage];
  const firstUser = page[0];
  return ok({
    users: page.map(renderUser),
    meta: {
      total: users.length,
      links: {
        next: nextUser === undefined ? '' : encodeCursor('next', nextUser.id),
        prev: start === 0 || firstUser === undefined ? '' : encodeCursor('prev', firstUser.id),
      },
    },
  });
}

function parsePerPage(raw: string | null): number {
  if (raw === null || raw === '') return PER_PAGE_DEFAULT;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new ApiError(400, 'per_page must be a positive integer');
  // Larger pages are capped rather than refused, as paginated APIs commonly do.
  return Math.min(Number(raw), PER_PAGE_MAX);
}

// Cursors mimic today's Vultr ones (base64 of "next__<id>"); clients must treat them as opaque.
function encodeCursor(direction: 'next' | 'prev', id: string): string {
  return Buffer.from(`${direction}__${id}`, 'utf8').toString('base64');
}

function decodeCursor(cursor: string, users: readonly UserRecord[]): { direction: 'next' | 'prev'; index: number } {
  const match = /^(next|prev)__(.+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
  const index = match === null ? -1 : users.findIndex((u) => u.id === match[2]);
  if (match === null || index === -1) throw new ApiError(400, 'invalid cursor');
  return { direction: match[1] === 'prev' ? 'prev' : 'next', index };
}

function listKeys(owner: UserRecord, settings: Settings): Reply {
  const api_keys = owner.keys.map((key) => renderKey(key, false));
  return ok(settings.dialect.keyListMeta ? { api_keys, meta: { total: api_keys.length, links: { next: '', prev: '' } } } : { api_keys });
}

function getKey(c: ApiContext, owner: UserRecord): Reply {
  return ok({ api_key: renderKey(c.state.key(owner, param(c.params, 'keyId')), false) });
}

function deleteKey(c: ApiContext, owner: UserRecord): Reply {
  const key = c.state.key(owner, param(c.params, 'keyId'));
  owner.keys.splice(owner.keys.indexOf(key), 1);
  return NO_CONTENT;
}

function createKey(c: ApiContext, owner: UserRecord): Reply {
  const input = parseJsonObject(c.body, true);
  const name = input['name'] ?? '';
  if (typeof name !== 'string') throw new ApiError(400, 'name must be a string');
  if (name.length > MAX_KEY_NAME) throw new ApiError(400, `name must be at most ${MAX_KEY_NAME} characters`);
  const expire = input['expire'] ?? false;
  if (typeof expire !== 'boolean') throw new ApiError(400, 'expire must be a boolean');
  const rawDate = input['date_expire'] ?? '';
  if (typeof rawDate !== 'string') throw new ApiError(400, 'date_expire must be a string');
  const dateExpire = rawDate === '' ? null : new Date(rawDate);
  if (dateExpire !== null && Number.isNaN(dateExpire.getTime())) throw new ApiError(400, 'date_expire is not a valid date');
  if (expire && dateExpire === null) throw new ApiError(400, 'date_expire is required when expire is true');
  if (expire && dateExpire !== null && dateExpire.getTime() <= c.now.getTime()) {
    throw new ApiError(400, 'date_expire must be in the future');
  }
  const key = c.state.keyFactory.create({ name, expire, dateExpire: expire ? dateExpire : null });
  owner.keys.push(key);
  return { status: 202, json: { api_key: renderKey(key, true) } };
}

function patchKey(c: ControlContext): Reply {
  const input = parseJsonObject(c.body);
  const unknown = Object.keys(input).filter((field) => field !== 'allowedIps' && field !== 'date_expire' && field !== 'name');
  if (unknown.length > 0) throw new ApiError(400, `unknown field "${unknown[0]}" (expected allowedIps, date_expire, name)`);
  const name = input['name'];
  if (name !== undefined && typeof name !== 'string') throw new ApiError(400, 'name must be a string');
  const key = c.core.state.findKey(param(c.params, 'keyId'));
  if (key === undefined) throw new ApiError(404, 'api key not found');
  // Validate everything before changing anything, so a refused patch leaves the key as it was.
  const allowedIps = input['allowedIps'];
  if (allowedIps !== undefined && !(Array.isArray(allowedIps) && allowedIps.every((ip) => typeof ip === 'string'))) {
    throw new ApiError(400, 'allowedIps must be an array of strings');
  }
  const rawDate = input['date_expire'];
  if (rawDate !== undefined && rawDate !== null && typeof rawDate !== 'string') {
    throw new ApiError(400, 'date_expire must be a string or null');
  }
  // Past dates are allowed here on purpose: expiring a key is what this is for.
  const dateExpire = typeof rawDate === 'string' && rawDate !== '' ? new Date(rawDate) : null;
  if (dateExpire !== null && Number.isNaN(dateExpire.getTime())) throw new ApiError(400, 'date_expire is not a valid date');
  if (allowedIps !== undefined) key.allowedIps = [...(allowedIps as string[])];
  // Any name at all, hostile ones included: clients must survive what a provider may hold.
  if (typeof name === 'string') key.name = name;
  if (rawDate !== undefined) {
    key.expire = dateExpire !== null;
    key.dateExpire = dateExpire;
  }
  return NO_CONTENT;
}

/** Control API: change a user's e-mail or first name (to rehearse hostile or odd provider data). */
function patchUser(c: ControlContext): Reply {
  const input = parseJsonObject(c.body);
  const unknown = Object.keys(input).filter((field) => field !== 'email' && field !== 'first_name');
  if (unknown.length > 0) throw new ApiError(400, `unknown field "${unknown[0]}" (expected email, first_name)`);
  for (const field of ['email', 'first_name']) {
    if (input[field] !== undefined && typeof input[field] !== 'string') throw new ApiError(400, `${field} must be a string`);
  }
  const user = c.core.state.user(param(c.params, 'userId'));
  if (typeof input['email'] === 'string') user.email = input['email'];
  if (typeof input['first_name'] === 'string') user.firstName = input['first_name'];
  return NO_CONTENT;
}

// ---------------------------------------------------------------------------------------------------------
// Rendering, in Vultr's JSON shapes

function renderUser(user: UserRecord): Record<string, unknown> {
  return {
    id: user.id,
    email: user.email,
    first_name: user.firstName,
    last_name: user.lastName,
    name: `${user.firstName} ${user.lastName}`,
    api_enabled: user.apiEnabled,
    service_user: user.serviceUser,
    acls: [...user.acls],
    invited_by: user.invitedBy,
    invited_on: vultrTime(user.invitedOn),
    invite_accepted: user.inviteAccepted,
    status: user.status,
    last_activity: user.lastActivity === null ? '' : vultrTime(user.lastActivity),
  };
}

/** The plaintext only in a create answer; lists and GETs show 31 '*' and the last 5 characters. */
function renderKey(key: KeyRecord, revealPlaintext: boolean): Record<string, unknown> {
  const rendered: Record<string, unknown> = {
    id: key.id,
    api_key: revealPlaintext ? key.plaintext : `${'*'.repeat(31)}${key.plaintext.slice(-5)}`,
    name: key.name,
    expire: key.expire,
  };
  if (key.expire && key.dateExpire !== null) rendered['date_expire'] = vultrTime(key.dateExpire);
  else if (key.noExpiryForm === 'empty') rendered['date_expire'] = '';
  else if (key.noExpiryForm === 'null') rendered['date_expire'] = null;
  return rendered;
}

function renderAccount(user: UserRecord, state: SandboxState): Record<string, unknown> {
  return {
    name: `${user.firstName} ${user.lastName}`,
    email: user.email,
    acls: [...user.acls],
    balance: -25.5,
    pending_charges: 3.14,
    last_payment_date: vultrTime(new Date(state.startedAt.getTime() - 20 * 24 * 3600 * 1000)),
    last_payment_amount: -25,
  };
}

function snapshotOf(state: SandboxState): SandboxSnapshot {
  return {
    users: state.users.map((user) => ({
      id: user.id,
      email: user.email,
      acls: [...user.acls],
      last_activity: user.lastActivity === null ? '' : vultrTime(user.lastActivity),
      keys: user.keys.map((key) => ({
        id: key.id,
        name: key.name,
        plaintext: key.plaintext,
        expire: key.expire,
        date_expire: key.expire && key.dateExpire !== null ? vultrTime(key.dateExpire) : null,
        allowedIps: [...key.allowedIps],
      })),
    })),
  };
}

/** "2026-11-01T10:00:00+00:00": second precision and an explicit offset, as Vultr writes times. */
function vultrTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}+00:00`;
}

// ---------------------------------------------------------------------------------------------------------
// HTTP plumbing

const NO_CONTENT: Reply = { status: 204 };
/** "202 Accepted" and nothing else: the create answer Vultr's OpenAPI document gives POST /users/{id}/apikeys. */
const EMPTY_ACCEPTED: Reply = { status: 202, raw: '' };
// Declared JSON but not JSON, like a proxy's error page: clients must not trust the content type alone.
const MALFORMED_REPLY: Reply = {
  status: 200,
  raw: '<html><body><h1>502 Bad Gateway</h1></body></html>',
  headers: { 'Content-Type': 'application/json' },
};

function ok(json: unknown): Reply {
  return { status: 200, json };
}

function errorReply(status: number, message: string, headers?: Record<string, string>): Reply {
  return { status, json: { error: message, status }, ...(headers ? { headers } : {}) };
}

function statusFaultReply(fault: FaultSpec): Reply {
  const status = fault.status ?? 503;
  const headers: Record<string, string> = fault.retryAfter === undefined ? {} : { 'Retry-After': fault.retryAfter };
  if (fault.body === undefined) return { ...errorReply(status, STATUS_CODES[status] ?? 'Error'), headers };
  if (fault.body !== '') headers['Content-Type'] = looksLikeJson(fault.body) ? 'application/json' : 'text/plain; charset=utf-8';
  return { status, raw: fault.body, headers };
}

function looksLikeJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  const bodyless = reply.status === 204 || reply.status === 304;
  let payload = '';
  if (!bodyless && reply.json !== undefined) {
    payload = JSON.stringify(reply.json);
    headers['Content-Type'] ??= 'application/json';
  } else if (!bodyless && reply.raw !== undefined) {
    payload = reply.raw;
  }
  if (!bodyless) headers['Content-Length'] = String(Buffer.byteLength(payload));
  res.writeHead(reply.status, headers);
  res.end(payload);
}

/** The body as text; undefined when it exceeds MAX_BODY_BYTES (the rest is drained, not kept). */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size <= MAX_BODY_BYTES) chunks.push(buffer);
  }
  return size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8');
}

/** A JSON object body; an empty body counts as {} only where every field is optional. */
function parseJsonObject(body: string, emptyIsEmptyObject = false): Record<string, unknown> {
  if (body.trim() === '' && emptyIsEmptyObject) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ApiError(400, 'request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ApiError(400, 'request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** The path below `prefix` ("/" for the prefix itself), or null when `path` is not under it. */
function underPrefix(path: string, prefix: string): string | null {
  if (path === prefix) return '/';
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : null;
}

function clientIp(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  // IPv4 clients of a dual-stack socket appear as "::ffff:a.b.c.d"; Vultr reports the plain IPv4 form.
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}
