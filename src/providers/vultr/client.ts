// The only code that knows Vultr's URLs and request bodies: plain typed functions over an HttpClient.
// Each function names what it may throw beyond HttpClient.request's usual errors.
import { providerHttpClient, type HttpClient } from '../http.js';
import { pathSegment, uniqueById } from '../ids.js';
import type { HttpClientDeps } from '../http.js';
import type { ProviderOptions } from '../types.js';
import { ProviderResponseError } from '../../errors.js';
import { parseAccount, parseApiKeyPage, parseCreatedApiKey, parseUserPage, parseUserResponse } from './schemas.js';
import type { VultrAccount, VultrApiKey, VultrCreatedApiKey, VultrPage, VultrUser } from './schemas.js';
import { say, displayText, type DisplayText } from '../../ui/display-text.js';

/**
 * How Vultr may say "no such id" on a by-id path: 404, or 400, the only 4xx besides 401 its OpenAPI document lists
 * there. keyrot's requests are well-formed, so a 400 on such a path means the id is unknown.
 */
export const NOT_FOUND: readonly number[] = [404, 400];

/** Vultr's maximum page size for /users. */
export const MAX_PER_PAGE = 500;
/** A guard against a cursor loop: far beyond any real account (500 × 1000 users). */
const MAX_PAGES = 1000;

/** An HttpClient with Vultr's name and hints, for the admin key in `options`. */
export function createVultrHttpClient(options: ProviderOptions, deps: HttpClientDeps = {}): HttpClient {
  return providerHttpClient(options, deps, {
    name: 'Vultr',
    hints: {
      // keyrot's context replaces it with one that names where the admin key came from (src/cli/context.ts).
      unauthorized: say`Check the admin API key: it may be mistyped, deleted or expired.`,
      ipNotAllowed: say`Add this machine's public IP address to the key's access control list in the Vultr console (Account → API).`,
      forbidden: say`User endpoints need the API key of the account root user or of a user with the manage_users permission.`,
      notFound: missingApiPathHint(options.baseUrl),
    },
  });
}

/** Where Vultr's API v2 lives below its host. */
const API_PATH = '/v2';

/**
 * A base URL that does not end in /v2 (https://api.vultr.com) makes every call a 404 or a web page: the hint
 * says what to set instead. Undefined when the path is there.
 */
export function missingApiPathHint(baseUrl: string): DisplayText | undefined {
  let path: string;
  try {
    path = new URL(baseUrl).pathname.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
  if (path.endsWith(API_PATH)) return undefined;
  const fixed = `${baseUrl.replace(/\/+$/, '')}${API_PATH}`;
  return say`The API URL ${displayText(baseUrl, 200)} does not end in ${displayText(API_PATH)}, where Vultr's API lives: set --api-url or VULTR_API_URL (or the profile's api-url) to ${displayText(fixed, 200)}.`;
}

const seg = pathSegment;

/** One page of GET /users. `cursor` is the opaque `next` of the previous page. */
export async function listUsersPage(http: HttpClient, cursor?: string, perPage: number = MAX_PER_PAGE): Promise<VultrPage<VultrUser>> {
  const res = await http.request('GET', '/users', { query: { per_page: perPage, cursor }, what: 'list the users' });
  return parseUserPage(res.body);
}

/** GET /users/{id}. NotFoundError for an unknown user. */
export async function getUser(http: HttpClient, userId: string): Promise<VultrUser> {
  const res = await http.request('GET', `/users/${seg(userId)}`, { what: `read user ${userId}` });
  return parseUserResponse(res.body);
}

/**
 * Every key of a user (keys listed masked). Pagination is not documented for this endpoint; a `meta.links.next`
 * is followed if Vultr ever sends one. ProviderResponseError if a cursor repeats.
 */
export async function listUserApiKeys(http: HttpClient, userId: string): Promise<VultrApiKey[]> {
  const keys: VultrApiKey[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const res = await http.request('GET', `/users/${seg(userId)}/apikeys`, { query: { cursor }, what: `list the keys of user ${userId}` });
    const parsed = parseApiKeyPage(res.body);
    keys.push(...parsed.items);
    if (parsed.next === null) return uniqueById(keys);
    assertNewCursor(seen, parsed.next, 'api_keys');
    cursor = parsed.next;
  }
  throw tooManyPages('api_keys');
}

/** GET /apikeys: the keys of the user whose key authenticates the call (listed masked). */
export async function listOwnApiKeys(http: HttpClient): Promise<VultrApiKey[]> {
  const res = await http.request('GET', '/apikeys', { what: 'list your own keys' });
  return parseApiKeyPage(res.body).items;
}

/** POST /apikeys: a key for the caller's own user; the answer carries the plaintext (per the spec). */
export async function createOwnApiKey(http: HttpClient, input: CreateApiKeyInput): Promise<VultrCreatedApiKey> {
  const res = await http.request('POST', '/apikeys', { json: createBody(input), what: `create your own key ${input.name}` });
  return parseCreatedApiKey(res.body);
}

/** DELETE /apikeys/{id}: as deleteUserApiKey, for the caller's own user. */
export async function deleteOwnApiKey(http: HttpClient, keyId: string): Promise<'deleted' | 'already-gone' | 'not-found'> {
  const res = await http.request('DELETE', `/apikeys/${seg(keyId)}`, { passStatuses: NOT_FOUND, what: `delete your own key ${keyId}` });
  if (!NOT_FOUND.includes(res.status)) return 'deleted';
  return res.afterLostAnswer ? 'already-gone' : 'not-found';
}

export interface CreateApiKeyInput {
  name: string;
  /** null: never expires. */
  expiresAt: Date | null;
}

/**
 * POST /users/{id}/apikeys. Never retried once sent (CreateOutcomeUnknownError when the answer is lost). A 201
 * or 202 is accepted; the answer must carry the plaintext (ProviderResponseError otherwise, though the key was
 * then most likely created).
 */
export async function createUserApiKey(http: HttpClient, userId: string, input: CreateApiKeyInput): Promise<VultrCreatedApiKey> {
  const res = await http.request('POST', `/users/${seg(userId)}/apikeys`, { json: createBody(input), what: `create key ${input.name} for user ${userId}` });
  return parseCreatedApiKey(res.body);
}

function createBody(input: CreateApiKeyInput): Record<string, unknown> {
  return input.expiresAt === null ? { name: input.name, expire: false } : { name: input.name, expire: true, date_expire: vultrDate(input.expiresAt) };
}

/**
 * DELETE /users/{id}/apikeys/{keyId}. 'already-gone': 404 after an attempt whose answer was lost (that attempt
 * deleted it). 'not-found': 404 at once, which Vultr also sends for an unknown user: the caller decides.
 */
export async function deleteUserApiKey(http: HttpClient, userId: string, keyId: string): Promise<'deleted' | 'already-gone' | 'not-found'> {
  const res = await http.request('DELETE', `/users/${seg(userId)}/apikeys/${seg(keyId)}`, { passStatuses: NOT_FOUND, what: `delete key ${keyId} of user ${userId}` });
  if (!NOT_FOUND.includes(res.status)) return 'deleted';
  return res.afterLostAnswer ? 'already-gone' : 'not-found';
}

/** GET /account, with the client's admin key or `tokenOverride`. */
export async function getAccount(http: HttpClient, tokenOverride?: string): Promise<VultrAccount> {
  const res = await http.request('GET', '/account', { token: tokenOverride, what: 'show the account' });
  return parseAccount(res.body);
}

export type AccountProbe = { status: 'ok' } | { status: 'unauthorized' | 'forbidden'; message: string };

/**
 * Whether `token` authenticates: GET /account, the cheapest authenticated call. 401/403 are answers, not
 * errors (and are not retried); the body of a 2xx is not inspected. Throws when Vultr cannot be reached.
 */
export async function probeAccount(http: HttpClient, token: string): Promise<AccountProbe> {
  const res = await http.request('GET', '/account', { token, passStatuses: [401, 403], expectBody: false, what: 'check a key' });
  if (res.status === 401) return { status: 'unauthorized', message: res.errorMessage };
  if (res.status === 403) return { status: 'forbidden', message: res.errorMessage };
  return { status: 'ok' };
}

/** "2030-01-01T00:00:00Z", the form of Vultr's own examples (no milliseconds). */
function vultrDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function assertNewCursor(seen: Set<string>, cursor: string, list: string): void {
  if (seen.has(cursor)) {
    throw new ProviderResponseError(say`Vultr sent the same ${displayText(list)} page cursor twice; stopping to avoid a loop.`, {
      data: { field: 'meta.links.next' },
    });
  }
  seen.add(cursor);
}

function tooManyPages(list: string): ProviderResponseError {
  return new ProviderResponseError(say`Vultr sent more than ${MAX_PAGES} pages of ${displayText(list)}; stopping.`);
}

/** Page-walking helper shared with the provider's listUsers. */
export async function listAllUsers(http: HttpClient, perPage: number = MAX_PER_PAGE): Promise<VultrUser[]> {
  const users: VultrUser[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const parsed = await listUsersPage(http, cursor, perPage);
    users.push(...parsed.items);
    if (parsed.next === null) return uniqueById(users);
    assertNewCursor(seen, parsed.next, 'users');
    cursor = parsed.next;
  }
  throw tooManyPages('users');
}
