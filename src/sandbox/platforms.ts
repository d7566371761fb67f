// Local stand-ins for the key platforms beyond Vultr, so tests, `keyrot demo --provider …` and users rehearsing a
// rotation need no account: one in-memory model of accounts holding scoped keys with an expiry and a per-key last
// use, served in three dialects:
//
// - grafana:   Grafana's service-account tokens (/api/serviceaccounts…, token DTOs with lastUsedAt, isRevoked,
//              hasExpired; a role per service account; RBAC-style 403 bodies).
// - example:   keyrot's example service-account platform (/api/v1/service-accounts…, per-key scopes, expires_at that can be moved,
//              last_used_at, X-Api-Key; issuing needs the admin or owner role, operators get 403).
// - kubeadapt: Kubeadapt's public API as its docs describe it (see KUBEADAPT_ENDPOINTS), the current generation
//              (`{data, meta}` envelope) by default, the earlier one (bare lists, `{"detail"}` errors) with
//              kubeadaptDocs 'earlier': keys carry read scopes and an optional cluster allow-list, and are minted and
//              revoked only in "the dashboard", which here is the control API (/__sandbox/dashboard/keys).
//
// A key's last use is written at most once per refresh interval (Grafana's own rule; configurable, seconds in
// tests). This is a test double: it keeps plaintexts and reveals them through its unauthenticated control API,
// hence loopback only. It never writes to stdout or stderr.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { isLoopback } from '../core/base-url.js';
import { UsageError } from '../errors.js';
import { FaultSet, type FaultAction, type FaultSpec } from './faults.js';
import type { Exchange } from './server.js';
import { say, displayText } from '../ui/display-text.js';

export type PlatformDialect = 'grafana' | 'example' | 'kubeadapt';
export type KubeadaptDocs = 'current' | 'earlier';
export const PLATFORM_DIALECTS: readonly PlatformDialect[] = ['grafana', 'example', 'kubeadapt'];

/** The real platforms' refresh intervals: Grafana writes lastUsedAt at most every 5 minutes; the example platform within a minute. */
const DEFAULT_REFRESH_MS: Record<PlatformDialect, number> = { grafana: 300_000, example: 60_000, kubeadapt: 60_000 };

export interface PlatformSandboxOptions {
  dialect: PlatformDialect;
  /** 0 (default): any free port. */
  port?: number;
  host?: string;
  /** How often a key's last use may be written, ms. Default: the real platform's. */
  refreshMs?: number;
  faults?: FaultSpec[];
  /** Kubeadapt only: which generation of its docs the sandbox answers by (default: the current one). */
  kubeadaptDocs?: KubeadaptDocs;
  /**
   * Kubeadapt, earlier docs only: a revoked key answered 403, not 401 (their Error Handling page lists "the key has
   * been revoked" under 403, beside "Invalid API key" under 401). Default: 401.
   */
  kubeadaptRevokedStatus?: 401 | 403;
  /** Each API exchange as sent (bodies included), for contract checks in tests. */
  onExchange?: (exchange: Exchange) => void;
}

export interface PlatformKeySnapshot {
  id: string;
  accountId: string;
  name: string;
  plaintext: string;
  scopes: string[];
  expiresAt: string | null;
  lastUsedAt: string | null;
  revoked: boolean;
}

export interface PlatformAccountSnapshot {
  id: string;
  name: string;
  login: string;
  role: string;
  keys: PlatformKeySnapshot[];
}

export interface PlatformRequest {
  method: string;
  path: string;
  status: number;
  at: string;
  /** The key that authenticated the call (its id), if any. */
  keyId: string | null;
  fault?: FaultAction;
}

export interface PlatformSandbox {
  dialect: PlatformDialect;
  /** The API base URL keyrot is pointed at (GRAFANA_URL, EXAMPLE_API_URL, KUBEADAPT_API_URL). */
  url: string;
  controlUrl: string;
  /** The admin key (Kubeadapt: the key the tests rotate). */
  adminKey: string;
  /** The provider's environment variables for keyrot, pointing at this sandbox. */
  env: Record<string, string>;
  snapshot(): PlatformAccountSnapshot[];
  /** Every key this sandbox ever made, deleted ones too: what the demo and tests may remove from a keychain. */
  issued(): Array<{ id: string; plaintext: string }>;
  requests(): PlatformRequest[];
  /** "The dashboard": mints a key (Kubeadapt: the only way), returning its id and plaintext. */
  mint(input: { account?: string; name: string; scopes?: string[]; allowedClusters?: string[] }): { id: string; plaintext: string };
  /** "The dashboard": revokes a key. */
  revoke(keyId: string): void;
  setRefreshMs(ms: number): void;
  /** Revocations that do not take effect: answered as done, yet the key stays and keeps authenticating (a provider bug keyrot must catch). */
  setRevokeIneffective(on: boolean): void;
  /** Keys created through the API get these scopes whatever was asked (null: as asked). */
  setForcedScopes(scopes: string[] | null): void;
  /** A create's answer holds the plaintext but not the key's id (the key is made and listed as usual). */
  setCreateAnswerWithoutId(on: boolean): void;
  addFault(fault: FaultSpec): void;
  clearFaults(): void;
  close(): Promise<void>;
}

interface Key {
  id: string;
  accountId: string;
  name: string;
  plaintext: string;
  scopes: string[];
  created: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  /** Kubeadapt: the key's cluster allow-list (null: every cluster of its organization). */
  allowedClusters: string[] | null;
}

interface Account {
  id: string;
  name: string;
  login: string;
  email: string;
  description: string;
  role: string;
  /** May list accounts and keys. */
  canRead: boolean;
  /** May create, revoke and change keys. */
  canIssue: boolean;
  keys: Key[];
  /** Kubeadapt: the organization's clusters. */
  clusters?: string[];
}

interface Reply {
  status: number;
  json?: unknown;
  /** Sent as is (with the JSON content type) when `json` is absent: a malformed answer. */
  raw?: string;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The model

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function base62(length: number): string {
  // Rejection sampling keeps every symbol equally likely (248 = 62 × 4).
  const out: string[] = [];
  while (out.length < length) for (const byte of randomBytes(length)) if (byte < 248 && out.length < length) out.push(BASE62[byte % 62] ?? 'A');
  return out.join('');
}

/** A plaintext in the platform's own shape: glsa_…_crc (Grafana), plat_… (the example platform), ka_live_ + 32 base62 (Kubeadapt). */
function plaintextFor(dialect: PlatformDialect): string {
  if (dialect === 'grafana') {
    const secret = base62(32);
    return `glsa_${secret}_${createHash('sha256').update(secret).digest('hex').slice(0, 8)}`;
  }
  return dialect === 'kubeadapt' ? `ka_live_${base62(32)}` : `plat_${base62(40)}`;
}

class Platform {
  readonly accounts: Account[] = [];
  refreshMs: number;
  revokeIneffective = false;
  /** When set, every key created through the API gets these scopes, whatever was asked (a narrower default). */
  forcedScopes: string[] | null = null;
  createAnswerWithoutId = false;
  kubeadaptDocs: KubeadaptDocs = 'current';
  kubeadaptRevokedStatus: 401 | 403 = 401;
  /** Every key made, deleted ones too. */
  readonly issued: Key[] = [];
  // Grafana's document types service-account and token ids as int64 (test/fixtures/grafana-openapi.json, the
  // serviceAccountId and tokenId path parameters) and promises nothing about where they start: a sandbox starts them
  // at a random point, so two sandboxes at once (tests sharing one keychain) never number a key alike.
  readonly #next = (() => {
    const base = 1 + Math.floor(Math.random() * 1_000_000) * 100;
    return { account: base, key: base };
  })();

  constructor(
    readonly dialect: PlatformDialect,
    refreshMs: number,
  ) {
    this.refreshMs = refreshMs;
  }

  newId(kind: 'account' | 'key'): string {
    const n = this.#next[kind]++;
    if (this.dialect === 'grafana') return String(n);
    return kind === 'account' ? `sa_${randomBytes(6).toString('hex')}` : `key_${randomBytes(6).toString('hex')}`;
  }

  addAccount(input: Omit<Account, 'id' | 'keys' | 'login' | 'email'> & { login?: string; id?: string }): Account {
    const id = input.id ?? this.newId('account');
    const slug = input.name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    const account: Account = { ...input, id, login: input.login ?? `sa-1-${slug}`, email: `${slug}@service-accounts.example`, keys: [] };
    this.accounts.push(account);
    return account;
  }

  addKey(account: Account, input: { name: string; scopes?: string[]; expiresAt?: Date | null; plaintext?: string; lastUsedAt?: Date | null; allowedClusters?: string[] }): Key {
    const key: Key = {
      id: this.newId('key'),
      accountId: account.id,
      name: input.name,
      plaintext: input.plaintext ?? plaintextFor(this.dialect),
      scopes: [...(input.scopes ?? [])].sort(),
      created: new Date(),
      expiresAt: input.expiresAt ?? null,
      lastUsedAt: input.lastUsedAt ?? null,
      revokedAt: null,
      allowedClusters: input.allowedClusters ?? null,
    };
    account.keys.push(key);
    this.issued.push(key);
    return key;
  }

  account(id: string): Account {
    const account = this.accounts.find((a) => a.id === id);
    if (!account) throw this.notFound('account');
    return account;
  }

  /** Live keys (Grafana also lists revoked ones, flagged isRevoked). */
  key(account: Account, keyId: string): Key {
    const key = account.keys.find((k) => k.id === keyId);
    if (!key) throw this.notFound('key');
    return key;
  }

  findKey(keyId: string): { account: Account; key: Key } | undefined {
    for (const account of this.accounts) {
      const key = account.keys.find((k) => k.id === keyId);
      if (key) return { account, key };
    }
    return undefined;
  }

  /** Removes a key; with revokeIneffective, the removal is answered as done but nothing changes. */
  remove(account: Account, key: Key): void {
    if (this.revokeIneffective) return;
    // A Kubeadapt key revoked to 403 stays known, so that it can be answered as revoked rather than unknown.
    if (this.kubeadaptRevokedStatus === 403) key.revokedAt = new Date();
    else account.keys.splice(account.keys.indexOf(key), 1);
  }

  /** The caller, or the 401 body; a use is written to the key at most once per refresh interval. */
  authenticate(token: string | undefined, now: Date): { account: Account; key: Key } | ApiError {
    const found = token ? this.accounts.flatMap((a) => a.keys.map((key) => ({ account: a, key }))).find((f) => f.key.plaintext === token) : undefined;
    if (!found) return this.unauthorized('invalid');
    const { key } = found;
    if (key.revokedAt) return this.unauthorized('revoked');
    if (key.expiresAt && key.expiresAt.getTime() <= now.getTime()) return this.unauthorized('expired');
    if (key.lastUsedAt === null || now.getTime() - key.lastUsedAt.getTime() >= this.refreshMs) key.lastUsedAt = now;
    return found;
  }

  unauthorized(why: 'invalid' | 'revoked' | 'expired'): ApiError {
    if (this.dialect === 'grafana') return new ApiError(401, { message: why === 'invalid' ? 'Invalid API key' : why === 'revoked' ? 'Revoked service account token' : 'Expired API key' });
    // Both generations' wording for an unknown or revoked key ("Invalid API key"); the current code is UNAUTHORIZED.
    // (The docs give no wording for a revoked key's 403: this one is the sandbox's.)
    if (this.dialect === 'kubeadapt' && why === 'revoked' && this.kubeadaptRevokedStatus === 403) return this.kubeadaptError(403, 'FORBIDDEN', 'API key revoked');
    if (this.dialect === 'kubeadapt') return this.kubeadaptError(401, 'UNAUTHORIZED', 'Invalid API key');
    return new ApiError(401, { error: why === 'expired' ? 'API key expired' : 'invalid or revoked API key' });
  }

  forbidden(permission: string): ApiError {
    if (this.dialect === 'grafana') {
      return new ApiError(403, { accessErrorId: 'ACE0000000403', message: `You'll need additional permissions to perform this action. Permissions needed: ${permission}`, title: 'Access denied' });
    }
    if (this.dialect === 'kubeadapt') return this.kubeadaptError(403, 'FORBIDDEN', `Missing required permission: ${permission}`);
    return new ApiError(403, { error: `forbidden: ${permission} is admin/owner-only` });
  }

  notFound(what: 'account' | 'key'): ApiError {
    if (this.dialect === 'grafana') return new ApiError(404, { message: what === 'account' ? 'service account not found' : 'Failed to delete API key' });
    return new ApiError(404, { error: `${what === 'account' ? 'service account' : 'key'} not found` });
  }

  badRequest(message: string): ApiError {
    if (this.dialect === 'kubeadapt') return this.kubeadaptError(400, 'BAD_REQUEST', message);
    return new ApiError(400, this.dialect === 'grafana' ? { message } : { error: message });
  }

  /**
   * A Kubeadapt failure in the generation's shape: current docs (Error Handling) `{data: null, meta, error: {code,
   * message}}`, earlier docs `{"detail": message}`.
   */
  kubeadaptError(status: number, code: string, message: string): ApiError {
    return new ApiError(status, this.kubeadaptDocs === 'earlier' ? { detail: message } : kubeadaptEnvelope(null, { error: { code, message } }));
  }
}

/** The fixtures: an admin account (the printed admin key), a rotation target, a reader that may not issue, more. */
function seed(platform: Platform): string {
  const day = 24 * 3600 * 1000;
  const ago = (ms: number) => new Date(Date.now() - ms);
  if (platform.dialect === 'kubeadapt') {
    // The organization holds every key; keyrot calls it "org" too. Scopes are the docs' own recipes: the current
    // Mint guide's "read-only Grafana / BI exporter" and "finance chargeback pipeline"; the earlier Permission Scopes
    // page's names for the same reads.
    const earlier = platform.kubeadaptDocs === 'earlier';
    const org = platform.addAccount({ id: 'org', name: 'Kubeadapt organization', description: 'the organization', role: 'owner', canRead: false, canIssue: false, login: 'org' });
    org.clusters = ['cl-prod-eu', 'cl-prod-us'];
    const exporter = earlier
      ? ['clusters:read', 'namespaces:read', 'nodes:read', 'overview:read', 'workloads:read']
      : ['clusters:read', 'namespaces:read', 'nodes:read', 'organization:read', 'workloads:read'];
    const prod = platform.addKey(org, { name: 'prod-exporter', scopes: exporter, lastUsedAt: ago(day) });
    platform.addKey(org, { name: 'ci-readonly', scopes: earlier ? ['costs:departments:read', 'costs:teams:read'] : ['departments:read', 'organization:read', 'teams:read'] });
    // Another organization (a staging one): its keys are valid at the same API but see other clusters.
    const staging = platform.addAccount({
      id: 'staging',
      name: 'Kubeadapt staging organization',
      description: 'another organization',
      role: 'owner',
      canRead: false,
      canIssue: false,
      login: 'staging',
    });
    staging.clusters = ['cl-staging-eu'];
    return prod.plaintext;
  }
  const roles = platform.dialect === 'grafana' ? { admin: 'Admin', member: 'Editor', reader: 'Editor', viewer: 'Viewer' } : { admin: 'admin', member: 'member', reader: 'operator', viewer: 'member' };
  const admin = platform.addAccount({ name: 'keyrot-admin', description: 'rotates keys', role: roles.admin, canRead: true, canIssue: true });
  const adminKey = platform.addKey(admin, { name: 'keyrot-admin', scopes: ['*'] });
  const bot = platform.addAccount({ name: 'deploy-bot', description: 'recording exporter', role: roles.member, canRead: false, canIssue: false });
  platform.addKey(bot, { name: 'deploy-bot', scopes: ['alerts:read', 'recordings:read'], lastUsedAt: ago(2 * day) });
  // Grafana Enterprise RBAC can grant serviceaccounts:read alone; the example platform's operators may read but not issue.
  const reader = platform.addAccount({ name: 'auditor', description: 'reads, may not issue', role: roles.reader, canRead: true, canIssue: false });
  platform.addKey(reader, { name: 'auditor', scopes: ['audit:read'] });
  const ci = platform.addAccount({ name: 'ci', description: 'CI runners', role: roles.viewer, canRead: false, canIssue: false });
  platform.addKey(ci, { name: 'ci-runner', scopes: ['deploy:write'] });
  platform.addKey(ci, { name: 'ci-backup', scopes: ['deploy:write'], expiresAt: new Date(Date.now() + 365 * day) });
  return adminKey.plaintext;
}

// ---------------------------------------------------------------------------------------------------------
// The dialects

interface Call {
  platform: Platform;
  method: string;
  /** Path segments under the dialect's prefix. */
  parts: string[];
  query: URLSearchParams;
  body: Record<string, unknown>;
  caller: { account: Account; key: Key } | null;
  now: Date;
}

const GRAFANA_ORG = { id: 1, name: 'Main Org.' };

function requireCaller(c: Call): { account: Account; key: Key } {
  if (!c.caller) throw c.platform.unauthorized('invalid');
  return c.caller;
}

function requireRead(c: Call): void {
  if (!requireCaller(c).account.canRead) throw c.platform.forbidden(c.platform.dialect === 'grafana' ? 'serviceaccounts:read' : 'keys:read');
}

function requireIssue(c: Call): void {
  if (!requireCaller(c).account.canIssue) throw c.platform.forbidden(c.platform.dialect === 'grafana' ? 'serviceaccounts:write' : 'API key issuance');
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : null;
}

function grafanaToken(key: Key, now: Date): Record<string, unknown> {
  const expired = key.expiresAt !== null && key.expiresAt.getTime() <= now.getTime();
  return {
    id: Number(key.id),
    name: key.name,
    created: iso(key.created),
    expiration: iso(key.expiresAt),
    secondsUntilExpiration: key.expiresAt && !expired ? (key.expiresAt.getTime() - now.getTime()) / 1000 : 0,
    hasExpired: expired,
    isRevoked: key.revokedAt !== null,
    lastUsedAt: iso(key.lastUsedAt),
  };
}

function grafanaAccount(account: Account): Record<string, unknown> {
  return { id: Number(account.id), name: account.name, login: account.login, orgId: 1, isDisabled: false, role: account.role, tokens: account.keys.length, avatarUrl: `/avatar/${account.id}` };
}

function grafana(c: Call): Reply {
  const { platform: p, parts, method } = c;
  const route = `${method} /${parts.map((s, i) => (i >= 2 && /^\d+$/.test(s) ? ':id' : s)).join('/')}`;
  switch (route) {
    case 'GET /api/org':
      requireCaller(c);
      return { status: 200, json: GRAFANA_ORG };
    case 'GET /api/user': {
      // A service-account token is its service account, a user of the organization.
      const { account } = requireCaller(c);
      return { status: 200, json: { id: Number(account.id), login: account.login, name: account.name, email: account.login, orgId: GRAFANA_ORG.id, isGrafanaAdmin: false } };
    }
    case 'GET /api/serviceaccounts/search': {
      requireRead(c);
      const perPage = Math.max(1, Number(c.query.get('perpage') ?? 1000) || 1000);
      const page = Math.max(1, Number(c.query.get('page') ?? 1) || 1);
      const all = p.accounts;
      return { status: 200, json: { totalCount: all.length, serviceAccounts: all.slice((page - 1) * perPage, page * perPage).map(grafanaAccount), page, perPage } };
    }
    case 'GET /api/serviceaccounts/:id':
      requireRead(c);
      return { status: 200, json: { ...grafanaAccount(p.account(parts[2] ?? '')), teams: [] } };
    case 'GET /api/serviceaccounts/:id/tokens':
      requireRead(c);
      return { status: 200, json: p.account(parts[2] ?? '').keys.map((k) => grafanaToken(k, c.now)) };
    case 'POST /api/serviceaccounts/:id/tokens': {
      requireIssue(c);
      const account = p.account(parts[2] ?? '');
      const name = c.body['name'];
      if (typeof name !== 'string' || name === '') throw p.badRequest('Bad request data');
      const ttl = c.body['secondsToLive'] ?? 0;
      if (typeof ttl !== 'number' || ttl < 0) throw p.badRequest('Bad request data');
      if (account.keys.some((k) => k.name === name)) throw new ApiError(409, { message: 'service account token with given name already exists in the organization' });
      const key = p.addKey(account, { name, scopes: [], expiresAt: ttl > 0 ? new Date(c.now.getTime() + ttl * 1000) : null });
      return { status: 200, json: { ...(p.createAnswerWithoutId ? {} : { id: Number(key.id) }), name: key.name, key: key.plaintext } };
    }
    case 'DELETE /api/serviceaccounts/:id/tokens/:id': {
      requireIssue(c);
      const account = p.account(parts[2] ?? '');
      p.remove(account, p.key(account, parts[4] ?? ''));
      return { status: 200, json: { message: 'API key deleted' } };
    }
    default:
      return { status: 404, json: { message: 'Not found' } };
  }
}

function exampleKey(key: Key): Record<string, unknown> {
  return {
    id: key.id,
    name: key.name,
    prefix: key.plaintext.slice(0, 8),
    // keyrot's own example (no public API): the last characters of the key, as the masks in keyrot's lists show them.
    last_chars: key.plaintext.slice(-5),
    scopes: key.scopes,
    created_at: iso(key.created),
    expires_at: iso(key.expiresAt),
    last_used_at: iso(key.lastUsedAt),
    revoked_at: iso(key.revokedAt),
  };
}

function example(c: Call): Reply {
  const { platform: p, parts, method } = c;
  const route = `${method} /${parts.map((s, i) => (i % 2 === 1 ? ':id' : s)).join('/')}`;
  const account = () => p.account(parts[1] ?? '');
  const accountJson = (a: Account) => ({ id: a.id, name: a.name, description: a.description, role: a.role });
  switch (route) {
    case 'GET /me': {
      const { account: a } = requireCaller(c);
      return { status: 200, json: { id: a.id, email: a.email, name: a.name, role: a.role } };
    }
    case 'GET /service-accounts':
      requireRead(c);
      return { status: 200, json: { service_accounts: p.accounts.map(accountJson) } };
    case 'GET /service-accounts/:id':
      requireRead(c);
      return { status: 200, json: accountJson(account()) };
    case 'GET /service-accounts/:id/keys':
      requireRead(c);
      return { status: 200, json: { keys: account().keys.map(exampleKey) } };
    case 'POST /service-accounts/:id/keys': {
      requireIssue(c);
      const a = account();
      const { name, scopes, expires_at: expiresAt } = c.body;
      if (typeof name !== 'string' || name === '' || name.length > 255) throw p.badRequest('name must be 1 to 255 characters');
      if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => typeof s === 'string')) throw p.badRequest('scopes: at least one scope is required');
      const expires = parseExpiry(p, expiresAt, c.now);
      const key = p.addKey(a, { name, scopes: p.forcedScopes ?? (scopes as string[]), expiresAt: expires });
      const { id, ...record } = exampleKey(key);
      return { status: 201, json: { key: p.createAnswerWithoutId ? record : { id, ...record }, secret: key.plaintext } };
    }
    case 'PATCH /service-accounts/:id/keys/:id': {
      requireIssue(c);
      const key = p.key(account(), parts[3] ?? '');
      key.expiresAt = parseExpiry(p, c.body['expires_at'], c.now);
      return { status: 200, json: { key: exampleKey(key) } };
    }
    case 'DELETE /service-accounts/:id/keys/:id': {
      requireIssue(c);
      const a = account();
      p.remove(a, p.key(a, parts[3] ?? ''));
      return { status: 204 };
    }
    default:
      return { status: 404, json: { error: 'route not found' } };
  }
}

function parseExpiry(p: Platform, value: unknown, now: Date): Date | null {
  if (value === undefined || value === null) return null;
  const at = typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) throw p.badRequest('expires_at must be an ISO 8601 time');
  if (at.getTime() <= now.getTime()) throw p.badRequest('expires_at must be in the future');
  return at;
}

/**
 * Kubeadapt's documented GET list endpoints (under /v1) and the scope each needs, per doc generation: Permission Scopes
 * (https://www.kubeadapt.io/docs/v1/api-reference/permission-scopes, both generations) and the endpoint pages (e.g.
 * Teams: `GET /v1/teams`, "Required scope: teams:read"). `items`: where the earlier generation puts a list; the current
 * one puts it in the envelope's `data`. `organization` and `overview` answer one object, not a list.
 */
const KUBEADAPT_ENDPOINTS: Record<KubeadaptDocs, Record<string, { scope: string; items?: string }>> = {
  current: {
    organization: { scope: 'organization:read' },
    clusters: { scope: 'clusters:read' },
    namespaces: { scope: 'namespaces:read' },
    workloads: { scope: 'workloads:read' },
    nodes: { scope: 'nodes:read' },
    recommendations: { scope: 'recommendations:read' },
    teams: { scope: 'teams:read' },
    departments: { scope: 'departments:read' },
  },
  earlier: {
    clusters: { scope: 'clusters:read', items: 'clusters' },
    workloads: { scope: 'workloads:read', items: 'workloads' },
    nodes: { scope: 'nodes:read', items: 'nodes' },
    namespaces: { scope: 'namespaces:read', items: 'namespaces' },
    'node-groups': { scope: 'node_groups:read', items: 'node_groups' },
    'persistent-volumes': { scope: 'persistent_volumes:read', items: 'persistent_volumes' },
    'costs/teams': { scope: 'costs:teams:read', items: 'teams' },
    'costs/departments': { scope: 'costs:departments:read', items: 'departments' },
    recommendations: { scope: 'recommendations:read', items: 'recommendations' },
    overview: { scope: 'overview:read' },
  },
};

/** The current generation's envelope (API Overview): `meta.request_id` and `meta.applied_at` on every answer. */
function kubeadaptEnvelope(data: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { data, meta: { request_id: `req_${randomBytes(8).toString('hex')}`, applied_at: iso(new Date()) }, ...extra };
}

function kubeadapt(c: Call): Reply {
  const { platform: p } = c;
  const endpoint = c.method === 'GET' ? KUBEADAPT_ENDPOINTS[p.kubeadaptDocs][c.parts.join('/')] : undefined;
  // An unknown path: the error catalog's not-found family (the docs name no code for a path that does not exist).
  if (!endpoint) throw p.kubeadaptError(404, 'NOT_FOUND', 'Not Found');
  const { key, account } = requireCaller(c);
  if (!key.scopes.includes(endpoint.scope)) throw p.forbidden(endpoint.scope);
  const name = c.parts.join('/');
  // "List endpoints only return data for clusters the key is allowed to access" (Authentication).
  const clusters = (account.clusters ?? []).filter((id) => key.allowedClusters === null || key.allowedClusters.includes(id)).map((id) => ({ id, name: id.replace(/^cl-/, '') }));
  const list = name === 'clusters' ? clusters : [];
  const single = name === 'organization' ? { id: account.id, name: account.name } : name === 'overview' ? { clusters_total: clusters.length } : undefined;
  if (p.kubeadaptDocs === 'earlier') return { status: 200, json: single ?? { [endpoint.items ?? name]: list } };
  return { status: 200, json: kubeadaptEnvelope(single ?? list) };
}

const DIALECTS: Record<PlatformDialect, { prefix: string; header: string; handle: (c: Call) => Reply; anonymous: (parts: string[]) => boolean }> = {
  grafana: { prefix: '', header: 'authorization', handle: grafana, anonymous: () => false },
  example: { prefix: '/api/v1', header: 'x-api-key', handle: example, anonymous: () => false },
  kubeadapt: { prefix: '/v1', header: 'authorization', handle: kubeadapt, anonymous: () => false },
};

const ENV: Record<PlatformDialect, { key: string; url: string }> = {
  grafana: { key: 'GRAFANA_TOKEN', url: 'GRAFANA_URL' },
  example: { key: 'EXAMPLE_API_KEY', url: 'EXAMPLE_API_URL' },
  kubeadapt: { key: 'KUBEADAPT_API_KEY', url: 'KUBEADAPT_API_URL' },
};

// ---------------------------------------------------------------------------------------------------------
// The server

export async function startPlatformSandbox(options: PlatformSandboxOptions): Promise<PlatformSandbox> {
  const { dialect } = options;
  if (!PLATFORM_DIALECTS.includes(dialect)) throw new UsageError(say`Unknown sandbox platform "${displayText(String(dialect))}" (expected ${displayText(PLATFORM_DIALECTS.join(', '), 2000)}).`);
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host)) throw new UsageError(say`The sandbox only listens on loopback, not "${displayText(host)}".`);
  const refresh = options.refreshMs ?? DEFAULT_REFRESH_MS[dialect];
  if (!(refresh >= 0)) throw new UsageError(say`The refresh interval must be zero or more milliseconds; got ${refresh}.`);
  const platform = new Platform(dialect, refresh);
  platform.kubeadaptDocs = options.kubeadaptDocs ?? 'current';
  if (options.kubeadaptRevokedStatus === 403 && platform.kubeadaptDocs !== 'earlier') throw new UsageError(say`A revoked Kubeadapt key answers 403 only by the earlier docs.`);
  platform.kubeadaptRevokedStatus = options.kubeadaptRevokedStatus ?? 401;
  const adminKey = seed(platform);
  const faults = new FaultSet();
  for (const fault of options.faults ?? []) faults.add(fault);
  const log: PlatformRequest[] = [];
  const shutdown = new AbortController();
  const spec = DIALECTS[dialect];

  const mint: PlatformSandbox['mint'] = (input) => {
    const account = input.account ? platform.account(input.account) : platform.accounts[dialect === 'kubeadapt' ? 0 : 1];
    if (!account) throw new UsageError(say`no such account`);
    if (typeof input.name !== 'string' || input.name === '' || input.name.length > 255) throw new UsageError(say`a key needs a name of 1 to 255 characters`);
    if (dialect === 'kubeadapt' && !input.scopes?.length) throw new UsageError(say`a Kubeadapt key needs at least one scope`);
    const key = platform.addKey(account, { name: input.name, scopes: input.scopes ?? [], ...(input.allowedClusters ? { allowedClusters: input.allowedClusters } : {}) });
    return { id: key.id, plaintext: key.plaintext };
  };
  const revoke = (keyId: string) => {
    const found = platform.findKey(keyId);
    if (!found) throw new UsageError(say`no key ${displayText(keyId)}`);
    platform.remove(found.account, found.key);
  };

  const control = (method: string, parts: string[], body: Record<string, unknown>): Reply => {
    const route = `${method} /${parts.join('/')}`;
    if (route === 'GET /state') return { status: 200, json: snapshot() };
    if (route === 'GET /requests') return { status: 200, json: log };
    if (route === 'POST /faults') {
      faults.add(body as unknown as FaultSpec);
      return { status: 204 };
    }
    if (route === 'DELETE /faults') {
      faults.clear();
      return { status: 204 };
    }
    if (route === 'POST /settings') {
      if (body['refreshMs'] !== undefined) platform.refreshMs = Number(body['refreshMs']);
      if (body['revokeIneffective'] !== undefined) platform.revokeIneffective = body['revokeIneffective'] === true;
      if (body['createAnswerWithoutId'] !== undefined) platform.createAnswerWithoutId = body['createAnswerWithoutId'] === true;
      return { status: 204 };
    }
    if (route === 'POST /dashboard/keys') {
      const scopes = Array.isArray(body['scopes']) ? body['scopes'].filter((s): s is string => typeof s === 'string') : undefined;
      const account = typeof body['account'] === 'string' ? body['account'] : undefined;
      const allowed = Array.isArray(body['allowed_cluster_ids']) ? body['allowed_cluster_ids'].filter((s): s is string => typeof s === 'string') : undefined;
      const minted = mint({ name: String(body['name'] ?? ''), ...(scopes ? { scopes } : {}), ...(account ? { account } : {}), ...(allowed?.length ? { allowedClusters: allowed } : {}) });
      return { status: 201, json: { id: minted.id, key: minted.plaintext } };
    }
    if (method === 'DELETE' && parts.length === 3 && parts[0] === 'dashboard' && parts[1] === 'keys') {
      revoke(parts[2] ?? '');
      return { status: 204 };
    }
    return { status: 404, json: { error: 'control route not found' } };
  };

  const snapshot = (): PlatformAccountSnapshot[] =>
    platform.accounts.map((a) => ({
      id: a.id,
      name: a.name,
      login: a.login,
      role: a.role,
      keys: a.keys.map((k) => ({
        id: k.id,
        accountId: a.id,
        name: k.name,
        plaintext: k.plaintext,
        scopes: [...k.scopes],
        expiresAt: iso(k.expiresAt),
        lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
        revoked: k.revokedAt !== null,
      })),
    }));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const at = new Date();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(`http://sandbox.invalid${req.url ?? '/'}`);
    const text = await readBody(req);
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = text.trim() === '' ? {} : JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      send(res, { status: 400, json: { error: 'request body is not JSON' } });
      return;
    }
    if (url.pathname.startsWith('/__sandbox/')) {
      let reply: Reply;
      try {
        reply = control(method, url.pathname.slice('/__sandbox/'.length).split('/').filter(Boolean), body);
      } catch (err) {
        reply = { status: 400, json: { error: (err as Error).message } };
      }
      send(res, reply);
      return;
    }
    const under = spec.prefix === '' ? url.pathname : url.pathname.startsWith(`${spec.prefix}/`) ? url.pathname.slice(spec.prefix.length) : null;
    const parts = (under ?? '').split('/').filter(Boolean);
    const fault = under === null ? undefined : faults.take(method, under);
    let keyId: string | null = null;
    let answered: Reply | undefined;
    const answer = (reply: Reply) => {
      answered = reply;
      send(res, reply);
    };
    const record = (status: number) => {
      log.push({ method, path: url.pathname, status, at: at.toISOString(), keyId, ...(fault ? { fault: fault.action } : {}) });
      options.onExchange?.({
        method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        requestBody: text,
        status,
        responseBody: answered === undefined || answered.status === 204 ? '' : answered.json !== undefined ? JSON.stringify(answered.json) : (answered.raw ?? ''),
        ...(fault ? { fault: fault.action } : {}),
      });
    };
    if (fault?.action === 'drop-before') {
      req.socket.destroy();
      record(0);
      return;
    }
    if (fault?.action === 'status') {
      answer({ status: fault.status ?? 503, json: { message: 'injected fault' } });
      record(fault.status ?? 503);
      return;
    }
    if (fault?.action === 'delay') await sleep(fault.delayMs ?? 0, undefined, { signal: shutdown.signal }).catch(() => undefined);
    let reply: Reply;
    if (under === null) {
      reply = { status: 404, json: { error: 'not found' } };
    } else {
      const now = new Date();
      const raw = req.headers[spec.header];
      const token = spec.header === 'authorization' ? /^Bearer\s+(\S+)\s*$/i.exec(String(raw ?? ''))?.[1] : typeof raw === 'string' ? raw.trim() : undefined;
      let caller: Call['caller'] = null;
      if (!spec.anonymous(parts)) {
        const auth = platform.authenticate(token, now);
        if (auth instanceof ApiError) {
          answer({ status: auth.status, json: auth.body });
          record(auth.status);
          return;
        }
        caller = auth;
        keyId = auth.key.id;
      }
      try {
        reply = spec.handle({ platform, method, parts, query: url.searchParams, body, caller, now });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        reply = { status: err.status, json: err.body };
      }
    }
    if (fault?.action === 'drop-after') {
      req.socket.destroy();
      record(0);
      return;
    }
    if (fault?.action === 'delay-after') await sleep(fault.delayMs ?? 0, undefined, { signal: shutdown.signal }).catch(() => undefined);
    if (shutdown.signal.aborted) {
      res.destroy();
      return;
    }
    // Acted on, then a success without a body (as Vultr's OpenAPI document describes its create).
    if (fault?.action === 'empty-answer' && reply.status >= 200 && reply.status < 300) reply = { status: 202, raw: '' };
    // Declared JSON but not JSON, like a proxy's error page.
    answer(fault?.action === 'malformed' ? { status: 200, raw: '<html><body>502 Bad Gateway</body></html>' } : reply);
    record(reply.status);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (res.headersSent || res.destroyed || shutdown.signal.aborted) res.destroy();
      else send(res, { status: 500, json: { error: 'internal sandbox error' } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new UsageError(say`Port ${displayText(`${options.port}`)} on ${displayText(host)} is already in use.`, { hint: say`Pick another port, or 0 for any free port.` })
          : err,
      ),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const url = `${origin}${spec.prefix}`;
  let closed: Promise<void> | undefined;
  return {
    dialect,
    url,
    controlUrl: `${origin}/__sandbox`,
    adminKey,
    env: { [ENV[dialect].url]: url, [ENV[dialect].key]: adminKey },
    snapshot,
    issued: () => platform.issued.map((key) => ({ id: key.id, plaintext: key.plaintext })),
    requests: () => log.map((entry) => ({ ...entry })),
    mint,
    revoke,
    setRefreshMs: (ms) => {
      platform.refreshMs = ms;
    },
    setRevokeIneffective: (on) => {
      platform.revokeIneffective = on;
    },
    setForcedScopes: (scopes) => {
      platform.forcedScopes = scopes;
    },
    setCreateAnswerWithoutId: (on) => {
      platform.createAnswerWithoutId = on;
    },
    addFault: (fault) => faults.add(fault),
    clearFaults: () => faults.clear(),
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        shutdown.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= 64 * 1024) chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, reply: Reply): void {
  if (reply.status === 204) {
    res.writeHead(204).end();
    return;
  }
  const payload = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.raw ?? '');
  res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }).end(payload);
}
