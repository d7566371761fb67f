import type { Context } from '../cli/context.js';
import { createAndStoreKey, deleteOrphans, orphanCandidates } from '../core/create-key.js';
import { parseExpiry } from '../core/duration.js';
import { BIDI_CONTROLS, maskSecret } from '../core/mask.js';
import { defaultKeyName } from '../core/naming.js';
import { CancelledError, RotationIncompleteError, UsageError } from '../errors.js';
import { PendingCreates, type PendingCreate } from '../journal/pending-creates.js';
import { writeRescueFile } from '../journal/rescue.js';
import { KEYCHAIN_SERVICE, entryName, probeWritable, type SecretStore } from '../keychain/secret-store.js';
import type { Provider, User } from '../providers/types.js';
import { addMaskLine, inGithubActions } from '../ui/github.js';
import { resolveUser } from './resolve.js';
import type { CommandModule } from './types.js';
import { refuseDuringRotation, withUserLock } from './user-lock.js';

export interface CreateOptions {
  user?: string;
  name?: string;
  expires?: string;
  reveal?: boolean;
  force?: boolean;
  yes?: boolean;
}

export interface CreateResult {
  user: User;
  id: string;
  name: string;
  maskedKey: string;
  expiresAt: Date | null;
  keychain: { service: string; account: string; store: string };
  orphansDeleted: string[];
  /** Present only with --reveal. */
  secret?: string;
}

export const createCommand: CommandModule<CreateOptions, CreateResult> = {
  async run(options, ctx: Context) {
    // Everything that can be refused is refused before the first call.
    const expiresAt = options.expires === undefined ? null : parseExpiry(options.expires, ctx.now());
    if (options.name !== undefined) validateName(options.name);
    const provider = await ctx.provider();
    const user = await resolveUser(ctx, provider, options.user);
    return withUserLock(ctx, provider, user, () => createUnderLock(options, expiresAt, ctx, provider, user));
  },
  render(r, ctx) {
    const s = ctx.out.style;
    ctx.out.data(
      [
        `${s.green('✔')} Created key ${s.bold(r.name)} for ${r.user.email}`,
        `  id       ${r.id}`,
        `  key      ${r.maskedKey}`,
        `  expires  ${r.expiresAt ? r.expiresAt.toISOString() : 'never'}`,
        `  stored   ${r.keychain.store}: service "${r.keychain.service}", account "${r.keychain.account}"`,
      ].join('\n'),
    );
    if (r.secret !== undefined) {
      ctx.out.info('The plaintext follows (--reveal): it is shown this once.');
      ctx.out.reveal(r.secret);
    }
  },
  toJson: (r) => ({
    id: r.id,
    name: r.name,
    userId: r.user.id,
    userEmail: r.user.email,
    maskedKey: r.maskedKey,
    expiresAt: r.expiresAt?.toISOString() ?? null,
    keychain: r.keychain,
    orphansDeleted: r.orphansDeleted,
    ...(r.secret !== undefined ? { secret: r.secret } : {}),
  }),
  revealed: (r) => r.secret,
};

export function validateName(name: string): void {
  if (!name.trim()) throw new UsageError('--name is empty.');
  if (name.length > 255) throw new UsageError('--name is longer than 255 characters.');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) throw new UsageError('--name contains control characters.');
  if (new RegExp(BIDI_CONTROLS.source).test(name)) throw new UsageError('--name contains bidirectional control characters (they make a name read differently from what it is).');
}

/**
 * A create of an earlier process that was killed mid-way: a key of its name that did not exist before it and
 * whose plaintext this keychain lacks is most likely the one it made and lost, but a key made by hand since then
 * under the same name looks the same, and nothing tells them apart. So each is deleted only with consent: asked in
 * a terminal; without one it is named, with the command that deletes it, and the record stays until then.
 */
async function settleInterrupted(ctx: Context, provider: Provider, store: SecretStore, user: User, pending: PendingCreates, interrupted: PendingCreate, yes: boolean): Promise<void> {
  const candidates = await orphanCandidates({ ...interrupted, preexistingKeyIds: new Set(interrupted.preexistingKeyIds) }, { provider, store });
  const origin = `an interrupted keyrot create of "${interrupted.name}" (${interrupted.startedAt}, ${interrupted.host})`;
  if (candidates.length === 0) ctx.out.info(`${origin[0]!.toUpperCase()}${origin.slice(1)} left no key behind.`);
  for (const key of candidates) {
    const what = `Key ${key.name} (${key.id}) of ${user.email} is probably from ${origin}, and nobody holds its plaintext`;
    if (!yes && !ctx.interactive) {
      ctx.out.warn(`${what}. If no one made it by hand since, delete it: keyrot revoke --user ${user.email} --key ${key.id} --yes (or pass --yes to the next create).`);
      return;
    }
    if (yes || (await ctx.prompts.confirm(`${what}. Delete it? (No if someone made it by hand since)`, '--yes'))) {
      await provider.deleteKey(user.id, key.id);
      ctx.out.warn(`Deleted key ${key.name} (${key.id}).`);
    }
  }
  await pending.end(interrupted);
}

/** The create itself, under the user's lock: nothing is sent before every refusal had its chance. */
async function createUnderLock(options: CreateOptions, expiresAt: Date | null, ctx: Context, provider: Provider, user: User): Promise<CreateResult> {
  await refuseDuringRotation(ctx, provider, user, 'create a key', Boolean(options.force));
  const store = await ctx.secretStore();
  await probeWritable(store);
  const pending = new PendingCreates(ctx.stateDir);
  for (const interrupted of await pending.abandoned(provider.id, user.id)) await settleInterrupted(ctx, provider, store, user, pending, interrupted, Boolean(options.yes));
  const existing = await provider.listKeys(user.id);
  const name = options.name ?? defaultKeyName(ctx.now(), existing.map((k) => k.name));
  if (existing.some((k) => k.name === name)) {
    throw new UsageError(`${user.email} already has a key named "${name}": pick another --name.`, {
      hint: 'Distinct names let keyrot recognise its own key if an answer from the provider is lost.',
    });
  }
  let secret = '';
  const record = await pending.begin({ provider: provider.id, userId: user.id, name, preexistingKeyIds: existing.map((k) => k.id), startedAt: ctx.now().toISOString() });
  const stored = await createAndStoreKey(
    { userId: user.id, name, expiresAt, preexistingKeyIds: new Set(existing.map((k) => k.id)) },
    {
      provider,
      store,
      rescue: (key, userId) => writeRescueFile(ctx.stateDir, provider.id, userId, key),
      note: (m) => ctx.out.warn(m),
      onStored: async (key) => {
        secret = key.secret;
        ctx.out.protect(key.secret);
        // The key is live and its plaintext is safe in the keychain: metadata that cannot be written must not
        // turn that into a failure (a script would retry and make a second key).
        try {
          await ctx.keyIndex.add({
            provider: provider.id,
            userId: user.id,
            keyId: key.id,
            name: key.name,
            createdAt: ctx.now().toISOString(),
            expiresAt: key.expiresAt?.toISOString() ?? null,
            lastChars: key.secret.slice(-5),
          });
        } catch (err) {
          ctx.out.warn(`The key is created and stored, but its creation time could not be recorded in ${ctx.stateDir}: ${(err as Error).message}`);
        }
      },
    },
  ).then(
    async (done) => {
      await pending.end(record);
      return done;
    },
    async (err: unknown) => {
      // Cancelled mid-create: settle it now, on the clean-up connection (the run's own requests are aborted).
      if (err instanceof CancelledError) {
        const settled = await deleteOrphans(
          { userId: user.id, name, preexistingKeyIds: new Set(existing.map((k) => k.id)) },
          { provider: await ctx.cleanupProvider(), store, note: (m) => ctx.out.warn(m) },
        ).then(
          () => true,
          () => false,
        );
        if (settled) await pending.end(record);
        throw err;
      }
      // Settled: nothing was created, or the key was deleted, or a rescue file holds it. Anything else (a clean-up
      // that failed) keeps the record for the next create to settle.
      if (!(err instanceof RotationIncompleteError && !(err.data ?? {}).rescueFile)) await pending.end(record);
      throw err;
    },
  );
  // Under GitHub Actions a revealed key is masked in the job log before it is printed.
  if (options.reveal && inGithubActions(ctx.env)) ctx.out.workflowCommand(addMaskLine(secret));
  return {
    user,
    id: stored.key.id,
    name: stored.key.name,
    maskedKey: maskSecret(secret),
    expiresAt: stored.key.expiresAt,
    keychain: { service: KEYCHAIN_SERVICE, account: entryName(store, stored.account), store: store.description },
    orphansDeleted: stored.orphansDeleted,
    ...(options.reveal ? { secret } : {}),
  };
}
