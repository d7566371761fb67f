// What keyrot audit and keyrot rotate --all read about a whole account: every user, every key of each (fetched with a
// bounded number under way, at the shared rate limiter's pace), which keys keyrot holds, when it created them, and
// which users have an unfinished rotation. Read-only: nothing here writes to the provider, the keychain or the state.
import type { Context } from '../cli/context.js';
import { PHASE_LABELS, type RotationRecord } from '../core/rotation.js';
import { mapBounded } from '../core/pool.js';
import { NotFoundError, PermissionError } from '../errors.js';
import type { KeyRecord } from '../journal/key-index.js';
import { RotationJournal } from '../journal/rotations.js';
import { keychainAccount } from '../keychain/secret-store.js';
import type { ApiKey, Identity, Provider, User } from '../providers/types.js';
import { warnUnreadable } from './resolve.js';
import { say, displayText } from '../ui/display-text.js';

/** How many users' keys are fetched at once: enough to keep the rate limiter busy, few enough to stay light. */
const SCAN_CONCURRENCY = 8;

export interface ScannedUser {
  user: User;
  keys: ApiKey[];
  /** Ids of the keys whose plaintext keyrot holds; null when the keychain could not be read. */
  held: Set<string> | null;
}

/** Runs a call to the user endpoints; a refusal names the admin key's user and what it lacks. */
export async function withManageUsers<T>(identity: Identity, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof PermissionError) {
      throw new PermissionError(say`The admin key's user (${displayText(identity.email)}) may not manage other users' keys.`, {
        hint: say`Use a key of the account root or of a user with the manage_users permission.`,
      });
    }
    throw err;
  }
}

/**
 * Every user of the account, each once: a list that shifted while it was paged (a user added or removed between two
 * cursor pages) can name a user twice, and that user would then be audited and rotated twice.
 */
export async function listUsersOnce(identity: Identity, provider: Provider): Promise<User[]> {
  return uniqueById(await withManageUsers(identity, () => provider.listUsers()));
}

/**
 * Whether `user` is the admin key's own user: its e-mail exactly (the identity carries no user id). Another user whose
 * e-mail differs only in case is someone else.
 */
export function isAdmin(user: User, identity: Identity): boolean {
  return user.email === identity.email;
}

function uniqueById<T extends { id: string }>(items: readonly T[]): T[] {
  return [...new Map(items.map((i) => [i.id, i])).values()];
}

/**
 * The keys of each of `users`, and which keyrot holds (when `withHeld`), with a progress step. A user deleted while
 * the scan runs is left out with a warning.
 */
export async function scanUsers(ctx: Context, provider: Provider, users: readonly User[], withHeld: boolean): Promise<ScannedUser[]> {
  const step = await ctx.steps.start(`Reading the keys of ${users.length} user${users.length === 1 ? '' : 's'}`);
  let done = 0;
  step.update(() => `${done} of ${users.length}`);
  const held = withHeld ? heldReader(ctx) : async () => null;
  try {
    const scanned = await mapBounded(users, SCAN_CONCURRENCY, async (user) => {
      let keys: ApiKey[];
      try {
        keys = uniqueById(await provider.listKeys(user.id));
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        ctx.out.warn(say`${displayText(user.email)} was deleted while keyrot read the account: left out.`);
        return null;
      } finally {
        done++;
      }
      return { user, keys, held: await held(user.id, keys) };
    });
    step.finish('ok', `${scanned.reduce((n, s) => n + (s?.keys.length ?? 0), 0)} keys`);
    return scanned.filter((s): s is ScannedUser => s !== null);
  } catch (err) {
    step.finish('failed');
    throw err;
  }
}

/**
 * Which of a user's keys keyrot holds: a keychain entry under the key's id. The keychain's entries are listed once,
 * in one call, rather than read one by one (each read of a new entry opens a Secret Service session: a thousand keys
 * would cost seconds and tens of MB). When it cannot be read (none on this machine, locked) that is said once, and
 * every key's answer is "unknown" (null) rather than "not held".
 */
function heldReader(ctx: Context): (userId: string, keys: readonly ApiKey[]) => Promise<Set<string> | null> {
  let accounts: Promise<Set<string> | null> | undefined;
  return async (userId, keys) => {
    accounts ??= ctx
      .secretStore()
      .then(async (store) => new Set(await store.list()))
      .catch((err: unknown) => {
        warnUnreadable(ctx, err);
        return null;
      });
    const held = await accounts;
    if (!held) return null;
    return new Set(keys.filter((k) => held.has(keychainAccount(ctx.providerFactory.id, userId, k.id))).map((k) => k.id));
  };
}

/** The keys keyrot recorded making, by key id; an unreadable index is a warning, not a failure. */
export async function knownKeys(ctx: Context, providerId: string): Promise<Map<string, KeyRecord>> {
  try {
    return new Map((await ctx.keyIndex.all()).filter((r) => r.provider === providerId).map((r) => [r.keyId, r]));
  } catch (err) {
    ctx.out.warn(say`Cannot read keyrot's key index in ${displayText(ctx.stateDir)}, so creation dates are missing: ${displayText((err as Error).message, 2000)}`);
    return new Map();
  }
}

/** When keyrot created each key it recorded (key id → ISO 8601). */
export async function knownCreations(ctx: Context, providerId: string): Promise<Map<string, string>> {
  return new Map([...(await knownKeys(ctx, providerId))].map(([id, r]) => [id, r.createdAt]));
}

/** The unfinished rotations recorded here, by user id. */
export async function unfinishedRotations(ctx: Context, providerId: string): Promise<Map<string, RotationRecord>> {
  const records = await new RotationJournal(ctx.stateDir).allActive();
  return new Map(records.filter((r) => r.provider === providerId).map((r) => [r.userId, r]));
}

/** Where an unfinished rotation stopped, in words. */
export function stoppedAt(record: RotationRecord): string {
  return PHASE_LABELS[record.phase];
}
