// Commands that change a user's keys (rotate, create, revoke) work under that user's lock, and the ones that are
// not a rotation respect an unfinished rotation of that user: they refuse unless told --force.
import type { Context } from '../cli/context.js';
import { PHASE_LABELS } from '../core/rotation.js';
import { RotationConflictError, isKeyrotError } from '../errors.js';
import { stateError } from '../journal/state-dir.js';
import { acquireUserLock, checkUserLock } from '../journal/lock.js';
import { RotationJournal } from '../journal/rotations.js';
import type { Provider, User } from '../providers/types.js';
import { shellArg } from '../core/shell-arg.js';
import { say, displayText } from '../ui/display-text.js';

/** What withUserLock would stop on (another keyrot at work, a state folder keyrot cannot write), taking nothing: --dry-run. */
export async function checkUserLockFree(ctx: Context, provider: Provider, user: User): Promise<void> {
  try {
    await checkUserLock(ctx.stateDir, provider.id, user.id, `the keys of ${user.email}`);
  } catch (err) {
    if (isKeyrotError(err)) throw err;
    throw stateError(ctx.stateDir, err).amend(say`Point XDG_STATE_HOME at a writable folder. Nothing was changed.`, {});
  }
}

/** Runs `fn` holding the lock of `user` (RotationConflictError when another keyrot process holds it). */
export async function withUserLock<T>(ctx: Context, provider: Provider, user: User, fn: () => Promise<T>): Promise<T> {
  let lock: Awaited<ReturnType<typeof acquireUserLock>>;
  try {
    lock = await acquireUserLock(ctx.stateDir, provider.id, user.id, `the keys of ${user.email}`);
  } catch (err) {
    if (isKeyrotError(err)) throw err;
    // Nothing was changed yet: a state directory keyrot cannot write is refused up front (exit 14).
    throw stateError(ctx.stateDir, err).amend(say`Point XDG_STATE_HOME at a writable folder. Nothing was changed.`, {});
  }
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * Refuses (RotationConflictError, exit 9) to change the keys of a user whose rotation is unfinished, unless
 * `force`: deleting its new key, or adding keys beside it, behind its back is how a rotation ends up revoking the
 * last working key. `action` names what was asked ("revoke ops-deploy").
 */
export async function refuseDuringRotation(ctx: Context, provider: Provider, user: User, action: string, force: boolean): Promise<void> {
  const active = await new RotationJournal(ctx.stateDir).active(provider.id, user.id);
  if (!active || force) return;
  throw new RotationConflictError(
    say`${displayText(user.email)} has an unfinished rotation (${displayText(active.oldKey.name)} → ${displayText(active.newKey.name)}, stopped at "${displayText(PHASE_LABELS[active.phase])}"): refusing to ${displayText(action)} behind its back.`,
    { hint: say`Finish it (keyrot rotate --user ${displayText(shellArg(user.email))} --resume) or roll it back (--abort) first, or pass --force to ${displayText(action)} anyway.` },
  );
}

/**
 * Refuses (exit 9) a call made with one of `user`'s own keys while a rotation of that user is waiting for its
 * consumers, unless `force`: the provider counts keyrot's call as the user's (or the key's) activity, the wait
 * would take it for a consumer using the new key, and the old key would be revoked on keyrot's own evidence.
 */
export async function refuseDuringWait(ctx: Context, provider: Provider, user: User, action: string, force: boolean): Promise<void> {
  if (force || provider.capabilities.usageSignal === 'none') return;
  const active = await new RotationJournal(ctx.stateDir).active(provider.id, user.id);
  if (!active || active.options.noWait || !active.options.usageSignalUsable || !(active.phase === 'hand-over' || active.phase === 'wait')) return;
  throw new RotationConflictError(
    say`${displayText(user.email)} has a rotation waiting for its consumers to use ${displayText(active.newKey.name)}: to ${displayText(action)} would count as that use at ${displayText(provider.displayName)}, and the old key would be revoked on keyrot's own call.`,
    { hint: say`Let the rotation finish (or keyrot rotate --user ${displayText(shellArg(user.email))} --abort) first, or pass --force to ${displayText(action)} anyway.` },
  );
}
