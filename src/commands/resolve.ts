// Turning --user and --key into a user and a key: by id or e-mail / name, or by asking in a terminal.
import { maskFromLastChars } from '../core/mask.js';
import { NotFoundError, UsageError } from '../errors.js';
import { heldKeyIds, keychainAccount, type SecretStore } from '../keychain/secret-store.js';
import type { ApiKey, Provider, User } from '../providers/types.js';
import type { Context } from '../cli/context.js';
import { nonInteractiveError } from '../ui/prompts.js';

/** A user by id or e-mail; without one, a searchable list in a terminal, or a usage error naming --user. */
export async function resolveUser(ctx: Context, provider: Provider, userArg: string | undefined): Promise<User> {
  if (userArg !== undefined) {
    const wanted = userArg.trim();
    if (!wanted) throw new UsageError('--user is empty: give a user id or an e-mail address.');
    if (!wanted.includes('@')) return provider.getUser(wanted);
    const users = await provider.listUsers();
    const match = users.find((u) => u.email.toLowerCase() === wanted.toLowerCase());
    if (!match) throw new NotFoundError(`No user with e-mail ${wanted}.`, { hint: 'keyrot list-users shows every user of the account.' });
    return match;
  }
  if (provider.capabilities.singleAccount) {
    const [only] = await provider.listUsers();
    if (only) return only;
  }
  if (!ctx.interactive) throw nonInteractiveError('--user <id or e-mail>');
  const step = await ctx.steps.start('Fetching users');
  let users: User[];
  try {
    users = await provider.listUsers();
  } catch (err) {
    step.finish('failed');
    throw err;
  }
  step.finish('ok', `${users.length} users`);
  if (users.length === 0) throw new NotFoundError('This account has no users.');
  return ctx.prompts.search(
    'User (type to filter by e-mail or name)',
    users.map((u) => ({ name: u.name ? `${u.email} (${u.name})` : u.email, value: u, description: u.id })),
    '--user <id or e-mail>',
  );
}

/** A key of `keys` by id or name. Names must be unambiguous. */
export function findKey(keys: readonly ApiKey[], keyArg: string, userLabel: string): ApiKey {
  const byId = keys.find((k) => k.id === keyArg);
  if (byId) return byId;
  const byName = keys.filter((k) => k.name === keyArg);
  if (byName.length === 1 && byName[0]) return byName[0];
  if (byName.length > 1) {
    throw new UsageError(`Several keys of ${userLabel} are named "${keyArg}": pass --key with one of their ids: ${byName.map((k) => k.id).join(', ')}.`);
  }
  throw new NotFoundError(`${userLabel} has no key with id or name "${keyArg}".`, {
    hint: keys.length ? `Keys: ${keys.map((k) => `${k.name} (${k.id})`).join(', ')}.` : `${userLabel} has no keys.`,
  });
}

/**
 * heldKeyIds, tried twice: listing enumerates every keyrot entry and fails when another keyrot process (a
 * create's probe entry, a revoke) removes one meanwhile; a second pass gets past such a race.
 */
export async function listHeldKeyIds(store: SecretStore, providerId: string, userId: string): Promise<string[]> {
  try {
    return await heldKeyIds(store, providerId, userId);
  } catch {
    return heldKeyIds(store, providerId, userId);
  }
}

/**
 * Which of `keys` keyrot holds: a keychain entry under the key's id whose plaintext ends with the characters
 * the provider shows. Reads one entry per key instead of enumerating the keychain (a listing needs a session of its own and races with other keyrot processes); null
 * when the keychain cannot be read.
 */
export async function heldAmong(ctx: Context, store: SecretStore | null, providerId: string, userId: string, keys: readonly ApiKey[]): Promise<Set<string> | null> {
  if (!store) return null;
  const held = new Set<string>();
  try {
    for (const key of keys) {
      const secret = await store.get(keychainAccount(providerId, userId, key.id));
      // An entry whose last characters differ from the provider's is not this key's plaintext.
      if (secret !== null && (!key.lastChars || secret.endsWith(key.lastChars))) held.add(key.id);
    }
  } catch (err) {
    warnUnreadable(ctx, err);
    return null;
  }
  return held;
}

function warnUnreadable(ctx: Context, err: unknown): void {
  ctx.out.warn(`Cannot read the keychain, so keyrot cannot tell which key it holds: ${(err as Error).message}`);
}

/** A key to act on: --key; else the one keyrot holds; else the only one; else ask (terminal) or fail listing them. */
export async function chooseKey(
  ctx: Context,
  keys: readonly ApiKey[],
  keyArg: string | undefined,
  held: ReadonlySet<string> | null,
  userLabel: string,
): Promise<ApiKey> {
  if (keyArg !== undefined) return findKey(keys, keyArg, userLabel);
  if (keys.length === 0) throw new NotFoundError(`${userLabel} has no API keys.`, { hint: 'Create one with keyrot create.' });
  const heldKeys = held ? keys.filter((k) => held.has(k.id)) : [];
  if (heldKeys.length === 1 && heldKeys[0]) return heldKeys[0];
  if (keys.length === 1 && keys[0]) return keys[0];
  if (!ctx.interactive) {
    throw new UsageError(`${userLabel} has ${keys.length} keys: pass --key with one of: ${keys.map((k) => `${k.name} (${k.id})`).join(', ')}.`);
  }
  return ctx.prompts.select(
    `Which key of ${userLabel}?`,
    keys.map((k) => ({ name: describeKey(k, held), value: k, description: k.id })),
    '--key <id or name>',
  );
}

export function describeKey(key: ApiKey, held: ReadonlySet<string> | null): string {
  const expiry = key.expiresAt ? `expires ${key.expiresAt.toISOString().slice(0, 10)}` : 'never expires';
  return `${key.name}  ${maskFromLastChars(key.lastChars)}  ${expiry}${held?.has(key.id) ? '  [in keychain]' : ''}`;
}
