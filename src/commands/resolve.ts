// Turning --user and --key into a user and a key: by id, e-mail or name, or by asking in a terminal.
import { findKeyIn, findUser } from '../core/find.js';
import { maskFromLastChars } from '../core/mask.js';
import { newKeyProven, type RotationRecord } from '../core/rotation.js';
import { orList } from '../core/suggest.js';
import { KeychainError, NotFoundError, UsageError } from '../errors.js';
import { heldKeyIds, keychainAccount, parseKeyAccount, type SecretStore } from '../keychain/secret-store.js';
import type { ApiKey, Provider, User } from '../providers/types.js';
import type { Context } from '../cli/context.js';
import { nonInteractiveError } from '../ui/prompts.js';
import { displayText, joinDisplay, say, type DisplayText } from '../ui/display-text.js';
import { shellArg } from '../core/shell-arg.js';

/**
 * A user by id, e-mail or name (see core/find.ts); without one, a searchable list in a terminal, or a usage
 * error naming --user. Several users of that name are a usage error listing them; none, a not-found error
 * with the closest.
 */
export async function resolveUser(ctx: Context, provider: Provider, userArg: string | undefined): Promise<User> {
  if (userArg !== undefined) {
    const wanted = userArg.trim();
    if (!wanted) throw new UsageError(say`--user is empty: give a user id, e-mail address or name.`);
    return pickUser(await provider.listUsers(), wanted);
  }
  if (provider.capabilities.singleAccount) {
    const [only] = await provider.listUsers();
    if (only) return only;
  }
  if (!ctx.interactive) throw nonInteractiveError('--user <id, e-mail or name>');
  const step = await ctx.steps.start('Fetching users');
  let users: User[];
  try {
    users = await provider.listUsers();
  } catch (err) {
    step.finish('failed');
    throw err;
  }
  step.finish('ok', `${users.length} users`);
  if (users.length === 0) throw new NotFoundError(say`This account has no users.`);
  return ctx.prompts.search(
    say`User (type to filter by e-mail or name)`,
    users.map((u) => ({ name: userLabel(u), value: u, description: u.id })),
    '--user <id, e-mail or name>',
  );
}

/** The user `wanted` names among `users` (see findUser), or the error that says why not. */
export function pickUser(users: readonly User[], wanted: string): User {
  const found = findUser(users, wanted);
  if (found.kind === 'found') return found.item;
  if (found.kind === 'ambiguous') {
    throw new UsageError(say`"${displayText(wanted)}" matches ${found.candidates.length} users: ${joinDisplay(found.candidates.map(userLabel))}.`, {
      hint: say`Pass --user with the e-mail address or id of the one you mean (an exact one always wins over a name).`,
      data: { candidates: found.candidates.map((u) => u.id) },
    });
  }
  const what = wanted.includes('@') ? say`No user with e-mail ${displayText(wanted)}.` : say`No user with id or name "${displayText(wanted)}".`;
  throw new NotFoundError(say`${what}${found.near.length ? say` Did you mean ${displayOrList(found.near.map(userLabel))}?` : say``}`, {
    hint: say`keyrot list-users shows every user of the account.`,
  });
}

function userLabel(user: User): DisplayText {
  return user.name ? say`${displayText(user.email)} (${displayText(user.name)})` : displayText(user.email);
}

function keyLabel(key: ApiKey): DisplayText {
  return say`${displayText(key.name)} (${displayText(key.id)})`;
}

/** "a, b or c" of display text. */
function displayOrList(items: readonly DisplayText[]): DisplayText {
  return orList(items) as DisplayText;
}

/** A key of `keys` by id, name or unique id prefix (see findKeyIn), or the error that says why not. */
export function findKey(keys: readonly ApiKey[], keyArg: string, userLabel: string): ApiKey {
  const found = findKeyIn(keys, keyArg);
  if (found.kind === 'found') return found.item;
  const who = displayText(userLabel);
  const typed = displayText(keyArg);
  if (found.kind === 'ambiguous') {
    if (found.candidates.every((k) => k.name === keyArg)) {
      throw new UsageError(say`Several keys of ${who} are named "${typed}": pass --key with one of their ids: ${joinDisplay(found.candidates.map((k) => displayText(k.id)))}.`);
    }
    throw new UsageError(say`"${typed}" starts several key ids of ${who}: ${joinDisplay(found.candidates.map(keyLabel))}.`, { hint: say`Pass more of the id, or the whole id.` });
  }
  const near = found.near;
  throw new NotFoundError(say`${say`${who} has no key with id or name "${typed}".`}${near.length ? say` Did you mean ${displayOrList(near.map(keyLabel))}?` : say``}`, {
    hint:
      keys.length === 0
        ? say`${who} has no keys.`
        : near.length || keys.length > 5
          ? say`keyrot list-keys --user ${displayText(shellArg(userLabel))} lists its keys.`
          : say`Keys: ${joinDisplay(keys.map(keyLabel))}.`,
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

/** The keychain cannot be read: one warning per run, however many users or keys meet it. */
export function warnUnreadable(ctx: Context, err: unknown): void {
  ctx.out.warnOnce(say`Cannot read the keychain, so keyrot cannot tell which keys it holds: ${displayText((err as Error).message, 2000)}`);
}

/** A key to act on: --key; else the one keyrot holds; else the only one; else ask (terminal) or fail listing them. */
export async function chooseKey(ctx: Context, keys: readonly ApiKey[], keyArg: string | undefined, held: ReadonlySet<string> | null, userLabel: string): Promise<ApiKey> {
  if (keyArg !== undefined) return findKey(keys, keyArg, userLabel);
  if (keys.length === 0) throw new NotFoundError(say`${displayText(userLabel)} has no API keys.`, { hint: say`Create one with keyrot create.` });
  const heldKeys = held ? keys.filter((k) => held.has(k.id)) : [];
  if (heldKeys.length === 1 && heldKeys[0]) return heldKeys[0];
  if (keys.length === 1 && keys[0]) return keys[0];
  if (!ctx.interactive) {
    throw new UsageError(say`${displayText(userLabel)} has ${keys.length} keys: pass --key with one of: ${joinDisplay(keys.map(keyLabel))}.`);
  }
  return ctx.prompts.select(
    say`Which key of ${displayText(userLabel)}?`,
    keys.map((k) => ({ name: describeKey(k, held), value: k, description: k.id })),
    '--key <id or name>',
  );
}

export function describeKey(key: ApiKey, held: ReadonlySet<string> | null): DisplayText {
  const expiry = key.expiresAt ? `expires ${key.expiresAt.toISOString().slice(0, 10)}` : 'never expires';
  return `${say`${displayText(key.name)}  ${displayText(maskFromLastChars(key.lastChars))}`}  ${expiry}${held?.has(key.id) ? '  [in keychain]' : ''}` as DisplayText;
}

/** The key a consumer should use now, and why it is that one (get and exec say so on stderr). */
export interface HeldKey {
  key: ApiKey;
  secret: string;
  /** 'key': --key; 'only': the one key keyrot holds; 'rotation-new' / 'rotation-old': an unfinished rotation decided. */
  why: 'key' | 'only' | 'rotation-new' | 'rotation-old';
}

/**
 * The plaintext keyrot holds for `user`, among the keys the provider still lists (list-keys' "held" mark), so a
 * consumer follows rotations without naming a key: --key if given; else, during an unfinished rotation, its new key
 * once it is stored and proven to authenticate (the key consumers must move to; the old one is about to go), and its
 * old key before that; else the one key keyrot holds. NotFoundError when none is held; UsageError naming --key when
 * several are and nothing decides between them.
 */
export async function heldKeyFor(ctx: Context, store: SecretStore, provider: Provider, user: User, keyArg: string | undefined, active: RotationRecord | null): Promise<HeldKey> {
  const keys = await listedKeys(ctx, store, provider, user.id);
  const read = async (key: ApiKey) => {
    const secret = await store.get(keychainAccount(provider.id, user.id, key.id));
    if (secret !== null) ctx.out.protect(secret);
    return secret !== null && (!key.lastChars || secret.endsWith(key.lastChars)) ? secret : null;
  };
  if (keyArg !== undefined) {
    const key = findKey(keys, keyArg, user.email);
    const secret = await read(key);
    if (secret === null)
      throw new NotFoundError(say`keyrot holds no plaintext of ${displayText(key.name)} (${displayText(key.id)}) of ${displayText(user.email)} in the keychain.`, {
        hint: say`keyrot list-keys --user ${displayText(shellArg(user.email))} shows which key keyrot holds.`,
      });
    return { key, secret, why: 'key' };
  }
  if (active) {
    // A key past its expiry is no key to hand a consumer: the new key only while unexpired (as the revoke demands).
    const now = ctx.now().getTime();
    const pick = (id: string | null) => keys.find((k) => k.id === id && !(k.expiresAt && k.expiresAt.getTime() <= now));
    const candidates: Array<[ApiKey | undefined, HeldKey['why']]> = newKeyProven(active)
      ? [
          [pick(active.newKey.id), 'rotation-new'],
          [pick(active.oldKey.id), 'rotation-old'],
        ]
      : [[pick(active.oldKey.id), 'rotation-old']];
    for (const [key, why] of candidates) {
      const secret = key ? await read(key) : null;
      if (key && secret !== null) return { key, secret, why };
    }
  }
  // Never a rotation's new key before it is proven, nor a key past its expiry.
  const now = ctx.now().getTime();
  const unproven = active && !newKeyProven(active) ? active.newKey.id : null;
  const usable = keys.filter((k) => k.id !== unproven && !(k.expiresAt && k.expiresAt.getTime() <= now));
  const held = await heldAmong(ctx, store, provider.id, user.id, usable);
  if (held === null)
    throw new KeychainError(say`Cannot read the keychain (${displayText(store.description)}) for the keys of ${displayText(user.email)}.`, { hint: say`Unlock the keychain and try again.` });
  const heldKeys = usable.filter((k) => held.has(k.id));
  const [only] = heldKeys;
  const secret = heldKeys.length === 1 && only ? await read(only) : null;
  if (only && secret !== null) return { key: only, secret, why: 'only' };
  if (heldKeys.length > 1) {
    throw new UsageError(say`keyrot holds ${heldKeys.length} keys of ${displayText(user.email)}: pass --key with one of: ${displayText(heldKeys.map((k) => `${k.name} (${k.id})`).join(', '))}.`);
  }
  const expired = keys.filter((k) => k.expiresAt && k.expiresAt.getTime() <= now);
  if (expired.length) {
    throw new NotFoundError(
      say`keyrot holds no usable key of ${displayText(user.email)}: ${displayText(expired.map((k) => k.name).join(', '))} expired${unproven ? say`, and the new key of its rotation is not proven yet` : say``}.`,
      {
        hint: say`Rotate it: keyrot rotate --user ${displayText(shellArg(user.email))}.`,
      },
    );
  }
  if (unproven) {
    throw new NotFoundError(
      say`keyrot holds no proven key of ${displayText(user.email)}: its rotation has not proven the new key ${displayText(active?.newKey.name ?? '')} yet, and keyrot does not hold the old key.`,
      {
        hint: say`Finish the rotation: keyrot rotate --user ${displayText(shellArg(user.email))} --resume.`,
      },
    );
  }
  throw new NotFoundError(say`keyrot holds no key of ${displayText(user.email)} that ${displayText(provider.displayName)} still lists.`, {
    hint: say`Create one (keyrot create --user ${displayText(shellArg(user.email))}) or rotate one in (keyrot rotate --user ${displayText(shellArg(user.email))}); keyrot status lists keychain entries of deleted keys.`,
  });
}

/**
 * The live keys of a user, as far as keyrot can know them. Most providers list them all. A provider whose keys a
 * person manages in a dashboard (Kubeadapt) lists only the key keyrot runs with, which a rotation revokes: there the
 * keys keyrot holds are tested instead, and each that still authenticates (2xx, or 403: valid without a scope) is
 * live; one that gets 401 is revoked, and so is the key keyrot runs with once it is rejected.
 */
export async function listedKeys(ctx: Context, store: SecretStore | null, provider: Provider, userId: string): Promise<ApiKey[]> {
  const listed = await provider.listKeys(userId);
  const { operator } = provider;
  if (!operator || !store) return listed;
  const names = new Map((await ctx.keyIndex.forUser(provider.id, userId).catch(() => [])).map((r) => [r.keyId, r.name]));
  const plaintexts = new Map<string, string>();
  for (const account of await store.list()) {
    const entry = parseKeyAccount(account);
    if (entry?.provider !== provider.id || entry.userId !== userId) continue;
    const secret = await store.get(account);
    if (secret !== null) plaintexts.set(entry.keyId, secret);
  }
  const admin = await ctx.adminKey().catch(() => null);
  const live: ApiKey[] = [];
  const candidates = [...listed.map((k) => ({ key: k, secret: plaintexts.get(k.id) ?? admin?.key ?? null }))];
  for (const [keyId, secret] of plaintexts) {
    if (listed.some((k) => k.id === keyId)) continue;
    try {
      const { secret: _plaintext, ...key } = operator.identify(secret, names.get(keyId) ?? keyId);
      // An entry whose plaintext is not the key its account names is no key of this user.
      if (key.id === keyId) candidates.push({ key, secret });
    } catch {
      // Not a key of this provider's shape: nothing keyrot can use.
    }
  }
  for (const { key, secret } of candidates) {
    if (secret === null) continue;
    ctx.out.protect(secret);
    const check = await provider.checkKey(secret);
    if (check.ok || check.reason !== 'rejected') live.push(key);
  }
  return live;
}

/**
 * Refuses `key` (a key of `user`) when it is, or may be, the admin key keyrot runs with: `rotate` (as a user key) and
 * `revoke` would cut keyrot off half-way and leave where the admin key comes from holding a revoked key. The key is
 * told apart by the last characters the provider lists and by the admin key's own user (whoami, asked only when
 * needed; `identityEmail` when the caller knows it). When the provider cannot say which key is the admin key's (a
 * listing without last characters; for rotate, a provider with no --self, whose token list keyrot does not trust to
 * say), any key of the admin key's own account may be it: refused too. Checked before any change.
 */
export async function refuseRunningAdminKey(ctx: Context, provider: Provider, user: User, key: ApiKey, action: 'rotate' | 'revoke', identityEmail?: string): Promise<void> {
  const ownAccount = async () => (identityEmail ?? (await provider.whoami()).email) === user.email;
  const unknowable = !key.lastChars || (action === 'rotate' && !provider.ownKeys);
  if (unknowable) {
    if (!(await ownAccount())) return;
    const admin = await ctx.adminKey();
    const verb = action === 'rotate' ? 'rotating' : 'revoking';
    throw new UsageError(
      say`${displayText(user.email)} is the account of the admin key keyrot runs with (from ${displayText(admin.where)}): ${displayText(verb)} ${displayText(key.name)} may revoke keyrot's own key (${displayText(provider.displayName)} does not say which key is it), leaving ${displayText(admin.where)} holding a revoked key.`,
      {
        hint:
          action === 'rotate'
            ? say`Rotate this account's keys with an admin key of another account, or in ${displayText(provider.displayName)} itself.`
            : say`Revoke it in ${displayText(provider.displayName)}'s dashboard, or with an admin key of another account.`,
      },
    );
  }
  const admin = await ctx.adminKey();
  if (!admin.key.endsWith(key.lastChars as string) || !(await ownAccount())) return;
  if (action === 'rotate') {
    throw new UsageError(
      say`${displayText(key.name)} is the admin key keyrot runs with (from ${displayText(admin.where)}): rotating it as a user key would leave ${displayText(admin.where)} holding a revoked key.`,
      { hint: say`Rotate it with keyrot rotate --self, which puts the new key where the admin key comes from.` },
    );
  }
  throw new UsageError(say`${displayText(key.name)} is the admin key keyrot runs with (from ${displayText(admin.where)}): keyrot does not revoke its own key.`, {
    hint: say`${displayText(provider.ownKeys ? 'Replace it with keyrot rotate --self; or r' : 'R')}evoke it with an admin key of another user, or in ${displayText(provider.displayName)} itself.`,
  });
}
