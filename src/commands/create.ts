import type { Context } from '../cli/context.js';
import { createAndStoreKey, deleteOrphans, discardNewKey, orphanCandidates, type Discarded, type StoredKey } from '../core/create-key.js';
import { setTimeout as delay } from 'node:timers/promises';
import { deleteAndConfirm } from '../core/delete-key.js';
import { parseDuration, parseExpiry } from '../core/duration.js';
import { BIDI_CONTROLS, maskSecret } from '../core/mask.js';
import { defaultKeyName } from '../core/naming.js';
import { CancelledError, RotationIncompleteError, UsageError, isKeyrotError } from '../errors.js';
import { PendingCreates, type PendingCreate } from '../journal/pending-creates.js';
import { writeRescueFile } from '../journal/rescue.js';
import { KEYCHAIN_SERVICE, entryName, probeWritable, type SecretStore } from '../keychain/secret-store.js';
import type { Provider, User } from '../providers/types.js';
import { addMaskLine, inGithubActions, writeJobOutputs } from '../ui/github.js';
import { parseTargets, targetList, type Destination } from '../destinations/index.js';
import { DEFAULT_HOOK_TIMEOUT, requireHookWithoutStore, runNewKeyHook, storeFor, withoutKeychainHint } from './hand-over.js';
import { resolveUser } from './resolve.js';
import type { CommandModule } from './types.js';
import { refuseDuringRotation, withUserLock } from './user-lock.js';
import { shellArg } from '../core/shell-arg.js';
import { say, displayText, joinDisplay } from '../ui/display-text.js';

export interface CreateOptions {
  user?: string;
  name?: string;
  expires?: string;
  reveal?: boolean;
  force?: boolean;
  yes?: boolean;
  /** Hand the new key to this command on its stdin; if it fails, the key is deleted. */
  onNewKey?: string;
  /** Built-in destinations (--to, repeatable), given the key before --on-new-key. */
  to?: string | string[];
  hookTimeout?: string;
}

export interface CreateResult {
  user: User;
  id: string;
  name: string;
  maskedKey: string;
  expiresAt: Date | null;
  /** Where the plaintext is kept; null with --store none (only --on-new-key got it). */
  keychain: { service: string; account: string; store: string } | null;
  /** Whether --on-new-key received the key. */
  handedOver: boolean;
  /** The --to destinations that received the key, in order. */
  deliveredTo: string[];
  orphansDeleted: string[];
  /** Present only with --reveal. */
  secret?: string;
}

export const createCommand: CommandModule<CreateOptions, CreateResult> = {
  async run(options, ctx: Context) {
    // Everything that can be refused is refused before the first call.
    const expiresAt = options.expires === undefined ? null : parseExpiry(options.expires, ctx.now());
    if (options.name !== undefined) validateName(options.name);
    const targets = targetList(options.to);
    requireHookWithoutStore(ctx, options.onNewKey, targets);
    const destinations = parseTargets(targets, { env: ctx.env, signal: ctx.signal });
    if (ctx.storeMode === 'none' && options.reveal) throw new UsageError(say`--store none hands the new key to --on-new-key and nowhere else: it cannot be combined with --reveal.`);
    const hookTimeoutMs = parseDuration(options.hookTimeout ?? DEFAULT_HOOK_TIMEOUT, '--hook-timeout');
    if (hookTimeoutMs <= 0) throw new UsageError(say`--hook-timeout must be greater than zero.`);
    const provider = await ctx.provider();
    const user = await resolveUser(ctx, provider, options.user);
    // A destination that can never take the key (no token, no such repository) is refused before any key exists.
    for (const d of destinations) await d.preflight();
    const outputs = { 'user-id': user.id, 'user-email': user.email, 'old-key-id': '' };
    try {
      const result = await withUserLock(ctx, provider, user, () => createUnderLock(options, destinations, expiresAt, hookTimeoutMs, ctx, provider, user));
      await writeJobOutputs(ctx, { ...outputs, 'new-key-id': result.id, 'new-key-name': result.name, outcome: 'created' });
      return result;
    } catch (err) {
      await writeJobOutputs(ctx, { ...outputs, 'new-key-id': '', 'new-key-name': '', outcome: 'failed' });
      throw err;
    }
  },
  render(r, ctx) {
    const s = ctx.out.style;
    ctx.out.data(
      joinDisplay(
        [
          say`${s.green(say`✔`)} Created key ${s.bold(displayText(r.name))} for ${displayText(r.user.email)}`,
          say`  id       ${displayText(r.id)}`,
          say`  key      ${displayText(r.maskedKey)}`,
          say`  expires  ${displayText(r.expiresAt ? r.expiresAt.toISOString() : 'never')}`,
          r.keychain
            ? say`  stored   ${displayText(r.keychain.store)}: service "${displayText(r.keychain.service)}", account "${displayText(r.keychain.account)}"`
            : say`  stored   nowhere (--store none): --on-new-key alone has it`,
          ...r.deliveredTo.map((t) => say`  handed   to ${displayText(t)}`),
          ...(r.handedOver ? [say`  handed   to --on-new-key`] : []),
        ],
        '\n',
      ),
    );
    if (r.secret !== undefined) {
      ctx.out.info(say`The plaintext follows (--reveal): it is shown this once.`);
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
    handedOver: r.handedOver,
    deliveredTo: r.deliveredTo,
    orphansDeleted: r.orphansDeleted,
    ...(r.secret !== undefined ? { secret: r.secret } : {}),
  }),
  revealed: (r) => r.secret,
};

export function validateName(name: string): void {
  if (!name.trim()) throw new UsageError(say`--name is empty.`);
  if (name.length > 255) throw new UsageError(say`--name is longer than 255 characters.`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) throw new UsageError(say`--name contains control characters.`);
  if (new RegExp(BIDI_CONTROLS.source).test(name)) throw new UsageError(say`--name contains bidirectional control characters (they make a name read differently from what it is).`);
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
  if (candidates.length === 0) ctx.out.info(say`${displayText(origin[0]!.toUpperCase())}${displayText(origin.slice(1))} left no key behind.`);
  for (const key of candidates) {
    // keyrot does not hold it; an --on-new-key hook of that create may have received it before the kill.
    const what = `Key ${key.name} (${key.id}) of ${user.email} is probably from ${origin}, and keyrot does not hold its plaintext (unless a hook of that create received it, nobody does)`;
    if (!yes && !ctx.interactive) {
      ctx.out.warn(
        say`${displayText(what)}. If no one made it by hand since, delete it: keyrot revoke --user ${displayText(shellArg(user.email))} --key ${displayText(key.id)} --yes (or pass --yes to the next create).`,
      );
      return;
    }
    if (yes || (await ctx.prompts.confirm(`${what}. Delete it? (No if someone made it by hand since)`, '--yes'))) {
      await deleteAndConfirm(provider, user.id, key, { sleep: (ms) => delay(ms) });
      ctx.out.warn(say`Deleted key ${displayText(key.name)} (${displayText(key.id)}).`);
    }
  }
  await pending.end(interrupted);
}

/** The create itself, under the user's lock: nothing is sent before every refusal had its chance. */
async function createUnderLock(
  options: CreateOptions,
  destinations: readonly Destination[],
  expiresAt: Date | null,
  hookTimeoutMs: number,
  ctx: Context,
  provider: Provider,
  user: User,
): Promise<CreateResult> {
  await refuseDuringRotation(ctx, provider, user, 'create a key', Boolean(options.force));
  const store = await storeFor(ctx, ctx.storeMode);
  if (ctx.storeMode === 'os') await probeWritable(store).catch(withoutKeychainHint);
  const pending = new PendingCreates(ctx.stateDir);
  for (const interrupted of await pending.abandoned(provider.id, user.id)) await settleInterrupted(ctx, provider, store, user, pending, interrupted, Boolean(options.yes));
  const existing = await provider.listKeys(user.id);
  const name =
    options.name ??
    defaultKeyName(
      ctx.now(),
      existing.map((k) => k.name),
    );
  if (existing.some((k) => k.name === name)) {
    throw new UsageError(say`${displayText(user.email)} already has a key named "${displayText(name)}": pick another --name.`, {
      hint: say`Distinct names let keyrot recognise its own key if an answer from the provider is lost.`,
    });
  }
  let secret = '';
  const record = await pending.begin({ provider: provider.id, userId: user.id, name, preexistingKeyIds: existing.map((k) => k.id), startedAt: ctx.now().toISOString() });
  // Creates sent and orphans deleted by this process: only so many unheld keys of the name can be its own.
  const counts = { sent: 0, deleted: 0 };
  const stored = await createAndStoreKey(
    { userId: user.id, name, expiresAt, preexistingKeyIds: new Set(existing.map((k) => k.id)), ownUnheldBefore: 0 },
    {
      provider,
      store,
      rescue: (key, userId) => writeRescueFile(ctx.stateDir, provider.id, userId, key),
      note: (m) => ctx.out.warn(m),
      onCreateSent: async () => void counts.sent++,
      onOrphansDeleted: async (n) => void (counts.deleted += n),
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
          ctx.out.warn(say`The key is created and stored, but its creation time could not be recorded in ${displayText(ctx.stateDir)}: ${displayText((err as Error).message, 2000)}`);
        }
      },
    },
  ).then(
    async (done) => {
      // In the keychain the key is safe from here on; with --store none only once the hook has it.
      if (ctx.storeMode === 'os') await pending.end(record);
      return done;
    },
    async (err: unknown) => {
      // Cancelled mid-create: settle it now, on the clean-up connection (the run's own requests are aborted).
      if (err instanceof CancelledError) {
        const settled = await deleteOrphans(
          { userId: user.id, name, preexistingKeyIds: new Set(existing.map((k) => k.id)), ownUnheld: counts.sent - counts.deleted },
          { provider: await ctx.cleanupProvider(), store, note: (m) => ctx.out.warn(m) },
        ).then(
          () => true,
          () => false,
        );
        if (settled) await pending.end(record);
        throw err;
      }
      if (settledBy(err)) await pending.end(record);
      throw err;
    },
  );
  const deliveredTo: string[] = [];
  if (options.onNewKey || destinations.length) {
    const steps = [
      ...destinations.map((d) => ({ name: `--to ${d.target}`, give: async (key: string) => void (await d.deliver(key), deliveredTo.push(d.target)) })),
      ...(options.onNewKey ? [{ name: '--on-new-key', give: (key: string) => runNewKeyHook(ctx, options.onNewKey!, key, hookEnv(user, stored), hookTimeoutMs) }] : []),
    ];
    // Under GitHub Actions the runner masks the key in every later log line before any destination has it.
    if (destinations.length && inGithubActions(ctx.env)) ctx.out.workflowCommand(addMaskLine(secret));
    try {
      await handOverOrDiscard(ctx, provider, store, user, stored, secret, steps);
    } catch (err) {
      if (ctx.storeMode === 'none' && settledBy(err)) await pending.end(record);
      throw err;
    }
  }
  if (ctx.storeMode === 'none') await pending.end(record);
  // Under GitHub Actions a revealed key is masked in the job log before it is printed.
  if (options.reveal && inGithubActions(ctx.env)) ctx.out.workflowCommand(addMaskLine(secret));
  return {
    user,
    id: stored.key.id,
    name: stored.key.name,
    maskedKey: maskSecret(secret),
    expiresAt: stored.key.expiresAt,
    keychain: ctx.storeMode === 'os' ? { service: KEYCHAIN_SERVICE, account: entryName(store, stored.account), store: store.description } : null,
    handedOver: Boolean(options.onNewKey),
    deliveredTo,
    orphansDeleted: stored.orphansDeleted,
    ...(options.reveal ? { secret } : {}),
  };
}

/**
 * Whether a create that failed with `err` left nothing to settle: nothing was created, or the key was deleted, or
 * a rescue file holds it. Anything else (a clean-up that failed) keeps the pending record for the next create.
 */
function settledBy(err: unknown): boolean {
  return !(err instanceof RotationIncompleteError && !err.data?.rescueFile);
}

function hookEnv(user: User, stored: StoredKey): Record<string, string> {
  return { KEYROT_USER_ID: user.id, KEYROT_USER_EMAIL: user.email, KEYROT_KEY_ID: stored.key.id, KEYROT_KEY_NAME: stored.key.name };
}

/**
 * Gives the new key to each --to destination, then --on-new-key. If the first of them fails (or keyrot is
 * interrupted before any took it), nobody got the key: it is deleted, so a create either hands its key over or
 * leaves nothing behind: the error is thrown, its hint saying what became of the key. With --store none a delete
 * that fails leaves the plaintext in the rescue file (exit 12). Once one destination has the key, it is live
 * somewhere and is kept: the error then names who has it and who does not.
 */
async function handOverOrDiscard(
  ctx: Context,
  provider: Provider,
  store: SecretStore,
  user: User,
  stored: StoredKey,
  secret: string,
  steps: ReadonlyArray<{ name: string; give(secret: string): Promise<void> }>,
): Promise<void> {
  const { key, account } = stored;
  const given: string[] = [];
  try {
    for (const step of steps) {
      await step.give(secret);
      given.push(step.name);
    }
  } catch (err) {
    if (!isKeyrotError(err)) throw err;
    if (given.length) {
      const failed = steps[given.length]!.name;
      const where = ctx.storeMode === 'os' ? `, and in the keychain (account "${account}")` : '';
      err.hint = say`The new key ${displayText(key.name)} (${displayText(key.id)}) is live: ${displayText(given.join(', '), 2000)} received it${displayText(where)}; ${displayText(failed)}${given.length + 1 < steps.length ? say` and what follows it` : say``} did not. Give it to the rest yourself, or delete it (keyrot revoke --user ${displayText(shellArg(user.email))} --key ${displayText(key.id)} --yes) and create again.`;
      throw err;
    }
    const held = ctx.storeMode === 'os';
    let discarded: Discarded;
    try {
      discarded = await discardNewKey(
        // After a cancel (Ctrl-C, a cancelled CI job) the run's own requests are aborted: the clean-up has its own.
        async () => (err instanceof CancelledError ? await ctx.cleanupProvider() : provider),
        user.id,
        key,
        held ? null : secret,
        (k, userId) => writeRescueFile(ctx.stateDir, provider.id, userId, k),
      );
    } catch (deleteErr) {
      if (!held) {
        throw new RotationIncompleteError(
          say`${err.message} Key ${displayText(key.id)} (${displayText(key.name)}) is live, and neither deleting it nor a rescue file worked (${displayText((deleteErr as Error).message, 2000)}).`,
          {
            hint: say`Delete key ${displayText(key.id)} at the provider.`,
            data: { keyId: key.id },
            cause: err,
          },
        );
      }
      err.hint = say`Deleting the new key ${displayText(key.name)} (${displayText(key.id)}) failed too (${displayText((deleteErr as Error).message, 2000)}); it stays in the keychain (account "${displayText(account)}"): hand it on yourself, or delete it with keyrot revoke --user ${displayText(shellArg(user.email))} --key ${displayText(key.id)} --yes.`;
      throw err;
    }
    if (discarded.kind === 'rescued') {
      throw new RotationIncompleteError(
        say`${err.message} Deleting the new key ${displayText(key.name)} (${displayText(key.id)}) failed too; its plaintext is in ${displayText(discarded.path)} (mode 0600).`,
        {
          hint: say`Move the key from ${displayText(discarded.path)} into your secret store, or delete key ${displayText(key.id)} at the provider, then delete the file.`,
          data: { keyId: key.id, rescueFile: discarded.path },
          cause: err,
        },
      );
    }
    if (held) await store.delete(account).catch(() => undefined);
    await ctx.keyIndex.remove(provider.id, key.id).catch(() => undefined);
    err.hint = say`keyrot deleted the new key ${displayText(key.name)} (${displayText(key.id)}): no consumer got it, and nothing else changed.`;
    ctx.out.warn(say`Deleted the new key ${displayText(key.name)} (${displayText(key.id)}): ${displayText(steps[0]!.name)} did not take it.`);
    throw err;
  }
}
