import type { Context } from '../cli/context.js';
import { maskSecret } from '../core/mask.js';
import { NotFoundError, UsageError, VerificationFailedError } from '../errors.js';
import { keychainAccount } from '../keychain/secret-store.js';
import type { ApiKey, AuthCheck, User } from '../providers/types.js';
import { findKey, listHeldKeyIds, resolveUser } from './resolve.js';
import { refuseDuringWait } from './user-lock.js';
import type { CommandModule } from './types.js';
import { shellArg } from '../core/shell-arg.js';
import { say, displayText, type DisplayText } from '../ui/display-text.js';

/** verify warns when the key expires within this: two weeks leave time to rotate. */
const EXPIRY_WARNING_MS = 14 * 86_400_000;

export interface VerifyOptions {
  user?: string;
  key?: string;
  stdin?: boolean;
  force?: boolean;
}

export interface VerifyResult {
  user: User;
  key: ApiKey | null;
  maskedKey: string;
  source: 'keychain' | 'stdin';
  check: AuthCheck;
  listed: boolean;
}

export const verifyCommand: CommandModule<VerifyOptions, VerifyResult> = {
  async run(options, ctx: Context) {
    const piped = options.stdin ? ((await ctx.readStdin()).split(/\r?\n/)[0]?.trim() ?? '') : null;
    if (piped !== null && !piped) throw new UsageError(say`--stdin: no key on stdin.`);
    ctx.out.protect(piped);
    const provider = await ctx.provider();
    const user = await resolveUser(ctx, provider, options.user);
    await refuseDuringWait(ctx, provider, user, 'verify a key of it', Boolean(options.force));
    const keys = await provider.listKeys(user.id);
    let secret: string;
    let key: ApiKey | null;
    if (piped !== null) {
      secret = piped;
      key = options.key !== undefined ? findKey(keys, options.key, user.email) : (keys.find((k) => k.lastChars && secret.endsWith(k.lastChars)) ?? null);
    } else {
      // An unknown --key is refused before the keychain is touched.
      const wanted = options.key !== undefined ? findKey(keys, options.key, user.email) : null;
      const store = await ctx.secretStore();
      // Without --key: every key keyrot holds for the user, listed at the provider or not (a key revoked
      // behind keyrot's back must fail verification, not vanish from it).
      const heldIds = wanted ? [wanted.id] : await listHeldKeyIds(store, provider.id, user.id);
      if (heldIds.length > 1) {
        // A choice the user must make, not a missing key: a usage error naming the flag, like every prompt.
        const names = heldIds.map((id) => keys.find((k) => k.id === id)?.name ?? id);
        throw new UsageError(say`keyrot holds ${heldIds.length} keys of ${displayText(user.email)}: pass --key with one of: ${displayText(names.join(', '), 2000)}.`);
      }
      const keyId = heldIds[0];
      const held = keyId === undefined ? null : await store.get(keychainAccount(provider.id, user.id, keyId));
      if (keyId === undefined || held === null) {
        throw new NotFoundError(say`keyrot holds no key${options.key ? say` "${displayText(options.key)}"` : say``} of ${displayText(user.email)} in the keychain.`, {
          hint: say`Pipe a key in with --stdin to verify a key keyrot did not create.`,
        });
      }
      secret = held;
      ctx.out.protect(secret);
      key = keys.find((k) => k.id === keyId) ?? null;
    }
    const check = await provider.checkKey(secret);
    const result: VerifyResult = { user, key, maskedKey: maskSecret(secret), source: piped !== null ? 'stdin' : 'keychain', check, listed: key !== null };
    if (!check.ok || !result.listed) {
      throw new VerificationFailedError(failureText(result), {
        data: { userId: user.id, keyId: key?.id ?? null, maskedKey: result.maskedKey, authenticates: check.ok, reason: check.ok ? 'not-listed' : check.reason, listed: result.listed },
      });
    }
    const expiresAt = key?.expiresAt ?? null;
    if (expiresAt && expiresAt.getTime() - ctx.now().getTime() < EXPIRY_WARNING_MS) {
      const days = Math.max(0, Math.floor((expiresAt.getTime() - ctx.now().getTime()) / 86_400_000));
      ctx.out.warn(
        say`Key ${displayText(key?.name ?? result.maskedKey)} of ${displayText(user.email)} expires on ${displayText(expiresAt.toISOString())} (in ${days} day${days === 1 ? say`` : say`s`}): rotate it soon (keyrot rotate --user ${displayText(shellArg(user.email))}).`,
      );
    }
    return result;
  },
  render(r, ctx) {
    ctx.out.data(say`${ctx.out.style.green(say`✔`)} Key ${displayText(r.key?.name ?? '')} (${displayText(r.maskedKey)}) of ${displayText(r.user.email)} authenticates and is listed.`);
  },
  toJson: (r) => ({
    userId: r.user.id,
    keyId: r.key?.id ?? null,
    name: r.key?.name ?? null,
    maskedKey: r.maskedKey,
    source: r.source,
    authenticates: r.check.ok,
    listed: r.listed,
    expiresAt: r.key?.expiresAt?.toISOString() ?? null,
    expiresSoon: r.key?.expiresAt ? r.key.expiresAt.getTime() - Date.now() < EXPIRY_WARNING_MS : false,
  }),
};

function failureText(r: VerifyResult): DisplayText {
  const who = say`Key ${displayText(r.maskedKey)} of ${displayText(r.user.email)}`;
  if (r.check.ok) return say`${who} authenticates but is not among the user's keys (it belongs to someone else?).`;
  switch (r.check.reason) {
    case 'ip-not-allowed':
      return say`${who} is rejected from this IP address: ${displayText(r.check.message)}`;
    case 'forbidden':
      return say`${who} authenticates but is not allowed to read the account (403).`;
    default:
      return say`${who} is rejected (401): it was revoked, has expired, or was never valid.${r.listed ? say`` : say` It is no longer listed.`}`;
  }
}
