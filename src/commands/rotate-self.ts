// `keyrot rotate --self`: the admin key keyrot runs with, rotated by the same journaled state machine as any key.
// The caller's own keys are a provider of their own (OwnKeysProvider: list, create, delete through /apikeys, no
// manage_users needed), the user is "self", and the hand-over installs the new key as the admin key: the
// keychain entry `keyrot login` wrote, and/or the hook (a CI secret). From the hand-over on, every call is made
// with the new key, so the old key is deleted using the new one; until the hand-over the keychain still holds the
// old, working key: there is never a moment when it holds no working admin key.
import type { AdminKey, Context } from '../cli/context.js';
import { runJournaledHook, SELF_USER_ID, type RotationPorts, type RotationRecord } from '../core/rotation.js';
import { NotFoundError, UsageError, VerificationFailedError } from '../errors.js';
import { adminAccount, keychainAccount, type SecretStore } from '../keychain/secret-store.js';
import type { ApiKey, AuthCheck, CreateKeyInput, CreatedKey, Identity, OwnKeys, Provider, ProviderCapabilities, UsageObservation, User } from '../providers/types.js';
import { say, displayText } from '../ui/display-text.js';

export { SELF_USER_ID };

/** The admin key's own keys as a Provider, speaking with the admin key until told to use the new one. */
export class OwnKeysProvider implements Provider {
  readonly id: string;
  readonly displayName: string;
  // keyrot's own calls use the key being rotated: no usage signal could tell consumers from keyrot.
  readonly capabilities: ProviderCapabilities;
  #current: Provider;

  constructor(private readonly base: Provider) {
    this.id = base.id;
    this.displayName = base.displayName;
    this.capabilities = { ...base.capabilities, usageSignal: 'none' };
    this.#current = base;
  }

  /** From now on, speak with `provider` (authenticated with the new key). */
  use(provider: Provider): void {
    this.#current = provider;
  }

  #own(): OwnKeys {
    const own = this.#current.ownKeys?.();
    if (!own) throw new UsageError(say`${displayText(this.displayName)} offers no way for a key to manage its own user's keys: --self is not available.`);
    return own;
  }

  whoami(): Promise<Identity> {
    return this.#current.whoami();
  }

  async listUsers(): Promise<User[]> {
    throw new UsageError(say`--self rotates the admin key: there are no users to list.`);
  }

  async getUser(): Promise<User> {
    throw new UsageError(say`--self rotates the admin key: there are no users to look up.`);
  }

  listKeys(): Promise<ApiKey[]> {
    return this.#own().list();
  }

  createKey(_userId: string, input: CreateKeyInput): Promise<CreatedKey> {
    return this.#own().create(input);
  }

  deleteKey(_userId: string, keyId: string): Promise<'deleted' | 'already-gone'> {
    return this.#own().delete(keyId);
  }

  checkKey(secret: string): Promise<AuthCheck> {
    return this.#current.checkKey(secret);
  }

  async observeUsage(): Promise<UsageObservation> {
    return { lastUsedAt: null };
  }

  async close(): Promise<void> {
    await this.base.close();
  }
}

export interface SelfTarget {
  provider: OwnKeysProvider;
  user: User;
  admin: AdminKey;
  /** The own key the admin key is: the one whose listed last characters it ends with. */
  oldKey(keys: readonly ApiKey[]): ApiKey;
  /** Runs before the rotation: keeps the old key's plaintext under the rotation's account (verify-old tests it). */
  prepare(store: SecretStore, record: RotationRecord): Promise<void>;
  /** The hand-over: install the new key as the admin key (keychain entry and/or hook), then speak with it. */
  deliver(ports: RotationPorts): (secret: string, record: RotationRecord) => Promise<string>;
  /**
   * On --resume: past the hand-over, speak with the new key, which is the admin key now; during it, take the new
   * key as held when the admin key this run got is that key (the hook stored it before a kill -9).
   */
  resume(store: SecretStore, record: RotationRecord): Promise<void>;
  /** Before --abort deletes the new key: the admin key entry goes back to the old key, which still works. */
  restore(store: SecretStore, record: RotationRecord): Promise<void>;
}

/**
 * The target of `rotate --self`. Refuses, before any change, when the new key could not be installed where the
 * admin key comes from: an environment variable or stdin (a CI secret) needs --on-new-key to store it there.
 */
export async function selfTarget(ctx: Context, base: Provider, identity: Identity, onNewKey: string | undefined): Promise<SelfTarget> {
  if (!base.ownKeys) throw new UsageError(say`${displayText(base.displayName)} offers no way for a key to manage its own user's keys: --self is not available.`);
  const admin = await ctx.adminKey();
  if (admin.source !== 'keychain' && !onNewKey) {
    throw new UsageError(say`The admin key comes from ${displayText(admin.where)}: keyrot cannot put the new key there itself, so the next run would use a revoked key.`, {
      hint: say`Pass --on-new-key with a command that stores the key it reads on stdin where ${displayText(admin.where)} comes from (e.g. gh secret set ${displayText(ctx.providerFactory.adminKeyEnv)}), or keyrot login and rotate the stored key.`,
    });
  }
  const provider = new OwnKeysProvider(base);
  const user: User = { id: SELF_USER_ID, email: identity.email, name: identity.name, apiEnabled: true, serviceUser: false, acls: identity.acls, lastActivity: null };
  const switchTo = async (secret: string) => provider.use(await ctx.providerFor(secret));
  return {
    provider,
    user,
    admin,
    oldKey(keys) {
      const matches = keys.filter((k) => k.lastChars && admin.key.endsWith(k.lastChars));
      const [match] = matches;
      if (matches.length !== 1 || !match) {
        throw new NotFoundError(
          say`The admin key (${displayText(admin.where)}) is not among the keys of its own user ${displayText(identity.email)}${matches.length > 1 ? say` unambiguously` : say``}.`,
          {
            hint: say`keyrot rotate --self rotates the admin key keyrot runs with; check which key that is with keyrot whoami.`,
          },
        );
      }
      return match;
    },
    async prepare(store, record) {
      await store.set(keychainAccount(provider.id, SELF_USER_ID, record.oldKey.id), admin.key);
    },
    deliver: (ports) => async (secret, record) => {
      // Proven before it is installed: it authenticates (verify-new did that) and still has the account's ACLs.
      const acls = (await (await ctx.providerFor(secret)).whoami()).acls;
      const missing = identity.acls.filter((acl) => !acls.includes(acl));
      if (missing.length) {
        throw new VerificationFailedError(say`The new admin key ${displayText(record.newKey.name)} lacks permissions the old one has: ${displayText(missing.join(', '), 2000)}.`, {
          hint: say`Both keys stay live; keyrot rotate --self --abort deletes the new one.`,
        });
      }
      const done: string[] = [];
      if (admin.source === 'keychain') {
        // One write replaces the entry: it holds the old key, then the new one, never nothing.
        await (await ctx.secretStore()).set(adminAccount(provider.id), secret);
        done.push(`the admin key entry now holds ${record.newKey.name}`);
      }
      if (record.options.onNewKey) {
        await runJournaledHook(record, ports, secret, { KEYROT_KEY_ID: record.newKey.id ?? '', KEYROT_KEY_NAME: record.newKey.name, KEYROT_OLD_KEY_ID: record.oldKey.id });
        done.push('hook succeeded');
      }
      await switchTo(secret);
      return done.join('; ');
    },
    async restore(store, record) {
      const account = keychainAccount(provider.id, SELF_USER_ID, record.oldKey.id);
      const old = await store.get(account);
      if (old === null) return;
      if (admin.source === 'keychain') await (await ctx.secretStore()).set(adminAccount(provider.id), old);
      // The admin entry (or the environment) holds the old key again: the rotation's copy of it goes.
      await store.delete(account);
    },
    async resume(store, record) {
      if (!record.newKey.id) return;
      if (!record.handedOverAt) {
        // Stopped during the hand-over (kill -9 in the hook): the hook may already have put the new key where the
        // admin key comes from (a CI secret), and this run speaks with it. Then it is held, and must never be
        // deleted as a key nobody holds.
        const account = keychainAccount(provider.id, SELF_USER_ID, record.newKey.id);
        if (record.newKey.lastChars && admin.key.endsWith(record.newKey.lastChars) && (await store.get(account)) === null) await store.set(account, admin.key);
        return;
      }
      const secret = await store.get(keychainAccount(provider.id, SELF_USER_ID, record.newKey.id));
      if (!secret) return;
      // The entry may hold the old key again (keyrot login with it during a --keep-old grace period): the old key
      // is about to be revoked, so the entry must hold the new one first. Any third key there is the user's choice.
      if (admin.source === 'keychain' && admin.key !== secret && record.oldKey.lastChars && admin.key.endsWith(record.oldKey.lastChars)) {
        await (await ctx.secretStore()).set(adminAccount(provider.id), secret);
        ctx.out.warn(
          say`The admin key entry held the old key ${displayText(record.oldKey.name)} again (keyrot login since the hand-over?): it holds ${displayText(record.newKey.name)} now, before the old key is revoked.`,
        );
      }
      await switchTo(secret);
    },
  };
}
