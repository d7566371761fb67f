// keyrot login / whoami / logout: keyrot's own credential, like `gh auth login`. The admin key is read from a
// hidden prompt or stdin (never argv), proven against the provider before it replaces anything, and kept in the
// keychain entry the other commands read when no environment variable or --api-key-stdin supplies one.
import type { AdminKey, Context } from '../cli/context.js';
import { maskSecret } from '../core/mask.js';
import { CancelledError, PermissionError, UsageError } from '../errors.js';
import { RotationJournal } from '../journal/rotations.js';
import { KEYCHAIN_SERVICE, adminAccount, entryName } from '../keychain/secret-store.js';
import type { Identity, Provider } from '../providers/types.js';
import type { CommandModule } from './types.js';
import { say, displayText, joinDisplay, type DisplayText } from '../ui/display-text.js';

export interface LoginOptions {
  withKeyStdin?: boolean;
  force?: boolean;
}

export interface LoginResult {
  identity: Identity;
  /** null: the provider names no such permission, and only its answer to a create or list will tell. */
  canManageUsers: boolean | null;
  maskedKey: string;
  keychain: { service: string; account: string };
  replaced: boolean;
}

export const loginCommand: CommandModule<LoginOptions, LoginResult> = {
  async run(options, ctx) {
    const key = await readKey(ctx, Boolean(options.withKeyStdin));
    // Proven first: a key that does not authenticate (exit 3) or may not manage users replaces nothing.
    const provider = await ctx.providerFor(key);
    const identity = await provider.whoami();
    const canManageUsers = mayManage(provider, identity);
    const needed = provider.capabilities.managePermission;
    if (canManageUsers === false && needed) {
      const why = say`The key authenticates as ${displayText(identity.email)}, but that user lacks ${displayText(needed)}: keyrot could not list users or rotate their keys with it.`;
      if (!options.force) throw new PermissionError(why, { hint: say`Use a key of the account root or of a user with ${displayText(needed)}, or pass --force to store it anyway.` });
      ctx.out.warn(say`${why} Stored anyway (--force).`);
    }
    const store = await ctx.secretStore();
    const account = adminAccount(provider.id);
    const replaced = (await store.get(account)) !== null;
    await store.set(account, key);
    const envName = ctx.providerFactory.adminKeyEnv;
    if (ctx.env[envName]?.trim()) ctx.out.warn(say`${displayText(envName)} is set in this environment and takes precedence over the stored key.`);
    return { identity, canManageUsers, maskedKey: maskSecret(key), keychain: { service: KEYCHAIN_SERVICE, account: entryName(store, account) }, replaced };
  },
  render(r, ctx) {
    const s = ctx.out.style;
    ctx.out.data(
      joinDisplay(
        [
          say`${s.green(say`✔`)} Logged in as ${s.bold(displayText(r.identity.email))}${r.identity.name ? say` (${displayText(r.identity.name)})` : say``}; key ${displayText(r.maskedKey)}${r.replaced ? say` replaces the stored one` : say``}`,
          say`  may manage users  ${displayText(manageWords(r.canManageUsers))}`,
          say`  stored            keychain service "${displayText(r.keychain.service)}", account "${displayText(r.keychain.account)}"`,
        ],
        '\n',
      ),
    );
  },
  toJson: (r) => ({ email: r.identity.email, name: r.identity.name, acls: r.identity.acls, canManageUsers: r.canManageUsers, maskedKey: r.maskedKey, keychain: r.keychain, replaced: r.replaced }),
};

/** The key from stdin (asked for, or piped) or a hidden prompt; never from the command line. */
async function readKey(ctx: Context, fromStdin: boolean): Promise<string> {
  let key: string;
  if (fromStdin || !ctx.io.stdin.isTTY) {
    key = (await ctx.readStdin()).split(/\r?\n/)[0]?.trim() ?? '';
    if (!key) throw new UsageError(say`No key on stdin.`, { hint: say`Pipe it in: printf %s "$KEY" | keyrot login --with-key-stdin` });
  } else {
    key = (await ctx.prompts.secret(`${ctx.providerFactory.displayName} admin API key (input hidden)`, '--with-key-stdin')).trim();
    if (!key) throw new UsageError(say`No key given.`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(key)) throw new UsageError(say`The key holds spaces or control characters: it is not an API key.`);
  ctx.out.protect(key);
  return key;
}

export interface WhoamiResult {
  source: AdminKey['source'];
  where: string;
  identity: Identity;
  canManageUsers: boolean | null;
  maskedKey: string;
  /** null: never expires; undefined: unknown (the key is not among the user's own listed keys). */
  expiresAt: Date | null | undefined;
  unfinishedRotations: Array<{ userEmail: string; oldKey: string; newKey: string; phase: string; status: string }>;
}

export const whoamiCommand: CommandModule<Record<string, never>, WhoamiResult> = {
  async run(_options, ctx) {
    const admin = await ctx.adminKey();
    const provider = await ctx.provider();
    const identity = await provider.whoami();
    // The admin key's own expiry: the user's own keys are listed masked, so match on the last characters shown.
    const own = provider.ownKeys
      ? await provider
          .ownKeys()
          .list()
          .catch(() => null)
      : null;
    const match = own?.filter((k) => k.lastChars && admin.key.endsWith(k.lastChars));
    const expiresAt = match?.length === 1 ? (match[0]?.expiresAt ?? null) : undefined;
    const unfinished = (await new RotationJournal(ctx.stateDir).allActive().catch(() => []))
      .filter((r) => r.provider === provider.id)
      .map((r) => ({ userEmail: r.userEmail, oldKey: r.oldKey.name, newKey: r.newKey.name, phase: r.phase, status: r.status }));
    return {
      source: admin.source,
      where: admin.where,
      identity,
      canManageUsers: mayManage(provider, identity),
      maskedKey: maskSecret(admin.key),
      expiresAt,
      unfinishedRotations: unfinished,
    };
  },
  render(r, ctx) {
    const expiry = r.expiresAt === undefined ? say`unknown` : r.expiresAt === null ? say`never` : displayText(r.expiresAt.toISOString());
    const unfinished = r.unfinishedRotations.map((u) => say`${displayText(u.userEmail)} (${displayText(u.oldKey)} → ${displayText(u.newKey)}, ${displayText(u.status)} at ${displayText(u.phase)})`);
    ctx.out.data(
      joinDisplay(
        [
          say`${displayText(r.identity.email)}${r.identity.name ? say` (${displayText(r.identity.name)})` : say``}`,
          say`  admin key         ${displayText(r.maskedKey)} from ${displayText(r.where)}`,
          say`  expires           ${expiry}`,
          say`  may manage users  ${manageWords(r.canManageUsers)}`,
          say`  permissions       ${r.identity.acls.length ? joinDisplay(r.identity.acls.map((acl) => displayText(acl))) : say`none`}`,
          say`  unfinished        ${unfinished.length ? joinDisplay(unfinished, '; ') : say`no rotation`}`,
        ],
        '\n',
      ),
    );
  },
  toJson: (r) => ({
    source: r.source,
    where: r.where,
    email: r.identity.email,
    name: r.identity.name,
    acls: r.identity.acls,
    canManageUsers: r.canManageUsers,
    maskedKey: r.maskedKey,
    expiresAt: r.expiresAt === undefined ? 'unknown' : (r.expiresAt?.toISOString() ?? null),
    unfinishedRotations: r.unfinishedRotations,
  }),
};

export interface LogoutOptions {
  yes?: boolean;
}

export interface LogoutResult {
  account: string;
  removed: boolean;
}

export const logoutCommand: CommandModule<LogoutOptions, LogoutResult> = {
  async run(options, ctx) {
    const store = await ctx.secretStore();
    const stored = adminAccount(ctx.providerFactory.id);
    // Only the admin entry: the keys keyrot holds for users are never touched here.
    const account = entryName(store, stored);
    if ((await store.get(stored)) === null) return { account, removed: false };
    if (!options.yes) {
      if (!ctx.interactive) throw new UsageError(say`Logging out deletes the stored admin key (keychain account "${displayText(account)}"): pass --yes to confirm without a terminal.`);
      if (!(await ctx.prompts.confirm(`Delete the stored admin key (keychain account "${account}")? Keys keyrot holds for users stay.`, '--yes'))) {
        throw new CancelledError(say`Cancelled: the admin key stays stored.`);
      }
    }
    return { account, removed: await store.delete(stored) };
  },
  render(r, ctx) {
    if (r.removed) ctx.out.data(say`${ctx.out.style.green(say`✔`)} Logged out: the admin key (keychain account "${displayText(r.account)}") is deleted.`);
    else ctx.out.info(say`No admin key is stored (keychain account "${displayText(r.account)}"): nothing to do.`);
  },
};

/** Whether the key may manage users' keys, where the provider names the permission that needs; null where it does not. */
function mayManage(provider: Provider, identity: Identity): boolean | null {
  const needed = provider.capabilities.managePermission;
  return needed ? identity.acls.includes(needed) : null;
}

function manageWords(can: boolean | null): DisplayText {
  return can === null ? say`not known in advance (the first change will tell)` : can ? say`yes` : say`NO`;
}
