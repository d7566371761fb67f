// Kubeadapt (seed 004): keys are minted and revoked only in its dashboard (Settings → API Keys), never through its
// API, so a rotation is assisted: keyrot says what to click, takes the minted key, proves it, hands it over and
// polls until the revoked key gets 401. Public facts (Kubeadapt's API reference, authentication page): base URL
// https://public-api.kubeadapt.io/v1; keys are `ka_live_` + 32 base62 characters sent as a Bearer token; 401 means
// a missing or invalid key, 403 a valid key without the scope or cluster (so a 403 proves the key is valid); a
// revoked key gets 401 at once; both keys stay valid until the old one is revoked. Kubeadapt reports no usage.
//
// keyrot runs with the key being rotated (KUBEADAPT_API_KEY, --api-key-stdin or the keychain): it is the only key
// it can see, and is identified by a digest of its plaintext (the dashboard shows ids to no API).
import { createHash } from 'node:crypto';
import { maskSecret } from '../../core/mask.js';
import { NotFoundError, UsageError } from '../../errors.js';
import { providerHttpClient, type HttpClient, type HttpClientDeps } from '../http.js';
import type { ApiKey, AuthCheck, CreatedKey, Identity, OperatorSteps, Provider, ProviderCapabilities, ProviderFactory, ProviderOptions, UsageObservation, User } from '../types.js';

const KEY_SHAPE = /^ka_live_[A-Za-z0-9]{32}$/;
/** The probe: any valid key gets 2xx, or 403 without clusters:read; only an invalid or revoked key gets 401. */
const PROBE = '/clusters';
/**
 * What a key is checked against: each public endpoint, so a replacement minted without one of the old key's scopes
 * (costs:read) is caught before the hand-over, not by the consumers' 403s after the revoke.
 */
const PROBES = ['/clusters', '/costs'];
const DASHBOARD = "Kubeadapt's dashboard (Settings → API Keys)";
/** The dashboard name of the key keyrot runs with, unless --key gives it. */
const DEFAULT_KEY_NAME = 'api-key';

const ORGANIZATION: User = { id: 'org', email: 'organization', name: 'Kubeadapt organization', apiEnabled: true, serviceUser: false, acls: [], lastActivity: null };

/** A Kubeadapt key as keyrot names it: `ka-` and 12 hex digits of its SHA-256 (nothing of the key itself). */
export function identifyKubeadaptKey(secret: string, name: string): CreatedKey {
  if (!KEY_SHAPE.test(secret)) {
    throw new UsageError('That is not a Kubeadapt API key: they are ka_live_ followed by 32 letters and digits.', { hint: 'Copy the key from the dialog Kubeadapt shows once, right after + Create Key.' });
  }
  return { id: `ka-${createHash('sha256').update(secret).digest('hex').slice(0, 12)}`, name, lastChars: secret.slice(-5), expiresAt: null, scopes: null, secret };
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

  constructor(options: ProviderOptions, deps: HttpClientDeps = {}) {
    this.#adminKey = options.adminKey;
    this.#http = providerHttpClient(options, deps, {
      name: 'Kubeadapt',
      hints: { unauthorized: 'Check KUBEADAPT_API_KEY: it may be mistyped or revoked (after a rotation, the new key is in the keychain).' },
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
    throw new NotFoundError(`Kubeadapt keys belong to the organization: there is no user "${userId}".`, { hint: 'Leave --user out.' });
  }

  /** The only key keyrot can see: the one it runs with (the dashboard is not on the API). */
  async listKeys(): Promise<ApiKey[]> {
    const { secret: _secret, ...key } = identifyKubeadaptKey(this.#adminKey, DEFAULT_KEY_NAME);
    return [key];
  }

  async createKey(): Promise<CreatedKey> {
    throw new UsageError(`Kubeadapt keys are minted only in ${DASHBOARD}.`, { hint: 'keyrot rotate --provider kubeadapt walks you through it.' });
  }

  async deleteKey(): Promise<'deleted' | 'already-gone'> {
    throw new UsageError(`Kubeadapt keys are revoked only in ${DASHBOARD}.`);
  }

  /**
   * Probes each public endpoint with the key: 401 on any is a rejected key; a 403 is a valid key without that scope
   * (`refused`); the clusters it lists are what it reaches (`reach`): another organization's key sees other ones.
   */
  async checkKey(secret: string): Promise<AuthCheck> {
    const refused: string[] = [];
    let limited: string | undefined;
    let reach: string[] | undefined;
    for (const probe of PROBES) {
      const res = await this.#http.request('GET', probe, { token: secret, passStatuses: [401, 403], what: 'check a key' });
      if (res.status === 401) return { ok: false, reason: 'rejected', message: res.errorMessage || 'Kubeadapt answered 401 Unauthorized.' };
      if (res.status === 403) {
        refused.push(probe);
        limited ??= res.errorMessage || 'Kubeadapt answered 403 Forbidden.';
      } else if (probe === PROBE) {
        reach = clusterIds(res.body);
      }
    }
    return { ok: true, ...(limited === undefined ? {} : { limited, refused }), ...(reach ? { reach } : {}) };
  }

  async observeUsage(): Promise<UsageObservation> {
    return { lastUsedAt: null };
  }
}

/** The cluster ids of a /clusters answer ({"clusters": [{"id"}]} or a bare list), sorted; undefined when unreadable. */
function clusterIds(body: unknown): string[] | undefined {
  const list = Array.isArray(body) ? body : body && typeof body === 'object' ? (body as { clusters?: unknown }).clusters : undefined;
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
