import type { Context } from '../cli/context.js';
import { setTimeout as delay } from 'node:timers/promises';
import { deleteAndConfirm } from '../core/delete-key.js';
import { maskFromLastChars } from '../core/mask.js';
import { CancelledError, UsageError } from '../errors.js';
import { keychainAccount } from '../keychain/secret-store.js';
import type { ApiKey, User } from '../providers/types.js';
import { nonInteractiveError } from '../ui/prompts.js';
import { displayText, say } from '../ui/display-text.js';
import { describeKey, findKey, heldAmong, resolveUser, refuseRunningAdminKey } from './resolve.js';
import type { CommandModule } from './types.js';
import { refuseDuringRotation, withUserLock } from './user-lock.js';

export interface RevokeOptions {
  user?: string;
  key?: string;
  yes?: boolean;
  force?: boolean;
}

export interface RevokeResult {
  user: User;
  keyId: string;
  name: string;
  maskedKey: string;
  outcome: 'deleted' | 'already-gone';
  keychainEntryRemoved: boolean;
}

export const revokeCommand: CommandModule<RevokeOptions, RevokeResult> = {
  async run(options, ctx: Context) {
    if (options.key === undefined && !ctx.interactive) throw nonInteractiveError('--key <id or name>');
    const provider = await ctx.provider();
    const user = await resolveUser(ctx, provider, options.user);
    return withUserLock(ctx, provider, user, async () => {
      const keys = await provider.listKeys(user.id);
      const store = await ctx.secretStore().catch(() => null);
      let key: ApiKey;
      if (options.key !== undefined) {
        key = findKey(keys, options.key, user.email);
      } else {
        const held = await heldAmong(ctx, store, provider.id, user.id, keys);
        key = await ctx.prompts.select(
          say`Which key of ${displayText(user.email)} to revoke?`,
          keys.map((k) => ({ name: describeKey(k, held), value: k, description: k.id })),
          '--key <id or name>',
        );
      }
      await refuseDuringRotation(ctx, provider, user, `revoke ${key.name}`, Boolean(options.force));
      await refuseRunningAdminKey(ctx, provider, user, key, 'revoke');
      const label = `${key.name} (${key.id}, ${maskFromLastChars(key.lastChars)}) of ${user.email}`;
      if (!options.yes) {
        if (!ctx.interactive) throw new UsageError(say`Revoking ${displayText(label)} is destructive: pass --yes to confirm without a terminal.`);
        const ok = await ctx.prompts.confirm(`Revoke ${label}? Anything still using it will get 401 at once.`, '--yes');
        if (!ok) throw new CancelledError(say`Cancelled: the key was not revoked.`);
      }
      const account = keychainAccount(provider.id, user.id, key.id);
      const secret = store ? await store.get(account).catch(() => null) : null;
      if (secret) ctx.out.protect(secret);
      // Gone only once the provider no longer lists it (or rejects it): a 2xx that kept the key throws here, before
      // the keychain entry is touched, so whoever holds the live key still does.
      const outcome = await deleteAndConfirm(provider, user.id, key, { secret, sleep: (ms) => delay(ms) });
      // Deleting the entry by its account is idempotent, and unlike enumerating the keychain it cannot trip
      // over another process's entries. The key is already revoked: a keychain failure is a warning.
      let keychainEntryRemoved = false;
      if (store) {
        try {
          keychainEntryRemoved = await store.delete(account);
        } catch (err) {
          ctx.out.warn(say`The key is revoked, but keyrot could not remove its keychain entry "${displayText(account)}" (if any): ${displayText((err as Error).message, 2000)}`);
        }
      }
      // The key is already gone at the provider: a stale index entry is worth a warning, not a failure.
      await ctx.keyIndex.remove(provider.id, key.id).catch((err: unknown) => {
        ctx.out.warn(say`The key is revoked, but keyrot's key index in ${displayText(ctx.stateDir)} could not be updated: ${displayText((err as Error).message, 2000)}`);
      });
      return { user, keyId: key.id, name: key.name, maskedKey: maskFromLastChars(key.lastChars), outcome, keychainEntryRemoved } satisfies RevokeResult;
    });
  },
  render(r, ctx) {
    const s = ctx.out.style;
    ctx.out.data(
      say`${s.green(say`✔`)} Revoked ${s.bold(displayText(r.name))} (${displayText(r.keyId)}, ${displayText(r.maskedKey)}) of ${displayText(r.user.email)}${
        r.outcome === 'already-gone' ? say` (it was already gone)` : say``
      }${r.keychainEntryRemoved ? say`; its keychain entry was removed` : say``}`,
    );
  },
  toJson: (r) => ({ userId: r.user.id, userEmail: r.user.email, keyId: r.keyId, name: r.name, maskedKey: r.maskedKey, outcome: r.outcome, keychainEntryRemoved: r.keychainEntryRemoved }),
};
