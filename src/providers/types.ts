// The Provider contract: keyrot's own vocabulary for users, keys and usage. Implementations (vultr/ first)
// translate their API into these shapes; nothing outside providers/<name>/ sees a provider's JSON or URLs.
import type { Dispatcher } from 'undici';

export interface User {
  id: string;
  email: string;
  /** Display name ("First Last"); may be empty. */
  name: string;
  apiEnabled: boolean;
  serviceUser: boolean;
  acls: string[];
  /** Last time any of this user's credentials was used, or null when the provider reports none. */
  lastActivity: Date | null;
}

export interface ApiKey {
  id: string;
  name: string;
  /** The last characters of the key as the provider shows them in lists (at most 5), or null if unknown. */
  lastChars: string | null;
  /** null means the key never expires. */
  expiresAt: Date | null;
  /** The key's own scopes, where the provider gives keys scopes of their own; absent or null otherwise. */
  scopes?: string[] | null;
  /** The key's own last use (providers with usageSignal 'per-key'); null: never used; absent: not reported. */
  lastUsedAt?: Date | null;
}

/** A key just created: the only moment its plaintext exists outside the provider. */
export interface CreatedKey extends ApiKey {
  secret: string;
}

export interface CreateKeyInput {
  name: string;
  /** null: never expires. */
  expiresAt: Date | null;
  /** Scopes for the new key (a rotation copies the old key's); absent or null: the provider's default. */
  scopes?: string[] | null;
}

/** Who the admin key belongs to, and whether it may manage other users' keys. */
export interface Identity {
  email: string;
  name: string;
  acls: string[];
}

export type AuthCheck =
  /**
   * `limited`: the probe answered 403, which a provider may count as proof that the key is valid (it was
   * recognised, only refused the probe's scope): the provider's message. A rotation then compares the old key.
   */
  | {
      ok: true;
      limited?: string;
      /**
       * Where a provider probes several endpoints: those that answered this key 2xx (paths, nothing of the key). A
       * rotation journals the old key's, so that a later run (--resume) can still tell a revoked key by them.
       */
      answered?: string[];
      /** Where a provider probes several endpoints: those that answered 403 (a rotation compares them with the old key's). */
      refused?: string[];
      /**
       * What the key can reach, where the provider can tell (Kubeadapt: the ids of the clusters it sees). A new key that
       * does not reach all the old key reaches belongs to another organization, or has a narrower allow-list.
       */
      reach?: string[];
    }
  | { ok: false; reason: 'rejected' | 'ip-not-allowed' | 'forbidden'; message: string };

export interface ProviderCapabilities {
  /**
   * What the usage signal can tell: 'per-key' (a last-used time for each key), 'per-user' (only that some
   * credential of the user was used), or 'none'.
   */
  usageSignal: 'per-key' | 'per-user' | 'none';
  /** Whether keys can carry an expiry date. */
  keyExpiry: boolean;
  /**
   * 'per-key' only: how long a use may take to show in a key's last-used time (some providers write it at most every
   * 5 minutes). A rotation revokes the old key only once its last use has not moved for twice this long.
   */
  usageRefreshMs?: number;
  /**
   * Who makes and revokes keys: 'api' (default: createKey, deleteKey) or 'operator' (only a person, in the
   * provider's dashboard: the rotation says what to click, takes the minted key from a hidden prompt or stdin,
   * and polls until a revoked key is rejected). An 'operator' provider implements `operator`.
   */
  keyManagement?: 'api' | 'operator';
  /** One key holder only (an organization): `--user` is never needed. */
  singleAccount?: boolean;
  /**
   * The permission among whoami's `acls` that managing other users' keys needs (Vultr: manage_users), where the
   * provider names one. Absent: the provider does not say in advance (Grafana's roles, a dashboard), and its answer
   * to the first create or list is the proof.
   */
  managePermission?: string;
}

/** For keyManagement 'operator': what to tell the person at the dashboard, and how to recognise a key. */
export interface OperatorSteps {
  /** Where to click to mint a key named `name` with the same scopes as `like`, in one paragraph. */
  mintInstructions(like: ApiKey, name: string): string;
  /** Where to click to revoke `key`. */
  revokeInstructions(key: ApiKey): string;
  /**
   * The key a pasted plaintext is (its id, derived from it without revealing it, and last characters). Throws
   * UsageError, naming the expected shape and never the input, when it is not one of this provider's keys.
   */
  identify(secret: string, name: string): CreatedKey;
}

export interface UsageObservation {
  /** The provider's latest activity time for the key (per-key) or user (per-user); null if none. */
  lastUsedAt: Date | null;
}

/**
 * A key provider. Every method may throw KeyrotError subclasses: AuthError (401 with the admin key),
 * PermissionError (403), NotFoundError, ProviderUnavailableError (after retries), ProviderResponseError.
 * Reads and deletes are retried when safe; createKey is never retried (see CreateOutcomeUnknownError).
 */
export interface Provider {
  /** Stable identifier used in keychain accounts and journals, e.g. "vultr". */
  readonly id: string;
  readonly displayName: string;
  readonly capabilities: ProviderCapabilities;

  /** The admin key's own identity. Proves the admin key authenticates. */
  whoami(): Promise<Identity>;
  /** Every user of the account, all pages. */
  listUsers(): Promise<User[]>;
  getUser(userId: string): Promise<User>;
  listKeys(userId: string): Promise<ApiKey[]>;
  /**
   * Creates a key. Not idempotent and never retried: throws CreateOutcomeUnknownError when the request may
   * have been acted on but no answer arrived, so the caller can reconcile by listing keys; throws
   * KeyNotReturnedError when the provider answered with success but without a usable plaintext (the key most
   * likely exists and can never be read: the caller deletes it and must not create again).
   */
  createKey(userId: string, input: CreateKeyInput): Promise<CreatedKey>;
  /** Idempotent: 'already-gone' when the key no longer exists (e.g. a retried delete). */
  deleteKey(userId: string, keyId: string): Promise<'deleted' | 'already-gone'>;
  /** Whether `secret` authenticates right now. Does not throw for 401/403; throws when unreachable. */
  /**
   * `answeredBefore`: endpoints that answered this key 2xx in an earlier run (the journal's `answered`), for a provider
   * that reads a later 403 from one of them as revoked (Kubeadapt's earlier docs).
   */
  checkKey(secret: string, answeredBefore?: readonly string[]): Promise<AuthCheck>;
  /**
   * The keys of the admin key's own user (Vultr: /apikeys; no manage_users needed): whoami shows the admin key's
   * expiry, and `rotate --self` rotates the admin key. Optional: a provider without such endpoints leaves it out.
   */
  ownKeys?(): OwnKeys;
  /** The usage signal for a key (per-key providers) or for its user (per-user providers). */
  observeUsage(userId: string, keyId: string): Promise<UsageObservation>;
  /**
   * Moves a key's expiry (`rotate --keep-old 7d`: the old key lapses by itself after a grace period). Optional:
   * absent where the API cannot change an existing key. Idempotent.
   */
  setKeyExpiry?(userId: string, keyId: string, expiresAt: Date | null): Promise<void>;
  /** keyManagement 'operator' only: the dashboard steps. */
  readonly operator?: OperatorSteps;
  /** Frees connections the provider opened itself. Idempotent. */
  close(): Promise<void>;
}

/** The admin key's own user's keys, with the same contracts as the Provider methods of the same names. */
export interface OwnKeys {
  list(): Promise<ApiKey[]>;
  /** Never retried: CreateOutcomeUnknownError for a lost answer, KeyNotReturnedError for a 2xx without a key. */
  create(input: CreateKeyInput): Promise<CreatedKey>;
  delete(keyId: string): Promise<'deleted' | 'already-gone'>;
}

export interface HttpLogger {
  /** Debug lines; never receives headers or bodies that could hold a secret. */
  debug(message: string): void;
}

export interface ProviderOptions {
  baseUrl: string;
  adminKey: string;
  dispatcher?: Dispatcher;
  logger?: HttpLogger;
  /** Aborts in-flight requests and back-off waits (Ctrl-C). */
  signal?: AbortSignal;
  /** Clean-up after a cancel: its requests go ahead of every other of this process, past a Retry-After pause. */
  urgent?: boolean;
  /** Test and tuning knobs; production uses the defaults. */
  retry?: Partial<RetryPolicy>;
  timeouts?: Partial<Timeouts>;
}

export interface RetryPolicy {
  /** Total attempts for an idempotent request, including the first. */
  attempts: number;
  /** First back-off in ms; doubles each attempt, with full jitter. */
  baseDelayMs: number;
  /** Upper bound for any single wait, including Retry-After. */
  maxDelayMs: number;
}

export interface Timeouts {
  /** TCP/TLS connect, ms. */
  connectMs: number;
  /** Whole request (headers and body), ms. */
  totalMs: number;
}

export interface ProviderFactory {
  readonly id: string;
  readonly displayName: string;
  readonly defaultBaseUrl: string;
  /** Environment variable holding the admin key, e.g. VULTR_API_KEY. */
  readonly adminKeyEnv: string;
  /** Environment variable overriding the base URL, e.g. VULTR_API_URL. */
  readonly baseUrlEnv: string;
  create(options: ProviderOptions): Provider;
}
