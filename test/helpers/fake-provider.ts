// An in-memory Provider for unit tests of core/: users, keys with plaintexts, a usage signal, and fault
// injection. It is a test double of the provider (the remote API), never of keyrot's own code.
import { createHash } from 'node:crypto';
import { CreateOutcomeUnknownError, KeychainError, NotFoundError } from '../../src/errors.js';
import { MemorySecretStore } from '../../src/keychain/memory-store.js';
import type { SecretStore } from '../../src/keychain/secret-store.js';
import type { ApiKey, AuthCheck, CreateKeyInput, CreatedKey, Identity, Provider, ProviderCapabilities, UsageObservation, User } from '../../src/providers/types.js';
import { say, displayText } from '../../src/ui/display-text.js';

export type ProviderMethod = 'whoami' | 'listUsers' | 'getUser' | 'listKeys' | 'createKey' | 'deleteKey' | 'checkKey' | 'observeUsage';

export interface ProviderCall {
  method: ProviderMethod;
  args: unknown[];
}

/**
 * A fault for the next matching call; the faults of one method apply in the order they were pushed. 'before': the call fails without effect. 'after': the effect happens,
 * then the call fails (for createKey: the answer, with the only copy of the plaintext, is lost).
 */
export interface Fault {
  method: ProviderMethod;
  when: 'before' | 'after';
  error: () => Error;
  /** Only calls for which this returns true (default: every call of `method`). */
  match?: (args: unknown[]) => boolean;
  /** How many calls it hits; default 1. */
  times?: number;
}

export interface FakeKey {
  id: string;
  userId: string;
  name: string;
  secret: string;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

export interface FakeProviderOptions {
  usageSignal?: ProviderCapabilities['usageSignal'];
  /** The provider's clock (for usage times). */
  now?: () => Date;
}

export class FakeProvider implements Provider {
  readonly id = 'fake';
  readonly displayName = 'Fake Cloud';
  readonly capabilities: ProviderCapabilities;
  readonly users = new Map<string, User>();
  /** Live keys, in creation order. */
  readonly keys: FakeKey[] = [];
  /** Every key ever created through createKey (including ones whose answer was lost). */
  readonly created: FakeKey[] = [];
  /** Keys created whose answer (with the plaintext) never reached the caller: an 'after' fault on createKey. */
  readonly lostAnswers: FakeKey[] = [];
  readonly deleted: FakeKey[] = [];
  readonly calls: ProviderCall[] = [];
  readonly faults: Fault[] = [];
  /** Secrets that keep authenticating after their key was deleted (eventual consistency gone wrong). */
  readonly zombies = new Set<string>();
  /** Fixed answers of checkKey for given secrets (403 for a key without rights, IP allow-lists). */
  readonly authOverrides = new Map<string, AuthCheck>();
  /** The next N checks of a freshly created key answer "rejected" (propagation delay). */
  propagationDelayChecks = 0;
  /** The next N deletes of a listed key answer 'deleted' and keep it (a 2xx that does nothing). */
  ignoredDeletes = 0;
  /** Runs before every call, after it is recorded: tests assert the journal state here, or crash. */
  onCall: ((call: ProviderCall) => void) | null = null;
  /** Runs right after a createKey/deleteKey took effect, before it answers (crash simulation). */
  afterEffect: ((call: ProviderCall) => void) | null = null;
  closed = false;
  readonly #now: () => Date;
  #seq = 0;
  #pendingPropagation = new Map<string, number>();

  constructor(options: FakeProviderOptions = {}) {
    this.capabilities = { usageSignal: options.usageSignal ?? 'per-key', keyExpiry: true };
    this.#now = options.now ?? (() => new Date());
  }

  addUser(user: Partial<User> & { id: string }): User {
    const full: User = {
      email: `${user.id}@example.com`,
      name: '',
      apiEnabled: true,
      serviceUser: false,
      acls: [],
      lastActivity: null,
      ...user,
    };
    this.users.set(full.id, full);
    return full;
  }

  /** A key that exists before the test starts (not counted in `created`). */
  addKey(userId: string, name: string, secret = this.#secret()): FakeKey {
    const key: FakeKey = { id: this.#keyId(), userId, name, secret, expiresAt: null, lastUsedAt: null };
    this.keys.push(key);
    return key;
  }

  /** A consumer authenticates with `secret` at `at`: updates the per-key and per-user signals. */
  use(secret: string, at: Date = this.#now()): void {
    const key = this.keys.find((k) => k.secret === secret);
    if (!key) return;
    key.lastUsedAt = at;
    const user = this.users.get(key.userId);
    if (user) user.lastActivity = at;
  }

  liveKeys(userId: string): FakeKey[] {
    return this.keys.filter((k) => k.userId === userId);
  }

  callsOf(method: ProviderMethod): ProviderCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  async whoami(): Promise<Identity> {
    await this.#enter('whoami', []);
    return { email: 'admin@example.com', name: 'Admin', acls: ['manage_users'] };
  }

  async listUsers(): Promise<User[]> {
    await this.#enter('listUsers', []);
    return [...this.users.values()].map((u) => ({ ...u }));
  }

  async getUser(userId: string): Promise<User> {
    await this.#enter('getUser', [userId]);
    return { ...this.#user(userId) };
  }

  async listKeys(userId: string): Promise<ApiKey[]> {
    await this.#enter('listKeys', [userId]);
    this.#user(userId);
    return this.liveKeys(userId).map((k) => this.#public(k));
  }

  async createKey(userId: string, input: CreateKeyInput): Promise<CreatedKey> {
    const args = [userId, input];
    await this.#enter('createKey', args);
    this.#user(userId);
    const key: FakeKey = { id: this.#keyId(), userId, name: input.name, secret: this.#secret(), expiresAt: input.expiresAt, lastUsedAt: null };
    this.keys.push(key);
    this.created.push(key);
    if (this.propagationDelayChecks > 0) this.#pendingPropagation.set(key.secret, this.propagationDelayChecks);
    try {
      this.#leave('createKey', args);
    } catch (err) {
      this.lostAnswers.push(key);
      throw err;
    }
    return { ...this.#public(key), secret: key.secret };
  }

  async deleteKey(userId: string, keyId: string): Promise<'deleted' | 'already-gone'> {
    const args = [userId, keyId];
    await this.#enter('deleteKey', args);
    const at = this.keys.findIndex((k) => k.userId === userId && k.id === keyId);
    if (at >= 0 && this.ignoredDeletes > 0) {
      // A 2xx that did nothing (a proxy answering for the provider): the key stays live and listed.
      this.ignoredDeletes--;
      this.#leave('deleteKey', args);
      return 'deleted';
    }
    if (at >= 0) this.deleted.push(...this.keys.splice(at, 1));
    this.#leave('deleteKey', args);
    return at >= 0 ? 'deleted' : 'already-gone';
  }

  async checkKey(secret: string): Promise<AuthCheck> {
    await this.#enter('checkKey', ['<secret>']);
    const fixed = this.authOverrides.get(secret);
    if (fixed) return fixed;
    const pending = this.#pendingPropagation.get(secret) ?? 0;
    if (pending > 0) {
      this.#pendingPropagation.set(secret, pending - 1);
      return { ok: false, reason: 'rejected', message: 'Invalid API token.' };
    }
    if (this.keys.some((k) => k.secret === secret) || this.zombies.has(secret)) return { ok: true };
    return { ok: false, reason: 'rejected', message: 'Invalid API token.' };
  }

  async observeUsage(userId: string, keyId: string): Promise<UsageObservation> {
    await this.#enter('observeUsage', [userId, keyId]);
    if (this.capabilities.usageSignal === 'per-user') return { lastUsedAt: this.#user(userId).lastActivity };
    if (this.capabilities.usageSignal === 'none') return { lastUsedAt: null };
    return { lastUsedAt: this.keys.find((k) => k.id === keyId)?.lastUsedAt ?? null };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async #enter(method: ProviderMethod, args: unknown[]): Promise<void> {
    const call = { method, args };
    this.calls.push(call);
    this.onCall?.(call);
    const fault = this.#takeFault(method, 'before', args);
    if (fault) throw fault;
  }

  #leave(method: ProviderMethod, args: unknown[]): void {
    this.afterEffect?.({ method, args });
    const fault = this.#takeFault(method, 'after', args);
    if (fault) throw fault;
  }

  #takeFault(method: ProviderMethod, when: Fault['when'], args: unknown[]): Error | null {
    // Faults of one method form a queue: only the first that matches the call is considered.
    const at = this.faults.findIndex((f) => f.method === method && (f.match?.(args) ?? true));
    if (at < 0 || this.faults[at]!.when !== when) return null;
    const fault = this.faults[at]!;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.faults.splice(at, 1);
    return fault.error();
  }

  #user(userId: string): User {
    const user = this.users.get(userId);
    if (!user) throw new NotFoundError(say`No user ${displayText(userId)}.`);
    return user;
  }

  #public(key: FakeKey): ApiKey {
    return { id: key.id, name: key.name, lastChars: key.secret.slice(-5), expiresAt: key.expiresAt };
  }

  #keyId(): string {
    this.#seq++;
    return `key-${String(this.#seq).padStart(4, '0')}`;
  }

  #secret(): string {
    // Deterministic, unique, 36 upper-case characters like a Vultr key.
    return createHash('sha256')
      .update(`secret-${++this.#seq}`)
      .digest('hex')
      .toUpperCase()
      .slice(0, 36);
  }
}

/** The error a lost create answer raises at the provider boundary. */
export function lostAnswer(): Error {
  return new CreateOutcomeUnknownError(say`The create request was sent but no answer arrived.`);
}

/** A virtual clock: sleep() advances time instantly. */
export class FakeClock {
  #ms: number;
  readonly sleeps: number[] = [];
  /** Runs after every sleep, with the new time (simulate consumers acting while keyrot waits). */
  onSleep: ((now: Date) => void) | null = null;

  constructor(start = '2026-11-23T10:00:00Z') {
    this.#ms = new Date(start).getTime();
  }

  now = (): Date => new Date(this.#ms);

  advance(ms: number): void {
    this.#ms += ms;
  }

  sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.#ms += ms;
    this.onSleep?.(this.now());
  };
}

/**
 * A MemorySecretStore with fault injection and a call log: `failSet` makes the next set() calls throw (a
 * locked or broken keychain); `onCall` runs before each call (crash simulation, journal assertions).
 */
export class FlakyStore implements SecretStore {
  readonly kind = 'memory' as const;
  readonly description = 'the test keychain';
  readonly inner = new MemorySecretStore();
  readonly calls: Array<{ method: 'get' | 'set' | 'delete' | 'list'; account: string }> = [];
  failSet = 0;
  onCall: ((method: 'get' | 'set' | 'delete' | 'list', account: string) => void) | null = null;
  /** Runs after a set or delete took effect (crash simulation: the change is made, nothing after it). */
  afterEffect: ((method: 'set' | 'delete', account: string) => void) | null = null;

  async get(account: string): Promise<string | null> {
    this.#enter('get', account);
    return this.inner.get(account);
  }

  async set(account: string, secret: string): Promise<void> {
    this.#enter('set', account);
    if (this.failSet > 0) {
      this.failSet--;
      throw new KeychainError(say`The keychain is locked.`, { hint: say`Unlock the keychain and try again.` });
    }
    await this.inner.set(account, secret);
    this.afterEffect?.('set', account);
  }

  async delete(account: string): Promise<boolean> {
    this.#enter('delete', account);
    const existed = await this.inner.delete(account);
    this.afterEffect?.('delete', account);
    return existed;
  }

  async list(): Promise<string[]> {
    this.#enter('list', '');
    return this.inner.list();
  }

  #enter(method: 'get' | 'set' | 'delete' | 'list', account: string): void {
    this.calls.push({ method, account });
    this.onCall?.(method, account);
  }
}
