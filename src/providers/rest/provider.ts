// A Provider for any REST key API that a declarative definition (definition.ts) describes: Grafana's service-account
// tokens, keyrot's example service-account platform, or a user's own (--provider-file). This is the only code that reads such an API's
// JSON; where a field sits comes from the definition, never from code.
import { singleLine } from '../../core/mask.js';
import { NotFoundError, ProviderResponseError } from '../../errors.js';
import { readCreateAnswer } from '../create-answer.js';
import { providerHttpClient, type HttpClient, type HttpClientDeps } from '../http.js';
import { pathSegment, uniqueById } from '../ids.js';
import type { ApiKey, AuthCheck, CreatedKey, CreateKeyInput, Identity, Provider, ProviderCapabilities, ProviderFactory, ProviderOptions, UsageObservation, User } from '../types.js';
import type { RestDefinition } from './definition.js';
import { say, displayText } from '../../ui/display-text.js';

/** A guard against a page loop: far beyond any real account. */
const MAX_PAGES = 1000;

export class RestProvider implements Provider {
  readonly id: string;
  readonly displayName: string;
  readonly capabilities: ProviderCapabilities;
  readonly #def: RestDefinition;
  readonly #http: HttpClient;
  readonly #now: () => number;

  constructor(def: RestDefinition, options: ProviderOptions, deps: HttpClientDeps = {}) {
    this.#def = def;
    this.id = def.id;
    this.displayName = def.displayName;
    const createBody = JSON.stringify(def.keys.create.body);
    this.capabilities = {
      usageSignal: def.lastUsed ? 'per-key' : 'none',
      keyExpiry: createBody.includes('"{expiresAt}"') || createBody.includes('"{secondsToLive}"'),
      ...(def.lastUsed ? { usageRefreshMs: def.lastUsed.refreshSeconds * 1000 } : {}),
      keyManagement: 'api',
    };
    this.#now = deps.now ?? Date.now;
    this.#http = providerHttpClient(options, deps, {
      name: def.displayName,
      auth: def.auth,
      hints: {
        unauthorized: say`Check the admin key (${displayText(def.adminKeyEnv)}): it may be mistyped, revoked or expired.`,
        forbidden: say`Listing and issuing ${displayText(def.displayName)} keys needs an admin key with the right role (an admin or owner).`,
      },
    });
    if (def.keys.expire) this.setKeyExpiry = (userId, keyId, expiresAt) => this.#expire(userId, keyId, expiresAt);
  }

  setKeyExpiry?: (userId: string, keyId: string, expiresAt: Date | null) => Promise<void>;

  async close(): Promise<void> {
    await this.#http.close();
  }

  /**
   * Who the admin key is. When the API names the admin key's own account (identity.account), `email` is that
   * account's label, as --user and list-users show it, so that account is known as the admin key's own (rotate
   * refuses it, rotate --all leaves it out) and `name` is the identity's label; otherwise `email` is the label.
   */
  async whoami(): Promise<Identity> {
    const { identity } = this.#def;
    const body = (await this.#http.request('GET', identity.path, { what: 'show the account' })).body;
    const label = text(at(body, identity.label), { path: identity.path, field: identity.label }, this.displayName);
    const own = identity.account === null ? null : await this.#ownAccount(identity.account);
    if (own !== null) return { email: own, name: label, acls: [] };
    return { email: label, name: identity.name === null ? '' : optionalText(at(body, identity.name)), acls: [] };
  }

  /** The label of the admin key's own account, or null when the API does not say (a 4xx, no such field). */
  async #ownAccount(where: { path: string; field: string }): Promise<string | null> {
    const res = await this.#http.request('GET', where.path, { passStatuses: [400, 403, 404], expectBody: false, what: "show the admin key's own account" });
    if (res.status >= 300) return null;
    const value = optionalText(at(res.body, where.field));
    return value === '' ? null : value;
  }

  async listUsers(): Promise<User[]> {
    const { accounts } = this.#def;
    if (!accounts.pages) return this.#items(await this.#get(accounts.list), accounts.items, accounts.list).map((a) => this.#user(a));
    const users: User[] = [];
    const seen = new Set<string>();
    for (let page = 1; page <= MAX_PAGES; page++) {
      const query = { [accounts.pages.page]: page, [accounts.pages.size]: accounts.pages.perPage };
      const items = this.#items((await this.#http.request('GET', accounts.list, { query, what: 'list the accounts' })).body, accounts.items, accounts.list);
      const pageUsers = items.map((a) => this.#user(a));
      // A server that ignores the page parameter answers the same page for ever: a full page of nothing new is that loop
      // (the next page could never differ), said at once instead of after MAX_PAGES requests.
      if (pageUsers.length > 0 && pageUsers.every((u) => seen.has(u.id))) {
        throw new ProviderResponseError(
          say`${displayText(this.displayName)} answered page ${page} of the accounts with the same accounts as an earlier page (does it ignore "${displayText(accounts.pages.page)}"?); stopping to avoid a loop.`,
        );
      }
      for (const u of pageUsers) seen.add(u.id);
      users.push(...pageUsers);
      if (items.length < accounts.pages.perPage) return uniqueById(users);
    }
    throw new ProviderResponseError(say`${displayText(this.displayName)} sent more than ${MAX_PAGES} pages of accounts; stopping.`);
  }

  /** By id (GET), or, for a value that is not an id by the definition's pattern, by label or name. */
  async getUser(userId: string): Promise<User> {
    const { accounts } = this.#def;
    if (accounts.idPattern !== null && !new RegExp(accounts.idPattern).test(userId)) {
      const match = (await this.listUsers()).find((u) => u.email === userId || u.name === userId);
      if (!match) throw new NotFoundError(say`${displayText(this.displayName)} has no account with id, login or name "${displayText(userId)}".`, { hint: say`keyrot list-users shows them.` });
      return match;
    }
    return this.#user(await this.#get(fill(accounts.get, userId)));
  }

  async listKeys(userId: string): Promise<ApiKey[]> {
    const { keys } = this.#def;
    const path = fill(keys.list, userId);
    return this.#items(await this.#get(path), keys.items, path)
      .filter((k) => !truthy(keys.fields.revoked === null ? undefined : at(k, keys.fields.revoked)))
      .map((k) => this.#key(k, path));
  }

  createKey(userId: string, input: CreateKeyInput): Promise<CreatedKey> {
    const { create } = this.#def.keys;
    const path = fill(create.path, userId);
    return readCreateAnswer(this.displayName, input.name, async (held) => {
      const answer = (await this.#http.request('POST', path, { json: this.#body(create.body, input), what: `create the key ${input.name}` })).body;
      const secret = at(answer, create.secret);
      if (typeof secret !== 'string' || secret.trim() === '') throw malformed(this.displayName, { path, field: create.secret }, "the new key's plaintext (a non-empty string)");
      held(secret);
      const key = this.#key(at(answer, create.key), path, input.name);
      return { ...key, scopes: key.scopes ?? input.scopes ?? null, expiresAt: key.expiresAt ?? input.expiresAt, lastChars: secret.slice(-5), secret };
    });
  }

  async deleteKey(userId: string, keyId: string): Promise<'deleted' | 'already-gone'> {
    const res = await this.#http.request('DELETE', fill(this.#def.keys.revoke, userId, keyId), { passStatuses: [404], expectBody: false, what: `delete the key ${keyId}` });
    if (res.status !== 404 || res.afterLostAnswer) return res.status === 404 ? 'already-gone' : 'deleted';
    // A 404 at once: a key deleted earlier (a resumed rotation), or an unknown account. Listing tells which.
    if ((await this.listKeys(userId)).some((k) => k.id === keyId)) {
      throw new ProviderResponseError(say`${displayText(this.displayName)} answered 404 to deleting a key that it still lists.`, { data: { keyId } });
    }
    return 'already-gone';
  }

  async checkKey(secret: string): Promise<AuthCheck> {
    const res = await this.#http.request('GET', this.#def.probe.path, { token: secret, passStatuses: [401, 403], expectBody: false, what: 'check a key' });
    if (res.status === 401) return { ok: false, reason: 'rejected', message: res.errorMessage || `${this.displayName} answered 401 Unauthorized.` };
    if (res.status === 403) return { ok: true, limited: res.errorMessage || `${this.displayName} answered 403 Forbidden.` };
    return { ok: true };
  }

  async observeUsage(userId: string, keyId: string): Promise<UsageObservation> {
    const key = (await this.listKeys(userId)).find((k) => k.id === keyId);
    return { lastUsedAt: key?.lastUsedAt ?? null };
  }

  async #expire(userId: string, keyId: string, expiresAt: Date | null): Promise<void> {
    const expire = this.#def.keys.expire;
    if (!expire) return;
    await this.#http.request(expire.method, fill(expire.path, userId, keyId), {
      json: this.#body(expire.body, { name: '', expiresAt }),
      expectBody: false,
      what: `set the expiry of the key ${keyId}`,
    });
  }

  #get(path: string): Promise<unknown> {
    return this.#http.request('GET', path, { what: 'list the keys' }).then((r) => r.body);
  }

  #items(body: unknown, where: string, path: string): unknown[] {
    const items = at(body, where);
    if (!Array.isArray(items)) throw malformed(this.displayName, { path, field: where }, 'a list');
    return items;
  }

  #user(record: unknown): User {
    const f = this.#def.accounts.fields;
    const where = this.#def.accounts.list;
    const name = f.name === null ? '' : optionalText(at(record, f.name));
    return {
      id: id(at(record, f.id), { path: where, field: f.id }, this.displayName),
      email: text(at(record, f.label), { path: where, field: f.label }, this.displayName),
      name,
      apiEnabled: true,
      serviceUser: true,
      acls: [],
      lastActivity: null,
    };
  }

  #key(record: unknown, where: string, fallbackName?: string): ApiKey {
    const f = this.#def.keys.fields;
    const field = (path: string | null) => (path === null ? undefined : at(record, path));
    const nameValue = field(f.name);
    const lastChars = field(f.lastChars);
    const key: ApiKey = {
      id: id(field(f.id), { path: where, field: f.id }, this.displayName),
      name: fallbackName !== undefined && (nameValue === undefined || nameValue === null) ? fallbackName : text(nameValue, { path: where, field: f.name }, this.displayName),
      lastChars: typeof lastChars === 'string' && lastChars !== '' ? lastChars.slice(-5) : null,
      expiresAt: date(field(f.expiresAt), { path: where, field: f.expiresAt ?? '' }, this.displayName),
    };
    if (f.scopes !== null) key.scopes = scopes(field(f.scopes));
    if (f.lastUsedAt !== null) key.lastUsedAt = date(field(f.lastUsedAt), { path: where, field: f.lastUsedAt }, this.displayName);
    return key;
  }

  /** A body template filled in: a placeholder without a value leaves its field out. */
  #body(template: Record<string, unknown>, input: CreateKeyInput): Record<string, unknown> {
    const values: Record<string, unknown> = {
      '{name}': input.name,
      '{expiresAt}': input.expiresAt?.toISOString() ?? null,
      '{secondsToLive}': input.expiresAt ? Math.max(1, Math.ceil((input.expiresAt.getTime() - this.#now()) / 1000)) : null,
      '{scopes}': input.scopes ?? null,
    };
    const body: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(template)) {
      if (typeof value === 'string' && Object.hasOwn(values, value)) {
        if (values[value] !== null) body[key] = values[value];
      } else {
        body[key] = value;
      }
    }
    return body;
  }
}

/** The value at a dotted field path ("" = the value itself); undefined when absent. */
export function at(value: unknown, path: string): unknown {
  if (path === '') return value;
  let current: unknown = value;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** A path template with its account and key ids in, each as one safe URL segment. */
function fill(template: string, account: string, key?: string): string {
  const filled = template.replace('{account}', pathSegment(account));
  return key === undefined ? filled : filled.replace('{key}', pathSegment(key));
}

/** Where a value was read: the request path and the field path in its answer. */
interface Loc {
  path: string;
  field: string;
}

function malformed(service: string, loc: Loc, expected: string): ProviderResponseError {
  const { path: where, field } = loc;
  return new ProviderResponseError(say`${displayText(service)} sent an answer keyrot cannot read: ${displayText(where)}: ${displayText(field || 'the answer')} is not ${displayText(expected)}.`, {
    hint: say`Check the base URL, or the provider definition (--provider-file) against the API.`,
    data: { field },
  });
}

/** Provider text (a name, a login, an id) as the one line it is meant to be (see singleLine), read where it arrives. */
function text(value: unknown, loc: Loc, service: string): string {
  if (typeof value === 'string' && value !== '') return singleLine(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw malformed(service, loc, 'a non-empty string');
}

function optionalText(value: unknown): string {
  return typeof value === 'string' ? singleLine(value) : typeof value === 'number' ? String(value) : '';
}

function id(value: unknown, loc: Loc, service: string): string {
  const s = text(value, loc, service);
  // An id is used as a URL segment later: one that could not be is refused now, as a malformed answer.
  try {
    pathSegment(s);
  } catch {
    throw malformed(service, loc, 'an id usable in a URL');
  }
  return s;
}

/** An ISO 8601 string, epoch seconds (or milliseconds), or nothing ("", null, absent, Go's zero time). */
function date(value: unknown, loc: Loc, service: string): Date | null {
  if (value === undefined || value === null || value === '' || value === 0) return null;
  let parsed: Date;
  if (typeof value === 'number') parsed = new Date(value < 1e12 ? value * 1000 : value);
  else if (typeof value === 'string') parsed = new Date(value);
  else throw malformed(service, loc, 'a date');
  if (Number.isNaN(parsed.getTime())) throw malformed(service, loc, 'a date');
  // Go's zero time ("0001-01-01T00:00:00Z") means "never".
  return parsed.getUTCFullYear() <= 1 ? null : parsed;
}

/** A list of strings, or one string of them separated by spaces or commas. */
function scopes(value: unknown): string[] | null {
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string').sort();
  if (typeof value === 'string')
    return value
      .split(/[\s,]+/)
      .filter(Boolean)
      .sort();
  return null;
}

function truthy(value: unknown): boolean {
  return value !== undefined && value !== null && value !== false && value !== '' && value !== 0;
}

/** A ProviderFactory for a validated definition. */
export function restFactory(def: RestDefinition): ProviderFactory {
  return {
    id: def.id,
    displayName: def.displayName,
    defaultBaseUrl: def.baseUrl,
    adminKeyEnv: def.adminKeyEnv,
    baseUrlEnv: def.baseUrlEnv,
    create: (options) => new RestProvider(def, options),
  };
}
