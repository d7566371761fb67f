// keyManagement 'operator' (e.g. Kubeadapt: a person mints and revokes keys in its dashboard): the steps that replace
// keyrot's own create and revoke. The engine (core/rotation) calls them through RotationPorts.operatorFlow; commands
// wire `dashboardFlow` in for such a provider.
import { KeychainError, OperatorStepError, UsageError, VerificationFailedError } from '../errors.js';
import { formatDuration } from '../core/duration.js';
import { keychainAccount } from '../core/key-store.js';
import { maskSecret } from '../core/mask.js';
import { markStarted, newSecret, remember, save, throwIfCancelled, type OperatorFlow, type RotationPorts, type StepProgress } from '../core/rotation/ports.js';
import type { RotationRecord } from '../core/rotation/record.js';
import { TRANSITIONS } from '../core/rotation/transitions.js';
import type { Context } from '../cli/context.js';
import { validateName } from '../commands/create.js';
import { adminAccount } from '../keychain/secret-store.js';
import type { SecretStore } from '../core/key-store.js';
import type { ApiKey, AuthCheck, Provider } from './types.js';
import { say, displayText } from '../ui/display-text.js';

/** The old key as the provider contract sees it (for instructions to the operator). */
function oldKeyOf(record: RotationRecord): ApiKey {
  return { id: record.oldKey.id, name: record.oldKey.name, lastChars: record.oldKey.lastChars, expiresAt: null, scopes: record.oldKey.scopes ?? null };
}

/**
 * keyManagement 'operator': the create step is a person minting the key in the dashboard. keyrot says what to click,
 * takes the key (hidden prompt or --new-key-stdin), checks its shape and stores it in the keychain before anything
 * else can fail. With nobody to ask, the rotation pauses (exit 18) and --resume --new-key-stdin continues it.
 */
async function receiveMintedKey(record: RotationRecord, ports: RotationPorts): Promise<{ detail: string }> {
  const { provider } = ports;
  const operator = provider.operator;
  if (!operator) throw new UsageError(say`${displayText(provider.displayName)} has no dashboard steps: keyrot cannot rotate its keys.`);
  const instructions = operator.mintInstructions(oldKeyOf(record), record.newKey.name);
  record.awaiting = 'mint';
  const secret = (await ports.receiveKey?.(instructions, record.newKey.name)) ?? null;
  if (secret === null) {
    await save(record, ports);
    ports.event('operator.action', { action: 'mint', name: record.newKey.name, instructions });
    throw new OperatorStepError(say`Paused: a person must mint the new key in ${displayText(provider.displayName)}'s dashboard. ${displayText(instructions)}`, {
      hint: say`If it is minted already, pass that key.`,
    });
  }
  const key = operator.identify(secret.trim(), record.newKey.name);
  ports.protect(key.secret);
  if (key.id === record.oldKey.id)
    throw new UsageError(say`That is the old key ${displayText(record.oldKey.name)}, not a new one: mint ${displayText(record.newKey.name)} in the dashboard and pass that.`);
  await markStarted(record, ports);
  const account = keychainAccount(provider.id, record.userId, key.id);
  try {
    await ports.store.set(account, key.secret);
  } catch (err) {
    throw new KeychainError(
      say`The key you minted could not be stored in ${displayText(ports.store.description)} (${displayText((err as Error).message, 2000)}); keyrot recorded nothing. It is live in the dashboard: keep it for a retry, or revoke it there.`,
      {
        hint: say`Fix the keychain (unlock it), then --resume with the same key.`,
        cause: err,
      },
    );
  }
  remember(ports, key.id, key.secret);
  TRANSITIONS.holdNewKey(record, { id: key.id, lastChars: key.secret.slice(-5) });
  record.awaiting = null;
  await save(record, ports);
  // Its dashboard name, which no API shows: list-keys, get and audit name the key by it.
  void ports.keyCreated?.({ id: key.id, name: record.newKey.name, lastChars: record.newKey.lastChars, expiresAt: null }, record.userId);
  ports.event('key.created', { keyId: key.id, name: record.newKey.name, maskedKey: maskSecret(key.secret), mintedBy: 'operator' });
  ports.event('keychain.written', { account, store: ports.store.description });
  return { detail: `id ${key.id}, ${maskSecret(key.secret)}, minted in the dashboard` };
}

/** keyManagement 'operator': the revoke step is a person revoking the old key in the dashboard; verify-old then polls. */
async function askOperatorToRevoke(record: RotationRecord, ports: RotationPorts): Promise<{ detail: string }> {
  const instructions = ports.provider.operator?.revokeInstructions(oldKeyOf(record)) ?? `Revoke ${record.oldKey.name} in the dashboard.`;
  // What the old key reaches before the revoke is journalled: a --resume in another process still tells it revoked.
  const oldSecret = await ports.store.get(keychainAccount(ports.provider.id, record.userId, record.oldKey.id));
  if (oldSecret !== null) {
    ports.protect(oldSecret);
    // Best effort: without it a --resume still finishes once the old key gets 401.
    const check = await ports.provider.checkKey(oldSecret, record.oldKeyAnswered).catch(() => null);
    if (check) rememberAnswered(record, check);
  }
  record.awaiting = 'revoke';
  await save(record, ports);
  ports.note(displayText(instructions, 2000));
  ports.event('operator.action', { action: 'revoke', keyId: record.oldKey.id, name: record.oldKey.name, instructions });
  return { detail: `asked for ${record.oldKey.name} to be revoked in the dashboard` };
}

/**
 * keyManagement 'operator': polls until the old key is rejected (401), within --wait-timeout. Past it, the rotation
 * pauses (exit 18) until the person has revoked it. Should the new key be the one rejected, the wrong key was revoked:
 * said loudly (exit 7).
 */
async function awaitOperatorRevoke(record: RotationRecord, ports: RotationPorts, step: StepProgress, oldSecret: string): Promise<{ detail: string }> {
  const { provider } = ports;
  const started = ports.now().getTime();
  const timeout = record.options.waitTimeoutMs;
  step.update(() => {
    const elapsed = Math.max(0, ports.now().getTime() - started);
    return `waiting for ${record.oldKey.name} to be revoked in the dashboard (it then gets 401): ${formatDuration(elapsed)} of ${formatDuration(timeout)}`;
  });
  for (;;) {
    throwIfCancelled(ports.signal);
    const old = await provider.checkKey(oldSecret, record.oldKeyAnswered);
    if (rememberAnswered(record, old)) await save(record, ports);
    const fresh = await provider.checkKey(await newSecret(record, ports));
    if (!fresh.ok && fresh.reason === 'rejected') {
      throw new VerificationFailedError(
        say`The new key ${displayText(record.newKey.name)} is rejected (401)${old.ok ? say` while the old key ${displayText(record.oldKey.name)} still works: the new key was revoked in the dashboard instead of the old one` : say`, and so is the old key`}.`,
        {
          hint: say`Consumers given ${displayText(record.newKey.name)} fail now. Mint a replacement with the same scopes, hand it over, then revoke ${displayText(record.oldKey.name)}.`,
          facts: { newKeyUsable: false },
        },
      );
    }
    if (!old.ok && old.reason === 'rejected') {
      record.awaiting = null;
      return { detail: 'rejected (401): revoked in the dashboard' };
    }
    if (ports.now().getTime() - started >= timeout) {
      record.awaiting = 'revoke';
      // The provider's instructions name the key: outside text, cleaned whole.
      const how = displayText(provider.operator?.revokeInstructions(oldKeyOf(record)) ?? '', 2000);
      throw new OperatorStepError(
        say`Paused: ${displayText(record.oldKey.name)} still authenticates after ${displayText(formatDuration(timeout))}: it has not been revoked yet (or the revoke has not taken effect).${how ? say` ${how}` : say``}`,
      );
    }
    await ports.sleep(Math.min(record.options.pollIntervalMs, timeout));
  }
}

/** Adds the endpoints that answered the old key 2xx to the journal's; whether that added any. */
function rememberAnswered(record: RotationRecord, check: AuthCheck): boolean {
  if (!check.ok || !check.answered) return false;
  const known = new Set(record.oldKeyAnswered ?? []);
  const added = check.answered.filter((path) => !known.has(path));
  if (added.length) record.oldKeyAnswered = [...known, ...added].sort();
  return added.length > 0;
}

/**
 * --abort of a key a person minted: only they can revoke it, in the dashboard. Until it is rejected, its keychain
 * entry stays (no live key may be left that nobody holds) and they are told both. Returns whether it may go now.
 */
async function keepUntilRevoked(record: RotationRecord, ports: RotationPorts, id: string, account: string): Promise<boolean> {
  const { provider } = ports;
  const secret = await ports.store.get(account);
  const check = secret === null ? null : await provider.checkKey(secret);
  if (check === null || (!check.ok && check.reason === 'rejected')) return true;
  const how = provider.operator?.revokeInstructions({ id, name: record.newKey.name, lastChars: record.newKey.lastChars, expiresAt: null }) ?? '';
  ports.warn(
    say`The new key ${displayText(record.newKey.name)} still authenticates, and only a person can revoke it: ${displayText(how, 2000)} keyrot keeps its plaintext in the keychain (service "keyrot", account "${displayText(account)}") until then, so that no live key is left that nobody holds; delete that entry once it is revoked.`,
  );
  return false;
}

export const dashboardFlow: OperatorFlow = {
  receiveMintedKey,
  askToRevoke: askOperatorToRevoke,
  awaitRevoke: awaitOperatorRevoke,
  keepUntilRevoked,
};

// Where the key being rotated is the very key keyrot runs with (the provider lists only that one).

/**
 * A provider whose keys a person manages lists only the key keyrot runs with (it cannot list the dashboard): that is
 * the key to rotate, under the dashboard name --key gives (default: the provider's). Undefined for other providers.
 */
export function dashboardKey(provider: Provider, keys: readonly ApiKey[], keyArg: string | undefined): ApiKey | undefined {
  const [only] = keys;
  if (provider.capabilities.keyManagement !== 'operator' || !only || keys.length !== 1) return undefined;
  if (keyArg === undefined || keyArg === only.id) return only;
  validateName(keyArg);
  return { ...only, name: keyArg };
}

/**
 * A provider whose keys a person manages runs with the very key being rotated (it is the admin key): its plaintext is
 * kept under the rotation's old-key entry before anything changes, so the old key can be tested once revoked, and
 * the rotation no longer depends on where the admin key came from.
 */
export async function keepDashboardKey(ctx: Context, provider: Provider, store: SecretStore, record: RotationRecord): Promise<void> {
  if (!provider.operator) return;
  const admin = (await ctx.adminKey()).key;
  if (!isKeyOf(provider.operator, admin, record.oldKey)) return;
  await store.set(keychainAccount(provider.id, record.userId, record.oldKey.id), admin);
}

/**
 * The key keyrot runs with is the old key (see keepDashboardKey), which is about to be revoked. A stored admin key
 * (keyrot login) is replaced by the new key now, before the revoke: one write, so the entry holds the old key, then
 * the new one, never nothing. An admin key from the environment or stdin cannot be changed from here: the operator
 * is told, before the revoke, to point it at the new key.
 */
export async function adoptDashboardKey(ctx: Context, provider: Provider, secret: string, record: RotationRecord): Promise<string | null> {
  if (!provider.operator) return null;
  const admin = await ctx.adminKey().catch(() => null);
  if (!admin || admin.key === secret || !isKeyOf(provider.operator, admin.key, record.oldKey)) return null;
  if (admin.source === 'keychain') {
    await (await ctx.secretStore()).set(adminAccount(provider.id), secret);
    return `the admin key entry now holds ${record.newKey.name}`;
  }
  const invocation = ctx.providerFlag ? `keyrot ${ctx.providerFlag}` : 'keyrot';
  ctx.out.warn(
    say`keyrot runs with ${displayText(record.oldKey.name)} from ${displayText(admin.where)}, and that key is revoked next: point ${displayText(admin.where)} at ${displayText(record.newKey.name)} (e.g. ${displayText(ctx.providerFactory.adminKeyEnv)}="$(${displayText(invocation)} get)"), or store it with ${displayText(invocation)} login.`,
  );
  return null;
}

/**
 * --abort of a rotation whose new key the admin key entry already holds (adoptDashboardKey, at the hand-over): the
 * entry gets the old key back, from the rotation's own copy of it, before the operator is told to revoke the new one.
 */
export async function restoreDashboardAdmin(ctx: Context, provider: Provider, store: SecretStore, record: RotationRecord): Promise<void> {
  if (!provider.operator || !record.newKey.id) return;
  const admin = await ctx.adminKey().catch(() => null);
  if (admin?.source !== 'keychain' || !isKeyOf(provider.operator, admin.key, { id: record.newKey.id, name: record.newKey.name })) return;
  const old = await store.get(keychainAccount(provider.id, record.userId, record.oldKey.id));
  if (old === null) {
    ctx.out.warn(
      say`The admin key entry holds ${displayText(record.newKey.name)}, and keyrot holds no copy of ${displayText(record.oldKey.name)} to put back: store it again with keyrot login before revoking ${displayText(record.newKey.name)}.`,
    );
    return;
  }
  await (await ctx.secretStore()).set(adminAccount(provider.id), old);
  ctx.out.info(say`The admin key entry holds ${displayText(record.oldKey.name)} again.`);
}

export function isKeyOf(operator: NonNullable<Provider['operator']>, secret: string, key: { id: string; name: string }): boolean {
  try {
    return operator.identify(secret, key.name).id === key.id;
  } catch {
    return false;
  }
}
