import type { Context } from '../cli/context.js';
import { maskFromLastChars } from '../core/mask.js';
import type { KeyRecord } from '../journal/key-index.js';
import type { ApiKey, User } from '../providers/types.js';
import { printTable } from '../ui/table.js';
import { heldAmong, listedKeys, resolveUser } from './resolve.js';
import type { CommandModule } from './types.js';
import { say, displayText } from '../ui/display-text.js';

/** The key index only adds creation times: an unreadable one is a warning, not a failed listing. */
async function readIndex(ctx: Context, provider: string, userId: string): Promise<KeyRecord[]> {
  try {
    return await ctx.keyIndex.forUser(provider, userId);
  } catch (err) {
    ctx.out.warn(say`Cannot read keyrot's key index in ${displayText(ctx.stateDir)}, so creation times are missing: ${displayText((err as Error).message, 2000)}`);
    return [];
  }
}

export interface ListKeysOptions {
  user?: string;
}

export interface ListedKey extends ApiKey {
  /** true: keyrot holds this key's plaintext; null: the keychain could not be read. */
  held: boolean | null;
  createdAt: string | null;
}

export interface ListKeysResult {
  user: User;
  keys: ListedKey[];
}

export const listKeysCommand: CommandModule<ListKeysOptions, ListKeysResult> = {
  async run(options, ctx: Context) {
    const provider = await ctx.provider();
    const user = await resolveUser(ctx, provider, options.user);
    const store = await ctx.secretStore().catch(() => null);
    const keys = await listedKeys(ctx, store, provider, user.id);
    const held = await heldAmong(ctx, store, provider.id, user.id, keys);
    const index = new Map((await readIndex(ctx, provider.id, user.id)).map((r) => [r.keyId, r]));
    // A provider that lists no suffix of its keys (Grafana): the last characters keyrot recorded when it made the key.
    const listed = keys.map((key) => ({
      ...key,
      lastChars: key.lastChars ?? index.get(key.id)?.lastChars ?? null,
      held: held ? held.has(key.id) : null,
      createdAt: index.get(key.id)?.createdAt ?? null,
    }));
    return { user, keys: listed };
  },
  render({ user, keys }, ctx) {
    if (keys.length === 0) {
      ctx.out.info(say`${displayText(user.email)} has no API keys.`);
      return;
    }
    printTable(ctx.out, keys, [
      { header: 'ID', value: (k) => k.id, id: true },
      { header: 'NAME', value: (k) => k.name, key: true },
      { header: 'KEY', value: (k) => maskFromLastChars(k.lastChars), keep: true },
      { header: 'EXPIRES', value: (k) => (k.expiresAt ? k.expiresAt.toISOString().slice(0, 10) : 'never') },
      // Providers that report each key's own last use (Grafana and the like) get a column for it.
      ...(keys.some((k) => k.lastUsedAt !== undefined) ? [{ header: 'LAST USED', value: (k: ListedKey) => (k.lastUsedAt ? k.lastUsedAt.toISOString().replace(/\.\d{3}Z$/, 'Z') : 'never') }] : []),
      { header: 'KEYCHAIN', value: (k) => (k.held === null ? '?' : k.held ? 'held' : '-') },
    ]);
    // A legend only for what the column shows: "held" where a key is held, "?" where the keychain could not be read.
    const legend = [keys.some((k) => k.held) ? '"held": keyrot has its plaintext in the keychain' : null, keys.some((k) => k.held === null) ? '"?": the keychain could not be read' : null].filter(
      Boolean,
    );
    ctx.out.info(say`${keys.length} key${keys.length === 1 ? say`` : say`s`} of ${displayText(user.email)}${legend.length ? say`; ${displayText(legend.join('; '), 2000)}` : say``}.`);
  },
  toJson: ({ user, keys }) =>
    keys.map((k) => ({
      id: k.id,
      name: k.name,
      userId: user.id,
      maskedKey: maskFromLastChars(k.lastChars),
      expiresAt: k.expiresAt?.toISOString() ?? null,
      held: k.held,
      createdAt: k.createdAt,
      ...(k.scopes ? { scopes: k.scopes } : {}),
      ...(k.lastUsedAt !== undefined ? { lastUsedAt: k.lastUsedAt?.toISOString() ?? null } : {}),
    })),
};
