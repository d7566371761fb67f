// keyrot rotate: preflight (nothing changes until every check passed), the plan, consent, then the journaled
// state machine of core/rotation.ts with real adapters plugged into its ports.
import type { Context } from '../cli/context.js';
import { formatDuration, parseExpiry } from '../core/duration.js';
import { maskFromLastChars } from '../core/mask.js';
import { PHASE_LABELS, canAbort, rollbackHasKey, summaryData, type RotationRecord } from '../core/rotation.js';
import { CancelledError, KeyrotError, NotFoundError, RotationConflictError, UsageError } from '../errors.js';
import { RotationJournal } from '../journal/rotations.js';
import { probeWritable, type SecretStore } from '../keychain/secret-store.js';
import type { Identity, Provider, User } from '../providers/types.js';
import { renderTable } from '../ui/table.js';
import { consentTo } from './consent.js';
import { resolveUser } from './resolve.js';
import { selfTarget } from './rotate-self.js';
import { parseTargetsEarly, requireHookWithoutStore, storeFor, withoutKeychainHint } from './hand-over.js';
import { withManageUsers } from './account-scan.js';
import { checkUserLockFree, withUserLock } from './user-lock.js';
import { validateName } from './create.js';
import type { CommandModule } from './types.js';
import type { BatchResult } from './rotate-all.js';
import { shellArg } from '../core/shell-arg.js';
import {
  abortActive,
  finishedAlready,
  activeRotation,
  adoptFromProvider,
  parseSettings,
  planRotation,
  resumeRotation,
  type RotateOptions,
  type RotateResult,
  type RotateSettings,
  type RotationPlan,
  type RotationSession,
} from '../session/rotation.js';
import { say, displayText, joinDisplay, type DisplayText } from '../ui/display-text.js';

export type { RotateOptions, RotateResult, RotationPlan } from '../session/rotation.js';

/** rotate --all (rotate-all.ts), loaded by the first run that asks for it; its results render there. */
let batch: typeof import('./rotate-all.js') | undefined;

const isBatch = (result: RotateResult | BatchResult): result is BatchResult => result.kind === 'batch' || result.kind === 'batch-planned';

export const rotateCommand: CommandModule<RotateOptions, RotateResult | BatchResult> = {
  emitsEvents: true,
  async run(options, ctx) {
    if (options.all) {
      batch ??= await import('./rotate-all.js');
      return batch.rotateAllCommand.run(options, ctx);
    }
    const userArg = refuseBatchFlags(options);
    const settings = parseSettings(options, ctx.storeMode);
    const expiresAt = options.expires === undefined ? undefined : parseExpiry(options.expires, ctx.now());
    if (options.name !== undefined) validateName(options.name);
    if (options.self && (options.user !== undefined || options.key !== undefined)) throw new UsageError(say`--self rotates the admin key keyrot runs with: it takes no --user or --key.`);
    const base = await ctx.provider();
    // A provider whose keys a person manages runs with the very key being rotated: a resumed rotation may find it
    // revoked already, and needs it no more (the journal and the keychain hold the rest), so it is not proven first.
    const resumesWithoutAdmin = base.capabilities.keyManagement === 'operator' && (options.resume || options.abort);
    const identity = resumesWithoutAdmin ? { email: '', name: '', acls: [] } : await base.whoami();
    const self = options.self ? await selfTarget(ctx, base, identity, options.onNewKey) : null;
    const provider = self?.provider ?? base;
    checkProviderSettings(ctx, provider, options, settings);
    const user = self?.user ?? (await withManageUsers(identity, () => resolveUser(ctx, base, userArg)));
    const session: RotationSession = { provider, identity, journal: new RotationJournal(ctx.stateDir), self, options };
    // The lock covers reading the journal and the preflight, not only the changes: a rotation of this user
    // that another keyrot starts, stops or finishes in between would otherwise go unseen (its journal
    // overwritten, the key list read here stale, a second new key made). --dry-run changes nothing: no lock.
    const locked = (fn: () => Promise<RotateResult>) => (options.dryRun ? fn() : withUserLock(ctx, provider, user, fn));
    return locked(async () => {
      const active = await activeRotation(ctx, session, user);
      // A finished journal left in place: --resume and --abort only move it aside (before asking about keys).
      const finished = active && !options.dryRun && (options.abort || options.resume) ? await finishedAlready(ctx, session, active) : null;
      if (finished) return finished;
      if (options.abort) {
        if (!active) throw new NotFoundError(say`${displayText(user.email)} has no unfinished rotation to abort.`);
        // --yes skips the question, not what it warns of: said all the same.
        const warning = abortWarning(active);
        if (options.yes && warning) ctx.out.warn(warning);
        await consentTo(
          ctx,
          Boolean(options.yes),
          abortQuestion(active),
          `Rolling back deletes the new key ${active.newKey.name}${active.handedOverAt ? `, which consumers were given at ${active.handedOverAt}` : ''}`,
        );
        return abortActive(ctx, session, active);
      }
      let resume = Boolean(options.resume);
      let consented = Boolean(options.yes);
      if (active && !resume) {
        const where = `stopped at "${PHASE_LABELS[active.phase]}"${active.lastError ? ` (${active.lastError.message})` : ''}`;
        if (!ctx.interactive || options.dryRun) {
          throw new RotationConflictError(say`${displayText(user.email)} has an unfinished rotation (${displayText(active.newKey.name)}), ${displayText(where)}.`, {
            hint: say`Continue it with --resume${rollbackHasKey(active) ? say`, or roll it back with --abort` : say``}.`,
          });
        }
        if (!(await ctx.prompts.confirm(`${user.email} has an unfinished rotation (${active.newKey.name}), ${where}. Resume it?`, '--resume'))) {
          throw new CancelledError(say`Cancelled: the unfinished rotation is left as it was.`);
        }
        resume = true;
        consented = true;
      }
      if (resume && !active) return adoptFromProvider(ctx, session, user, options, settings);
      if (resume && active) {
        if (!consented) await consentTo(ctx, false, resumeQuestion(active), `Resuming ${canAbort(active) ? 'revokes the old key' : 'finishes the revoke of the old key'} ${active.oldKey.name}`);
        return resumeRotation(ctx, session, active, options, settings);
      }

      requireHookWithoutStore(ctx, options.onNewKey, parseTargetsEarly(ctx, options));
      const store = await storeFor(ctx, ctx.storeMode);
      const fresh = await planRotation(ctx, session, user, options, settings, expiresAt, store);
      if (options.dryRun) return { kind: 'planned', plan: { ...fresh.plan, preflight: await preflight(ctx, provider, identity, user, store, Boolean(options.yes)) } };
      if (ctx.storeMode === 'os') await probeWritable(store).catch(withoutKeychainHint);
      await consent(ctx, fresh.plan, Boolean(options.yes));
      return fresh.launch();
    });
  },

  render(result, ctx) {
    if (isBatch(result)) return batch?.rotateAllCommand.render(result, ctx);
    // With --events stdout holds JSON lines only: rotation.done and rotation.aborted already carried the
    // outcome; the two outcomes without an event of their own get one here instead of the table.
    if (ctx.out.events) {
      if (result.kind === 'planned') ctx.out.event('rotation.planned', { plan: result.plan });
      if (result.kind === 'paused') ctx.out.event('rotation.paused', { ...summaryData(result.record), graceUntil: result.record.graceUntil ?? null, journal: result.journal });
      return;
    }
    const s = ctx.out.style;
    if (result.kind === 'planned') {
      ctx.out.data(renderPlan(result.plan, true));
      return;
    }
    const r = result.record;
    if (result.kind === 'aborted') {
      // Keys it could not tell from another run's are never deleted by it: the line says so rather than "deleted".
      const others = r.othersKeyIds?.length ? `keyrot deleted none of ${r.othersKeyIds.join(', ')} (named ${r.newKey.name}: delete the one nobody holds)` : null;
      const what = [r.newKey.id || !others ? `${r.newKey.name} deleted` : null, others].filter(Boolean).join('; ');
      ctx.out.data(say`${s.green(say`✔`)} Rolled back the rotation of ${displayText(r.userEmail)}: ${displayText(what)}, ${displayText(r.oldKey.name)} kept.`);
      return;
    }
    const title =
      result.kind === 'paused'
        ? say`${s.yellow(say`⏸`)} Both keys are live (--keep-old${r.oldKey.expiresAt ? say`; ${displayText(r.oldKey.name)} expires at ${displayText(r.oldKey.expiresAt)}` : say``})${r.graceUntil ? say` for the grace period, until ${displayText(r.graceUntil)} (keyrot status shows the time left)` : say``}. Finish with: keyrot ${displayText(ctx.providerFlag ? `${ctx.providerFlag} ` : '')}rotate --user ${displayText(shellArg(r.userEmail))} --resume`
        : say`${s.green(say`✔`)} Rotated ${displayText(r.userEmail)}: ${s.bold(displayText(r.newKey.name))} replaces ${displayText(r.oldKey.name)}`;
    const lines = [
      title,
      say`  new key  ${displayText(`${r.newKey.id}`)} (${displayText(maskFromLastChars(r.newKey.lastChars))})${r.newKey.expiresAt ? say`, expires ${displayText(r.newKey.expiresAt)}` : say``}`,
      say`  old key  ${displayText(r.oldKey.id)} (${displayText(maskFromLastChars(r.oldKey.lastChars))})${result.kind === 'rotated' ? say`, revoked` : say`, still live`}`,
      say``,
      renderTable(
        r.steps,
        [
          { header: 'STEP', value: (st) => PHASE_LABELS[st.phase] },
          { header: 'RESULT', value: (st) => st.outcome },
          { header: 'TIME', value: (st) => formatDuration(st.durationMs), keep: true },
        ],
        ctx.out.stdoutColumns,
      ),
    ];
    ctx.out.data(joinDisplay(lines, '\n'));
  },

  toJson(result) {
    if (isBatch(result)) return batch?.rotateAllCommand.toJson?.(result);
    if (result.kind === 'planned') return { dryRun: true, plan: result.plan };
    return { ...summaryData(result.record), ...(result.kind === 'paused' ? { graceUntil: result.record.graceUntil ?? null } : {}), journal: result.journal };
  },

  outcome(result) {
    return isBatch(result) ? batch?.rotateAllCommand.outcome?.(result) : undefined;
  },
};

/**
 * Flags that select keys for --all mean nothing for one rotation: refused rather than silently ignored. Returns the
 * one --user (several without --all are refused where options are parsed, in cli/program.ts).
 */
function refuseBatchFlags(options: RotateOptions): string | undefined {
  const flags: Array<[unknown, string]> = [
    [options.expiringWithin, '--expiring-within'],
    [options.neverExpiring, '--never-expiring'],
    [options.olderThan, '--older-than'],
    [options.usersFile, '--users-file'],
    [options.match, '--match'],
    [options.failFast, '--fail-fast'],
    [options.concurrency, '--concurrency'],
  ];
  const given = flags.find(([value]) => value !== undefined && value !== false);
  if (given) throw new UsageError(say`${displayText(given[1])} selects keys for a batch: add --all, or drop it.`);
  return Array.isArray(options.user) ? options.user[0] : options.user;
}

/**
 * What a provider whose keys a person manages (or whose keys report their own last use) needs, checked before any
 * change: no --store none (the person, not keyrot, would then be the only holder of the key keyrot must test), no
 * key on stdin twice, a wait long enough for the per-key evidence.
 */
function checkProviderSettings(ctx: Context, provider: Provider, options: RotateOptions, settings: RotateSettings): void {
  const operator = provider.capabilities.keyManagement === 'operator';
  if (operator && ctx.storeMode === 'none')
    throw new UsageError(
      say`${displayText(provider.displayName)}'s keys are minted by a person in its dashboard: keyrot must keep the new key to prove it and the old one to see it revoked, so --store none is not available.`,
    );
  if (!operator && options.newKeyStdin) throw new UsageError(say`--new-key-stdin is for keys minted by a person in a dashboard; keyrot creates ${displayText(provider.displayName)}'s keys itself.`);
  if (options.newKeyStdin && ctx.apiKeyStdin) throw new UsageError(say`--new-key-stdin and --api-key-stdin both read stdin: pass the admin key in the environment.`);
  if (provider.capabilities.usageSignal === 'per-key' && !options.resume) {
    const quiet = 2 * (settings.usageRefreshMs ?? provider.capabilities.usageRefreshMs ?? 0);
    // The default leaves room for the evidence: the old key unused for twice the refresh interval, then some.
    if (options.waitTimeout === undefined) settings.waitTimeoutMs = Math.max(settings.waitTimeoutMs, quiet + settings.waitTimeoutMs);
    else if (settings.wait && settings.waitTimeoutMs <= quiet) {
      throw new UsageError(
        say`--wait-timeout ${displayText(options.waitTimeout)} is too short: keyrot revokes the old key only once it has stayed unused for ${displayText(formatDuration(quiet))} (twice ${displayText(provider.displayName)}'s last-used refresh).`,
      );
    }
  }
}

function renderPlan(plan: RotationPlan, dryRun: boolean): DisplayText {
  return joinDisplay(
    [
      say`${dryRun ? say`Dry run: nothing will change. ` : say``}Plan for ${displayText(plan.user.email)}${plan.mode === 'emergency' ? say` (EMERGENCY)` : say``}:`,
      ...plan.steps.map((s, i) => say`  ${i + 1}. ${s}`),
      ...(plan.preflight ? [say`Preflight (what the real run checks before any change):`, ...plan.preflight.map((c) => say`  ✔ ${c}`)] : []),
    ],
    '\n',
  );
}

/**
 * --dry-run: every check the real run makes before its first change (the admin key and its permission were
 * proven on the way here), so a dry run stops where, and with the exit code with which, the real run would.
 * Leaves nothing behind: the keychain probe entry and the lock are removed again.
 */
async function preflight(ctx: Context, provider: Provider, identity: Identity, user: User, store: SecretStore, yes: boolean): Promise<DisplayText[]> {
  const checks = [say`the admin key authenticates (${displayText(identity.email)})`, say`it may manage the keys of ${displayText(user.email)}`];
  try {
    if (ctx.storeMode === 'os') {
      await probeWritable(store).catch(withoutKeychainHint);
      checks.push(say`${displayText(store.description)} is writable`);
    }
    await checkUserLockFree(ctx, provider, user);
    checks.push(say`the state folder ${displayText(ctx.stateDir)} is writable, and no other keyrot is rotating ${displayText(user.email)}`);
    if (!yes && !ctx.interactive) throw new UsageError(say`The real run deletes the old key: it needs --yes without a terminal.`);
    checks.push(yes ? say`consent: --yes` : say`consent: the real run asks you first`);
  } catch (err) {
    if (err instanceof KeyrotError) throw err.amend(say`${err.hint ? say`${err.hint} ` : say``}(--dry-run: the real run would stop here, with this exit code; nothing was changed.)`, { dryRun: true });
    throw err;
  }
  return checks;
}

async function consent(ctx: Context, plan: RotationPlan, yes: boolean): Promise<void> {
  if (!yes && ctx.interactive) ctx.out.info(renderPlan(plan, false));
  const question =
    plan.mode === 'emergency'
      ? `EMERGENCY: ${plan.oldKey.name} is revoked as soon as the new key works. Every consumer using it fails (downtime) until it has the new key. Go ahead?`
      : `Rotate ${plan.oldKey.name} of ${plan.user.email}?`;
  await consentTo(ctx, yes, question, `Rotating deletes the old key ${plan.oldKey.name}`, say`Add --dry-run to see the plan first.`);
}

function abortQuestion(record: RotationRecord): string {
  const roll = `Roll back the rotation of ${record.userEmail}: delete the new key ${record.newKey.name}, keep ${record.oldKey.name}?`;
  const warning = abortWarning(record);
  return warning ? `${warning} ${roll}` : roll;
}

/** Consumers that already switched would lose their key: what --abort says before it deletes it (prompt or --yes). */
function abortWarning(record: RotationRecord): DisplayText | null {
  const given = joinDisplay((record.deliveredTo ?? []).map((to) => displayText(to)));
  const count = record.deliveredTo?.length ?? 0;
  const to = count ? say` (--to ${given} get ${displayText(record.oldKey.name)} back where keyrot holds it)` : say``;
  if (record.handedOverAt) return say`Consumers were given ${displayText(record.newKey.name)} at ${displayText(record.handedOverAt)}${to}: any that switched to it fail once it is deleted.`;
  return count ? say`${given} ${count === 1 ? say`was` : say`were`} given ${displayText(record.newKey.name)}${to}: any consumer that read it there fails once it is deleted.` : null;
}

function resumeQuestion(record: RotationRecord): string {
  const where = `stopped at "${PHASE_LABELS[record.phase]}"`;
  return canAbort(record)
    ? `Resume the rotation of ${record.userEmail} (${where}): ${record.newKey.name} replaces ${record.oldKey.name}, which is revoked at the end?`
    : `Finish the rotation of ${record.userEmail} (${where})?`;
}
