import type { Context } from '../cli/context.js';
import { maskFromLastChars } from '../core/mask.js';
import { CancelledError, UsageError } from '../errors.js';
import { keychainAccount } from '../keychain/secret-store.js';
import type { User } from '../providers/types.js';
import { nonInteractiveError } from '../ui/prompts.js';
import { findKey, heldIdsOrNull, resolveUser } from './resolve.js';
import type { CommandModule } from './types.js';

export interface RevokeOptions {
  user?: string;
  key?: string;
  yes?: boolean;
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
    const keys = await provider.listKeys(user.id);
    const store = await ctx.secretStore().catch(() => null);
    const held = await heldIdsOrNull(ctx, store, provider, user.id);
    const key =
      options.key !== undefined
        ? findKey(keys, options.key, user.email)
        : await ctx.prompts.select(
            `Which key of ${user.email} to revoke?`,
            keys.map((k) => ({ name: `${k.name}  ${maskFromLastChars(k.lastChars)}${held?.has(k.id) ? '  [in keychain]' : ''}`, value: k, description: k.id })),
            '--key <id or name>',
          );
    const label = `${key.name} (${key.id}, ${maskFromLastChars(key.lastChars)}) of ${user.email}`;
    if (!options.yes) {
      if (!ctx.interactive) throw new UsageError(`Revoking ${label} is destructive: pass --yes to confirm without a terminal.`);
      const ok = await ctx.prompts.confirm(`Revoke ${label}? Anything still using it will get 401 at once.`, '--yes');
      if (!ok) throw new CancelledError('Cancelled: the key was not revoked.');
    }
    const outcome = await provider.deleteKey(user.id, key.id);
    let keychainEntryRemoved = false;
    if (store && held?.has(key.id)) {
      keychainEntryRemoved = await store.delete(keychainAccount(provider.id, user.id, key.id));
    }
    await ctx.keyIndex.remove(provider.id, key.id);
    return { user, keyId: key.id, name: key.name, maskedKey: maskFromLastChars(key.lastChars), outcome, keychainEntryRemoved };
  },
  render(r, ctx) {
    const s = ctx.out.style;
    ctx.out.data(
      `${s.green('✔')} Revoked ${s.bold(r.name)} (${r.keyId}, ${r.maskedKey}) of ${r.user.email}` +
        (r.outcome === 'already-gone' ? ' (it was already gone)' : '') +
        (r.keychainEntryRemoved ? '; its keychain entry was removed' : ''),
    );
  },
  toJson: (r) => ({ userId: r.user.id, userEmail: r.user.email, keyId: r.keyId, name: r.name, maskedKey: r.maskedKey, outcome: r.outcome, keychainEntryRemoved: r.keychainEntryRemoved }),
};
