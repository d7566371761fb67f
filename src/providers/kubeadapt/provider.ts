// Kubeadapt: keys are minted and revoked only in its dashboard (Settings → API Keys), never through its API, so a
// rotation is assisted: keyrot says what to click, takes the minted key, proves it, hands it over and polls until the
// revoked key is rejected. Every fact below is from Kubeadapt's public docs (kubeadapt.io/docs/v1), of which two
// generations exist and keyrot works with both:
// - API Reference → Authentication (https://kubeadapt.io/docs/v1/api-reference/authentication): base URL
//   https://public-api.kubeadapt.io/v1; keys are `ka_live_` + 32 base62 characters ("there are no other formats"),
//   sent only as a Bearer token; a key belongs to one organization and may carry a cluster allow-list; 401 = missing,
//   malformed, unknown or revoked key; 403 = a valid key without the endpoint's scope, or a cluster outside its list.
// - API Reference → Permission Scopes (https://www.kubeadapt.io/docs/v1/api-reference/permission-scopes): the read
//   scopes and the endpoints each one opens (current: nine scopes; earlier: ten, with different names).
// - API Reference → Overview and Error Handling (https://kubeadapt.io/docs/v1/api-reference/overview,
//   https://www.kubeadapt.io/docs/v1/api-reference/errors): current answers are `{data, meta}`, failures
//   `{data: null, meta, error: {code, message}}`; earlier answers are bare (`{"clusters": [...]}`) and failures
//   `{"detail": "..."}`. The earlier error page also lists "the key has been revoked" under 403.
// - How-to → Rotate an API key: both keys stay valid until the old one is revoked; a revoked key gets 401 at once.
// Kubeadapt reports no per-key usage.
//
// keyrot runs with the key being rotated (KUBEADAPT_API_KEY, --api-key-stdin or the keychain): it is the only key
// it can see, and is identified by a digest of its plaintext (the dashboard shows ids to no API).
import { maskSecret, sanitizeForDisplay } from '../../core/mask.js';
import { NotFoundError, ProviderResponseError, UsageError } from '../../errors.js';
import { providerHttpClient, type HttpClient, type HttpClientDeps } from '../http.js';
import type { ApiKey, AuthCheck, CreatedKey, Identity, OperatorSteps, Provider, ProviderCapabilities, ProviderFactory, ProviderOptions, UsageObservation, User } from '../types.js';
import { say, displayText } from '../../ui/display-text.js';
import { sha256Hex } from '../../random.js';

const KEY_SHAPE = /^ka_live_[A-Za-z0-9]{32}$/;
/** The probe: any valid key gets 2xx, or 403 without clusters:read; only an invalid or revoked key gets 401. */
const PROBE = '/clusters';
/**
 * What a key is checked against: one GET list endpoint for each documented scope, of both doc generations (Permission
 * Scopes), so a replacement minted without one of the old key's scopes is caught before the hand-over, not by the
 * consumers' 403s after the revoke. An endpoint the server does not have (404: the other generation's) proves nothing
 * and is skipped. `cost_explorer:read` is left out: its only documented endpoint is a POST query.
 */
export const SCOPE_PROBES: ReadonlyArray<{ path: string; scope: string }> = [
  // Both generations.
  { path: '/clusters', scope: 'clusters:read' },
  { path: '/namespaces', scope: 'namespaces:read' },
  { path: '/workloads', scope: 'workloads:read' },
  { path: '/nodes', scope: 'nodes:read' },
  { path: '/recommendations', scope: 'recommendations:read' },
  // Current docs.
  { path: '/organization', scope: 'organization:read' },
  { path: '/teams', scope: 'teams:read' },
  { path: '/departments', scope: 'departments:read' },
  // Earlier docs.
  { path: '/node-groups', scope: 'node_groups:read' },
  { path: '/persistent-volumes', scope: 'persistent_volumes:read' },
  { path: '/costs/teams', scope: 'costs:teams:read' },
  { path: '/costs/departments', scope: 'costs:departments:read' },
  { path: '/overview', scope: 'overview:read' },
];
const DASHBOARD = "Kubeadapt's dashboard (Settings → API Keys)";
/** The dashboard name of the key keyrot runs with, unless --key gives it. */
const DEFAULT_KEY_NAME = 'api-key';

const ORGANIZATION: User = { id: 'org', email: 'organization', name: 'Kubeadapt organization', apiEnabled: true, serviceUser: false, acls: [], lastActivity: null };

/** A Kubeadapt key as keyrot names it: `ka-` and 12 hex digits of its SHA-256 (nothing of the key itself). */
export function identifyKubeadaptKey(secret: string, name: string): CreatedKey {
  if (!KEY_SHAPE.test(secret)) {
    throw new UsageError(say`That is not a Kubeadapt API key: they are ka_live_ followed by 32 letters and digits.`, {
      hint: say`Copy the key from the dialog Kubeadapt shows once, right after + Create Key.`,
    });
  }
  return { id: `ka-${sha256Hex(secret).slice(0, 12)}`, name, lastChars: secret.slice(-5), expiresAt: null, scopes: null, secret };
}

export class KubeadaptProvider implements Provider {
  readonly id = 'kubeadapt';
  readonly displayName = 'Kubeadapt';
  readonly capabilities: ProviderCapabilities = { usageSignal: 'none', keyExpiry: false, keyManagement: 'operator', singleAccount: true };
  readonly operator: OperatorSteps = {
    mintInstructions: (like, name) =>
      `In ${DASHBOARD} click + Create Key, name it ${name}, and give it the same scopes and cluster allow-list as ${like.name}${like.scopes?.length ? ` (${like.scopes.join(', ')})` : ''}. The key is shown once: copy it.`,
    revokeInstructions: (key) => `In ${DASHBOARD} revoke ${key.name}${key.lastChars ? ` (the key ending ${key.lastChars})` : ''}. Revocation is immediate: it then gets 401.`,
    identify: identifyKubeadaptKey,
  };
  readonly #http: HttpClient;
  readonly #adminKey: string;
  /** Per key (a digest of it): the endpoints that answered it 2xx in this run. */
  readonly #answered = new Map<string, Set<string>>();

  constructor(options: ProviderOptions, deps: HttpClientDeps = {}) {
    this.#adminKey = options.adminKey;
    this.#http = providerHttpClient(options, deps, {
      name: 'Kubeadapt',
      hints: { unauthorized: say`Check KUBEADAPT_API_KEY: it may be mistyped or revoked (after a rotation, the new key is in the keychain).` },
    });
  }

  async close(): Promise<void> {
    await this.#http.close();
  }

  /** Proves the key keyrot runs with is valid (2xx or 403; a 401 is AuthError). */
  async whoami(): Promise<Identity> {
    await this.#http.request('GET', PROBE, { passStatuses: [403], expectBody: false, what: 'check the admin key' });
    return { email: `Kubeadapt key ${maskSecret(this.#adminKey)}`, name: '', acls: [] };
  }

  async listUsers(): Promise<User[]> {
    return [ORGANIZATION];
  }

  async getUser(userId: string): Promise<User> {
    if (userId === ORGANIZATION.id || userId === ORGANIZATION.email) return ORGANIZATION;
    throw new NotFoundError(say`Kubeadapt keys belong to the organization: there is no user "${displayText(userId)}".`, { hint: say`Leave --user out.` });
  }

  /** The only key keyrot can see: the one it runs with (the dashboard is not on the API). */
  async listKeys(): Promise<ApiKey[]> {
    const { secret: _secret, ...key } = identifyKubeadaptKey(this.#adminKey, DEFAULT_KEY_NAME);
    return [key];
  }

  async createKey(): Promise<CreatedKey> {
    throw new UsageError(say`Kubeadapt keys are minted only in ${displayText(DASHBOARD)}.`, { hint: say`keyrot rotate --provider kubeadapt walks you through it.` });
  }

  async deleteKey(): Promise<'deleted' | 'already-gone'> {
    throw new UsageError(say`Kubeadapt keys are revoked only in ${displayText(DASHBOARD)}.`);
  }

  /**
   * Probes each documented scope's endpoint with the key: 401 on any is a rejected key; a 403 is a valid key without
   * that scope (`refused`); the clusters it lists are what it reaches (`reach`): another organization's key, or one with
   * a narrower allow-list, sees fewer. A key's scopes never change (Permission Scopes: "You can't modify scopes after
   * creation"), so an endpoint that answered this key 2xx earlier (in this run, or in `answeredBefore`: a rotation's
   * journal) and answers 403 now means the key was revoked: the earlier error page lists a revoked key under 403.
   */
  async checkKey(secret: string, answeredBefore: readonly string[] = []): Promise<AuthCheck> {
    const refused: string[] = [];
    let limited: string | undefined;
    let reach: string[] | undefined;
    const digest = sha256Hex(secret);
    const answered = this.#answered.get(digest) ?? new Set<string>();
    this.#answered.set(digest, answered);
    for (const path of answeredBefore) answered.add(path);
    for (const { path, scope } of SCOPE_PROBES) {
      const res = await this.#http.request('GET', path, { token: secret, passStatuses: [401, 403, 404], what: 'check a key' });
      if (res.status === 401) return { ok: false, reason: 'rejected', message: res.errorMessage || 'Kubeadapt answered 401 Unauthorized.' };
      if (res.status === 404) continue;
      if (res.status === 403) {
        if (answered.has(path)) {
          return { ok: false, reason: 'rejected', message: `${path} answered 2xx before and 403 now (${res.errorMessage || 'Forbidden'}): a key's scopes never change, so it was revoked` };
        }
        const message = res.errorMessage || `403 Forbidden without ${scope}`;
        refused.push(`${path} (${message})`);
        limited ??= message;
      } else {
        answered.add(path);
        if (path === PROBE) reach = await this.#reach(secret, res.body);
      }
    }
    return { ok: true, ...(limited === undefined ? {} : { limited, refused }), ...(reach ? { reach } : {}), answered: [...answered].sort() };
  }

  /**
   * Every cluster the key reaches, over all pages of GET /clusters. An answer keyrot cannot read (an error envelope
   * inside a 2xx, a list without ids, paging it cannot follow) fails the check: a reach left unread would let a
   * narrower key pass the comparison with the old one.
   */
  async #reach(secret: string, first: unknown): Promise<string[]> {
    const seen = new Set<string>();
    let body = first;
    for (let page = 1; ; page++) {
      const ids = clusterIds(body);
      if (ids === undefined) {
        throw new ProviderResponseError(
          say`Kubeadapt answered GET ${displayText(PROBE)} with 2xx but without a list of clusters keyrot can read${displayText(errorOf(body, secret))}, so it cannot tell which clusters the key reaches.`,
          {
            hint: say`Try again; if it persists, check the base URL (KUBEADAPT_API_URL) and any proxy in between.`,
          },
        );
      }
      const fresh = ids.filter((id) => !seen.has(id));
      for (const id of ids) seen.add(id);
      const next = nextPage(body, page);
      // A page of ids already seen means the server ignores the paging asked for: what it has is read.
      if (next === undefined || (page > 1 && fresh.length === 0)) return [...seen].sort();
      if (page >= MAX_PAGES) throw new ProviderResponseError(say`Kubeadapt sent more than ${MAX_PAGES} pages of clusters; keyrot stopped reading them.`);
      const res = await this.#http.request('GET', PROBE, { token: secret, query: next, what: 'list the clusters a key reaches' });
      body = res.body;
    }
  }

  async observeUsage(): Promise<UsageObservation> {
    return { lastUsedAt: null };
  }
}

/** A guard against a page loop: far beyond any organization's clusters. */
const MAX_PAGES = 1000;

/**
 * The query for the page after `page`, or undefined on the last one. Kubeadapt's API Overview (current docs) puts a
 * list's paging in `meta`; the earlier docs' bare answers carry it beside the list. Neither page names the fields, so
 * every common form is read: a cursor (`next_cursor`, `cursor.next`), page numbers (`page` with `total_pages` or
 * `has_more`), and `has_more`/`next` without either is paging keyrot cannot follow, which fails rather than guesses.
 */
function nextPage(body: unknown, page: number): Record<string, string | number> | undefined {
  const record = asRecord(body);
  const paging = asRecord(record?.meta)?.pagination ?? record?.meta ?? record?.pagination ?? record;
  const p = asRecord(paging) ?? {};
  const cursor = p.next_cursor ?? asRecord(p.cursor)?.next ?? p.nextCursor;
  if (typeof cursor === 'string' && cursor !== '') return { cursor };
  const current = typeof p.page === 'number' ? p.page : page;
  const total = typeof p.total_pages === 'number' ? p.total_pages : typeof p.totalPages === 'number' ? p.totalPages : undefined;
  const more = p.has_more ?? p.hasMore;
  if (total !== undefined) return current < total ? { page: current + 1 } : undefined;
  if (more === true) {
    if (typeof p.page === 'number') return { page: current + 1 };
    throw new ProviderResponseError(say`Kubeadapt says GET /clusters has more pages but not how to ask for the next one, so keyrot cannot read every cluster the key reaches.`);
  }
  return undefined;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** The error an envelope carries (current docs: `error.message`; earlier: `detail`), for the message. */
function errorOf(body: unknown, secret: string): string {
  const record = asRecord(body);
  const message = asRecord(record?.error)?.message ?? record?.detail;
  return typeof message === 'string' && message !== '' ? ` (it said: ${sanitizeForDisplay(message.split(secret).join('[key]'), 200)})` : '';
}

/**
 * The cluster ids of a /clusters answer, sorted; undefined when unreadable. Current docs: the envelope's `data` list;
 * earlier docs: `{"clusters": [...]}`; a bare list is read too.
 */
function clusterIds(body: unknown): string[] | undefined {
  const record = body && typeof body === 'object' && !Array.isArray(body) ? (body as { data?: unknown; clusters?: unknown }) : undefined;
  const list = Array.isArray(body) ? body : Array.isArray(record?.data) ? record.data : record?.clusters;
  if (!Array.isArray(list)) return undefined;
  const ids = list.map((c) => (c && typeof c === 'object' ? (c as { id?: unknown }).id : undefined));
  return ids.every((id): id is string => typeof id === 'string') ? [...ids].sort() : undefined;
}

export const kubeadapt: ProviderFactory = {
  id: 'kubeadapt',
  displayName: 'Kubeadapt',
  defaultBaseUrl: 'https://public-api.kubeadapt.io/v1',
  adminKeyEnv: 'KUBEADAPT_API_KEY',
  baseUrlEnv: 'KUBEADAPT_API_URL',
  create: (options) => new KubeadaptProvider(options),
};
