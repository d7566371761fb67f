// Step 4: evidence that consumers use the new key.
import { CancelledError, WaitTimeoutError } from '../../../errors.js';
import { formatDuration } from '../../duration.js';
import { rotateCommandOf, save, throwIfCancelled, type RotationPorts, type StepProgress, type StepResult } from '../ports.js';
import { hookEnv, type RotationRecord } from '../record.js';
import { say, displayText } from '../../display-text.js';

/** Waits for evidence that consumers moved to the new key. */
export async function waitStep(record: RotationRecord, ports: RotationPorts, step: StepProgress): Promise<StepResult> {
  if (record.options.noWait) return { skipped: true, detail: await graceForOldKey(record, ports, '--no-wait') };
  const { provider } = ports;
  if (provider.capabilities.usageSignal === 'per-key' && record.options.usageSignalUsable) return waitPerKey(record, ports, step);
  // Any other signal (Vultr's per-user activity) moves as much for a consumer still on the old key as for one on
  // the new key: it is never evidence of the switch. The evidence is a passing --check, or in a terminal the
  // person's word; --keep-old instead gives the consumers a grace period and revokes only at --resume.
  // A provider with no usage signal at all (Kubeadapt) keeps its rule: the hand-over itself is taken as done.
  // So does a user whose signal keyrot's own calls would move (the admin key is theirs: --check or --no-wait were required).
  if (record.options.check === null && (provider.capabilities.usageSignal === 'none' || !record.options.usageSignalUsable)) return { detail: await graceForOldKey(record, ports, 'no usage signal') };
  if (record.options.check === null) return { detail: await evidenceWithoutCheck(record, ports) };
  const started = ports.now().getTime();
  const timeout = record.options.waitTimeoutMs;
  const check = record.options.check;
  step.update(() => {
    const elapsed = Math.max(0, ports.now().getTime() - started);
    return `${formatDuration(elapsed)} of ${formatDuration(timeout)}, ${formatDuration(Math.max(0, timeout - elapsed))} left; running --check until it passes`;
  });
  for (;;) {
    throwIfCancelled(ports.signal);
    if (await ports.runCheck(check, hookEnv(record), record.options.hookTimeoutMs)) {
      ports.event('check.passed', { keyId: record.newKey.id });
      return { detail: await graceForOldKey(record, ports, 'check passed') };
    }
    const elapsed = ports.now().getTime() - started;
    if (elapsed >= record.options.waitTimeoutMs) {
      throw new WaitTimeoutError(say`No passing --check within ${displayText(formatDuration(record.options.waitTimeoutMs))}.`, {
        hint: say`Both keys stay live. Fix what the check found, then --resume (runs it again), or roll back with --abort.`,
      });
    }
    await ports.sleep(Math.min(record.options.pollIntervalMs, record.options.waitTimeoutMs - elapsed));
  }
}

/**
 * No --check, and a usage signal that cannot tell keys apart: --keep-old needs no evidence now (both keys stay live
 * for the grace period); an operator who confirmed the hand-over itself (no hook, no destination) gave it; a person
 * at a terminal is asked, with the user's activity shown for what it is. Anything else was refused before any
 * change; a journal of an older keyrot resumed without a terminal stops here, saying what would do.
 */
async function evidenceWithoutCheck(record: RotationRecord, ports: RotationPorts): Promise<string> {
  if (record.options.keepOld) return graceForOldKey(record, ports, `both keys stay live for the grace period: consumers switch meanwhile`);
  const handedBy = record.options.onNewKey || (record.options.to ?? []).length;
  if (!handedBy && ports.confirmHandover) return graceForOldKey(record, ports, 'the operator confirmed the hand-over');
  if (ports.confirmSwitch) {
    const seen = record.options.usageSignalUsable && ports.provider.capabilities.usageSignal === 'per-user' ? await ports.provider.observeUsage(record.userId, record.newKey.id ?? '') : null;
    const activity = seen
      ? ` (${ports.provider.displayName} last saw ${record.userEmail} use the API ${seen.lastUsedAt ? `at ${seen.lastUsedAt.toISOString()}` : 'never'}: with any key, so it cannot tell the new key from the old)`
      : '';
    if (!(await ports.confirmSwitch(`Do the consumers work with the new key ${record.newKey.name}${activity}? Yes revokes ${record.oldKey.name}.`))) {
      throw new CancelledError(
        say`Not confirmed: both keys stay live. Once the consumers use ${displayText(record.newKey.name)}: ${displayText(rotateCommandOf(record, ports))} --resume; or roll back with --abort.`,
      );
    }
    return 'the operator confirmed the consumers use the new key';
  }
  throw new WaitTimeoutError(
    say`Nothing can show that the consumers use ${displayText(record.newKey.name)}: ${displayText(noEvidenceReason(ports.provider.displayName, ports.provider.capabilities.usageSignal))}.`,
    {
      hint: say`Both keys stay live. ${displayText(rotateCommandOf(record, ports))} --resume with --check CMD (a command that proves the consumers work), or --no-wait to revoke on your own word; or --abort.`,
    },
  );
}

/** Why a provider's usage signal is no evidence of the switch. */
export function noEvidenceReason(provider: string, signal: string): string {
  return signal === 'per-user'
    ? `${provider} reports activity per user, and a consumer still on the old key moves it as much as one on the new key`
    : `${provider} reports no usage keyrot can tell the keys apart by`;
}

/**
 * Per-key usage: the evidence to revoke on. The new key's own last use must fall after the hand-over, and the old
 * key's last use must not have moved for twice the provider's refresh interval (a use shows within one interval),
 * so a consumer still on the old key is caught now rather than by a 401 after the revoke. --check adds the
 * consumers' own proof. A use of the old key after the hand-over is journaled, so a resumed wait keeps it.
 */
export async function waitPerKey(record: RotationRecord, ports: RotationPorts, step: StepProgress): Promise<{ detail: string }> {
  const { provider } = ports;
  const refreshMs = record.options.usageRefreshMs ?? provider.capabilities.usageRefreshMs ?? 0;
  // Twice the refresh interval, and never less than two polls: a platform that records every use at once (refresh
  // 0) still needs polls that see the old key's last use stand still.
  const quietMs = Math.max(2 * refreshMs, 2 * record.options.pollIntervalMs);
  const started = ports.now().getTime();
  const timeout = record.options.waitTimeoutMs;
  // Only keyrot's own clock is trusted: the provider's stamps are compared with each other, never with keyrot's time,
  // so a provider clock running ahead or behind changes nothing.
  // The new key: keyrot's own proof of it (before the hand-over) may reach its last use up to one refresh later.
  // The value seen by the first poll sent once that refresh has passed is the baseline; a later, greater value is
  // a consumer's use.
  const settleAt = started + refreshMs;
  let newBaseline: number | null | undefined;
  let newUse: Date | null = null;
  // The old key: quiet once its last use has not moved for twice the refresh interval, counted from the last poll
  // that saw it move (or from the start of this watch).
  let oldUse = record.oldKeyUsedAt ? Date.parse(record.oldKeyUsedAt) : null;
  let oldSeen: number | null | undefined;
  let oldQuietSince = started;
  let checkPassed = false;
  ports.note(
    say`${displayText(provider.displayName)} reports each key's last use (refreshed within ${displayText(formatDuration(refreshMs))}): keyrot waits until ${displayText(record.newKey.name)} is used after the hand-over and ${displayText(record.oldKey.name)} stays unused for ${displayText(formatDuration(quietMs))}.`,
  );
  step.update(() => {
    const now = ports.now().getTime();
    const newPart = newUse
      ? `${record.newKey.name} used at ${newUse.toISOString()}`
      : newBaseline === undefined
        ? `${record.newKey.name}: settling keyrot's own check (${formatDuration(Math.max(0, settleAt - now))})`
        : `${record.newKey.name} not used yet`;
    const oldPart = `${record.oldKey.name} unused for ${formatDuration(Math.max(0, now - oldQuietSince))} of ${formatDuration(quietMs)}`;
    return `${formatDuration(Math.max(0, now - started))} of ${formatDuration(timeout)}; ${newPart}; ${oldPart}`;
  });
  for (;;) {
    throwIfCancelled(ports.signal);
    const polledAt = ports.now().getTime();
    const [fresh, old] = await Promise.all([provider.observeUsage(record.userId, record.newKey.id ?? ''), provider.observeUsage(record.userId, record.oldKey.id)]);
    const freshValue = fresh.lastUsedAt ? fresh.lastUsedAt.getTime() : null;
    if (newBaseline === undefined) {
      if (polledAt >= settleAt) newBaseline = freshValue;
    } else if (!newUse && fresh.lastUsedAt && freshValue !== null && (newBaseline === null || freshValue > newBaseline)) {
      newUse = fresh.lastUsedAt;
      ports.event('usage.seen', { at: newUse.toISOString(), scope: 'per-key', keyId: record.newKey.id });
    }
    const oldValue = old.lastUsedAt ? old.lastUsedAt.getTime() : null;
    const oldMoved = oldSeen !== undefined && oldValue !== null && oldValue !== oldSeen;
    oldSeen = oldValue;
    if (oldMoved && old.lastUsedAt) {
      oldQuietSince = ports.now().getTime();
      oldUse = old.lastUsedAt.getTime();
      record.oldKeyUsedAt = old.lastUsedAt.toISOString();
      await save(record, ports);
      ports.warn(
        say`The old key ${displayText(record.oldKey.name)} was used at ${displayText(record.oldKeyUsedAt)}, after the hand-over: a consumer still holds it. keyrot keeps it live and waits until it stays unused for ${displayText(formatDuration(quietMs))}.`,
      );
      ports.event('usage.old-key', { at: record.oldKeyUsedAt, keyId: record.oldKey.id });
    }
    const now = ports.now().getTime();
    // Never in the poll that saw the old key used.
    const quiet = !oldMoved && now - oldQuietSince >= quietMs;
    if (newUse && quiet && !checkPassed) checkPassed = record.options.check === null || (await ports.runCheck(record.options.check, hookEnv(record), record.options.hookTimeoutMs));
    if (newUse && quiet && checkPassed) {
      const detail = `${record.newKey.name} used at ${newUse.toISOString()}; ${record.oldKey.name} unused for ${formatDuration(now - oldQuietSince)}${record.options.check ? '; check passed' : ''}`;
      return { detail: await graceForOldKey(record, ports, detail) };
    }
    if (now - started >= timeout) {
      const [within, quietFor] = [displayText(formatDuration(timeout)), displayText(formatDuration(quietMs))];
      const [newName, oldName] = [displayText(record.newKey.name), displayText(record.oldKey.name)];
      const message = !newUse
        ? say`No activity on the new key within ${within} (${newName} has not been used since the hand-over).`
        : !quiet
          ? oldUse
            ? say`The old key ${oldName} was still used at ${displayText(new Date(oldUse).toISOString())}, after the hand-over: a consumer still holds it (it did not stay unused for ${quietFor} within ${within}).`
            : say`The old key ${oldName} did not stay unused for ${quietFor} within ${within}.`
          : say`No passing --check within ${within}.`;
      throw new WaitTimeoutError(message, {
        hint: say`Both keys stay live. Find the consumer still on the old key (if any), then --resume (waits again); or roll back with --abort.`,
      });
    }
    await ports.sleep(Math.min(record.options.pollIntervalMs, timeout - (now - started)));
  }
}

/**
 * --keep-old with a grace period: the old key is set to lapse on its own (the rotation guides' "expires_at 7 days out"). Only
 * ever sooner: an old key that expires before the grace ends keeps its expiry, and an expired one stays expired.
 */
export async function graceForOldKey(record: RotationRecord, ports: RotationPorts, detail: string): Promise<string> {
  const grace = record.options.expireOldMs;
  const { provider } = ports;
  // Where expiries cannot move (Vultr, Grafana), the period is the grace keyrot status counts down, nothing more.
  if (!record.options.keepOld || !grace || !provider.setKeyExpiry) return detail;
  const at = new Date(ports.now().getTime() + grace);
  const listed = (await provider.listKeys(record.userId)).find((k) => k.id === record.oldKey.id);
  if (!listed) return `${detail}; ${record.oldKey.name} is no longer listed`;
  const own = listed.expiresAt;
  if (own && own.getTime() <= at.getTime()) {
    // Known to status and --abort: once it passes, the old key no longer works.
    record.oldKey.expiresAt = own.toISOString();
    await save(record, ports);
    return `${detail}; ${record.oldKey.name} keeps its own expiry, ${own.toISOString()}, sooner than the grace period`;
  }
  // Recorded before the change, so that --abort can put it back whatever happens next.
  record.oldKey.expiryBefore = own?.toISOString() ?? null;
  await save(record, ports);
  await provider.setKeyExpiry(record.userId, record.oldKey.id, at);
  record.oldKey.expiresAt = at.toISOString();
  await save(record, ports);
  ports.event('old.expiry-set', { keyId: record.oldKey.id, expiresAt: record.oldKey.expiresAt });
  return `${detail}; ${record.oldKey.name} now expires at ${record.oldKey.expiresAt}`;
}
