// The Vultr provider: translates Vultr's users and API keys into keyrot's Provider vocabulary. Vultr has no
// per-key "last used", only the user's last_activity, hence usageSignal 'per-user'.
import { AuthError, NotFoundError, PermissionError, ProviderResponseError, UsageError, isKeyrotError } from '../../errors.js';
import { readCreateAnswer } from '../create-answer.js';
import type { HttpClient, HttpClientDeps } from '../http.js';
import type { ApiKey, AuthCheck, CreatedKey, CreateKeyInput, Identity, OwnKeys, Provider, ProviderCapabilities, ProviderFactory, ProviderOptions, UsageObservation, User } from '../types.js';
import {
  createUserApiKey,
  createVultrHttpClient,
  deleteUserApiKey,
  getAccount,
  getUser,
  listAllUsers,
  createOwnApiKey,
  deleteOwnApiKey,
  listOwnApiKeys,
  listUserApiKeys,
  probeAccount,
} from './client.js';
import { lastCharsOf } from './schemas.js';
import type { VultrApiKey, VultrCreatedApiKey, VultrUser } from './schemas.js';
import { say, displayText } from '../../ui/display-text.js';

const IP_NOT_ALLOWED = /^Unauthorized IP address/i;

export class VultrProvider implements Provider {
  readonly id = 'vultr';
  readonly displayName = 'Vultr';
  readonly capabilities: ProviderCapabilities = { usageSignal: 'per-user', keyExpiry: true, managePermission: 'manage_users' };
  readonly #http: HttpClient;
  readonly #adminKey: string;

  /** `deps` replaces the clock, sleep, jitter or rate limiter (tests, tuning); production passes none. */
  constructor(options: ProviderOptions, deps: HttpClientDeps = {}) {
    this.#http = createVultrHttpClient(options, deps);
    this.#adminKey = options.adminKey;
  }

  /**
   * A call to the user endpoints, with the answers Vultr's spec leaves open made plain: a 400 on a by-id path is an
   * unknown id (NotFoundError); a 401 although the admin key authenticates (GET /account answers 200) is a key
   * without manage_users (PermissionError), as a 403 would be.
   */
  async #users<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const data = isKeyrotError(err) ? (err.data ?? {}) : {};
      if (err instanceof UsageError && data['status'] === 400) {
        throw new NotFoundError(
          say`Vultr knows no ${displayText(what)}${data['providerMessage'] ? say` (it answered 400: ${displayText(String(data['providerMessage']))})` : say` (it answered 400)`}.`,
          {
            hint: say`keyrot list-users and list-keys show the ids.`,
            data,
          },
        );
      }
      if (err instanceof AuthError && data['reason'] !== 'ip-not-allowed' && (await probeAccount(this.#http, this.#adminKey)).status === 'ok') {
        throw new PermissionError(
          say`Vultr refused the user endpoints (401: ${displayText(String(data['providerMessage'] ?? 'Unauthorized'))}), yet the admin key authenticates: its user lacks the manage_users permission.`,
          {
            hint: say`Use a key of the account root or of a user with the manage_users permission.`,
            data,
          },
        );
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.#http.close();
  }

  async whoami(): Promise<Identity> {
    const account = await getAccount(this.#http);
    return { email: account.email, name: account.name, acls: account.acls };
  }

  async listUsers(): Promise<User[]> {
    return this.#users('users', async () => (await listAllUsers(this.#http)).map(toUser));
  }

  async getUser(userId: string): Promise<User> {
    return this.#users(`user with id ${userId}`, async () => toUser(await getUser(this.#http, userId)));
  }

  async listKeys(userId: string): Promise<ApiKey[]> {
    return this.#users(`user with id ${userId}`, async () => (await listUserApiKeys(this.#http, userId)).map(toApiKey));
  }

  ownKeys(): OwnKeys {
    const http = this.#http;
    return {
      list: async () => (await listOwnApiKeys(http)).map(toApiKey),
      create: (input) => created(createOwnApiKey(http, input), input),
      delete: async (keyId) => {
        const outcome = await deleteOwnApiKey(http, keyId);
        if (outcome !== 'not-found') return outcome;
        if ((await listOwnApiKeys(http)).some((key) => key.id === keyId)) {
          throw new ProviderResponseError(say`Vultr answered 404 to deleting a key that it still lists.`, { data: { keyId } });
        }
        return 'already-gone';
      },
    };
  }

  createKey(userId: string, input: CreateKeyInput): Promise<CreatedKey> {
    return created(createUserApiKey(this.#http, userId, input), input);
  }

  async deleteKey(userId: string, keyId: string): Promise<'deleted' | 'already-gone'> {
    const outcome = await this.#users(`key ${keyId}`, () => deleteUserApiKey(this.#http, userId, keyId));
    if (outcome !== 'not-found') return outcome;
    // A 404 at once is either a key deleted earlier (a resumed rotation) or an unknown user. Listing tells
    // which: it throws NotFoundError for an unknown user.
    const keys = await this.listKeys(userId);
    if (keys.some((key) => key.id === keyId)) {
      throw new ProviderResponseError(say`Vultr answered 404 to deleting a key that it still lists.`, {
        data: { keyId },
      });
    }
    return 'already-gone';
  }

  async checkKey(secret: string): Promise<AuthCheck> {
    const probe = await probeAccount(this.#http, secret);
    if (probe.status === 'ok') return { ok: true };
    if (probe.status === 'forbidden') {
      return { ok: false, reason: 'forbidden', message: probe.message || 'Vultr answered 403 Forbidden.' };
    }
    const reason = IP_NOT_ALLOWED.test(probe.message) ? 'ip-not-allowed' : 'rejected';
    return { ok: false, reason, message: probe.message || 'Vultr answered 401 Unauthorized.' };
  }

  async observeUsage(userId: string, _keyId: string): Promise<UsageObservation> {
    const user = await getUser(this.#http, userId);
    return { lastUsedAt: user.lastActivity };
  }
}

/** The answer to a create as keyrot's CreatedKey; a 2xx without a usable plaintext is KeyNotReturnedError. */
function created(answer: Promise<VultrCreatedApiKey>, input: CreateKeyInput): Promise<CreatedKey> {
  // Vultr's own OpenAPI document describes a create's answer as "202 Accepted" with no body: readCreateAnswer.
  return readCreateAnswer('Vultr', input.name, async () => {
    const key = await answer;
    return {
      id: key.id,
      name: key.name || input.name,
      lastChars: key.apiKey.slice(-5),
      // Vultr's echo of the expiry wins; without one, the requested expiry (reporting an expiring key as
      // never-expiring would be the worse mistake).
      expiresAt: key.dateExpire ?? input.expiresAt,
      secret: key.apiKey,
    };
  });
}

function toUser(user: VultrUser): User {
  const fullName = `${user.firstName} ${user.lastName}`.trim();
  return {
    id: user.id,
    email: user.email,
    name: fullName || user.name.trim(),
    apiEnabled: user.apiEnabled,
    serviceUser: user.serviceUser,
    acls: user.acls,
    lastActivity: user.lastActivity,
  };
}

function toApiKey(key: VultrApiKey): ApiKey {
  return { id: key.id, name: key.name, lastChars: lastCharsOf(key.apiKey), expiresAt: key.dateExpire };
}

export const vultr: ProviderFactory = {
  id: 'vultr',
  displayName: 'Vultr',
  defaultBaseUrl: 'https://api.vultr.com/v2',
  adminKeyEnv: 'VULTR_API_KEY',
  baseUrlEnv: 'VULTR_API_URL',
  create: (options) => new VultrProvider(options),
};
