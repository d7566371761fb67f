// keyrot rotate: preflight (nothing changes until every check passed), the plan, consent, then the journaled
// state machine of core/rotation.ts with real adapters plugged into its ports.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Context } from '../cli/context.js';
import { formatDuration, parseDuration, parseExpiry } from '../core/duration.js';
import { maskFromLastChars, sanitizeForDisplay } from '../core/mask.js';
import { nextGenerationName } from '../core/naming.js';
import {
  PHASES,
  PHASE_LABELS,
  abortRotation,
  canAbort,
  newRotationRecord,
  runRotation,
  summaryData,
  type RotationMode,
  type RotationOptions,
  type RotationPorts,
  type RotationRecord,
} from '../core/rotation.js';
import { CancelledError, HookFailedError, NotFoundError, PermissionError, RotationConflictError, UsageError } from '../errors.js';
import { describeOutcome, runShell } from '../hooks/shell.js';
import { acquireUserLock } from '../journal/lock.js';
import { writeRescueFile } from '../journal/rescue.js';
import { RotationJournal } from '../journal/rotations.js';
import { probeWritable, type SecretStore } from '../keychain/secret-store.js';
import type { Identity, Provider, User } from '../providers/types.js';
import { addMaskLine, appendStepSummary, inGithubActions, rotationSummaryMarkdown } from '../ui/github.js';
import { renderTable } from '../ui/table.js';
import { chooseKey, heldAmong, resolveUser } from './resolve.js';
import { validateName } from './create.js';
import type { CommandModule } from './types.js';

export interface RotateOptions {
  user?: string;
  key?: string;
  name?: string;
  expires?: string;
  onNewKey?: string;
  check?: string;
  waitTimeout?: string;
  pollInterval?: string;
  hookTimeout?: string;
  /** false with --no-wait. */
  wait?: boolean;
  keepOld?: boolean;
  yes?: boolean;
  resume?: boolean;
  abort?: boolean;
  emergency?: boolean;
  dryRun?: boolean;
}

export interface RotationPlan {
  user: { id: string; email: string };
  mode: RotationMode;
  oldKey: { id: string; name: string; maskedKey: string };
  newKey: { name: string; expiresAt: string | null };
  steps: string[];
  usageSignal: string;
}

export type RotateResult =
  | { kind: 'planned'; plan: RotationPlan }
  | { kind: 'rotated' | 'paused' | 'aborted'; record: RotationRecord; journal: string };

const DEFAULTS = { waitTimeout: '10m', pollInterval: '5s', hookTimeout: '2m' };

export const rotateCommand: CommandModule<RotateOptions, RotateResult> = {
  emitsEvents: true,
  async run(options, ctx) {
    const settings = parseSettings(options);
    const expiresAt = options.expires === undefined ? null : parseExpiry(options.expires, ctx.now());
    if (options.name !== undefined) validateName(options.name);
    const provider = await ctx.provider();
    const identity = await provider.whoami();
    const user = await resolveUserWithPermission(ctx, provider, identity, options.user);
    const journal = new RotationJournal(ctx.stateDir);
    // The lock covers reading the journal and the preflight, not only the changes: a rotation of this user
    // that another keyrot starts, stops or finishes in between would otherwise go unseen (its journal
    // overwritten, the key list read here stale, a second new key made). --dry-run changes nothing: no lock.
    const locked = (fn: () => Promise<RotateResult>) => (options.dryRun ? fn() : withLock(ctx, provider, user, fn));
    return locked(async () => {
      const active = await journal.active(provider.id, user.id);

      if (options.abort) {
        if (!active) throw new NotFoundError(`${user.email} has no unfinished rotation to abort.`);
        const store = await openStore(ctx);
        const record = await abortRotation(active, makePorts(ctx, provider, store, journal));
        return { kind: 'aborted', record, journal: await journal.archive(record) };
      }
      let resume = Boolean(options.resume);
      if (active && !resume) {
        const where = `stopped at "${PHASE_LABELS[active.phase]}"${active.lastError ? ` (${active.lastError.message})` : ''}`;
        if (!ctx.interactive || options.dryRun) {
          throw new RotationConflictError(`${user.email} has an unfinished rotation (${active.newKey.name}), ${where}.`, {
            hint: `Continue it with --resume${canAbort(active) ? ', or roll it back with --abort' : ''}.`,
          });
        }
        if (!(await ctx.prompts.confirm(`${user.email} has an unfinished rotation (${active.newKey.name}), ${where}. Resume it?`, '--resume'))) {
          throw new CancelledError('Cancelled: the unfinished rotation is left as it was.');
        }
        resume = true;
      }
      if (resume) {
        if (!active) throw new NotFoundError(`${user.email} has no unfinished rotation to resume.`);
        const store = await openStore(ctx);
        // Resuming a --keep-old rotation means: the grace period is over, finish it.
        active.options.keepOld = false;
        applyResumeOverrides(active.options, options, settings);
        return finished(await runReported(ctx, active, makePorts(ctx, provider, store, journal)), journal);
      }

      if (ctx.storeMode === 'none' && !options.onNewKey) {
        throw new UsageError('--store none keeps the new key in memory only: --on-new-key is then the only way to hand it on, and is required.');
      }
      const store = await openStore(ctx);
      const keys = await provider.listKeys(user.id);
      const held = await heldAmong(ctx, store, provider.id, user.id, keys);
      const oldKey = await chooseKey(ctx, keys, options.key, held, user.email);
      const mode: RotationMode = options.emergency ? 'emergency' : 'standard';
      const usageSignalUsable = identity.email.toLowerCase() !== user.email.toLowerCase();
      if (!usageSignalUsable && mode === 'emergency') {
        // Revoking first with the admin key's own user: if the old key is the admin key itself, every later call
        // (the create included) is rejected, and the user is left with no key at all.
        throw new UsageError(`--emergency revokes the old key first, and the admin key belongs to ${user.email} itself: if it is the key being revoked, keyrot could not create the new one.`, {
          hint: 'Run it with the admin key of another user with manage_users, or without --emergency (the old key then stays live until the new one is stored).',
        });
      }
      if (!usageSignalUsable && mode === 'standard' && settings.wait && !options.check) {
        throw new UsageError(
          `The admin key belongs to ${user.email} itself: keyrot's own calls would count as that user's activity, so waiting for usage proves nothing.`,
          { hint: 'Pass --check CMD to confirm the consumers, or --no-wait.' },
        );
      }
      const newName = options.name ?? nextGenerationName(oldKey.name, keys.map((k) => k.name));
      if (keys.some((k) => k.name === newName)) throw new UsageError(`${user.email} already has a key named "${newName}": pick another --name.`);
      const rotationOptions: RotationOptions = {
        onNewKey: options.onNewKey ?? null,
        check: options.check ?? null,
        noWait: !settings.wait || mode === 'emergency',
        keepOld: Boolean(options.keepOld),
        waitTimeoutMs: settings.waitTimeoutMs,
        pollIntervalMs: settings.pollIntervalMs,
        hookTimeoutMs: settings.hookTimeoutMs,
        usageSignalUsable,
        store: ctx.storeMode,
      };
      const plan = planOf(provider, user, mode, oldKey, newName, expiresAt, rotationOptions);
      if (options.dryRun) return { kind: 'planned', plan };

      if (ctx.storeMode === 'os') await probeWritable(store);
      await consent(ctx, plan, Boolean(options.yes));
      const record = newRotationRecord({
        id: randomUUID(),
        provider: provider.id,
        user,
        mode,
        oldKey,
        newName,
        expiresAt,
        preexistingKeyIds: keys.map((k) => k.id),
        options: rotationOptions,
        now: ctx.now(),
      });
      ctx.out.event('rotation.started', { rotationId: record.id, userId: user.id, userEmail: user.email, mode, oldKeyId: oldKey.id, newKeyName: newName });
      return finished(await runReported(ctx, record, makePorts(ctx, provider, store, journal)), journal);
    });
  },

  render(result, ctx) {
    // With --events stdout holds JSON lines only: rotation.done and rotation.aborted already carried the
    // outcome; the two outcomes without an event of their own get one here instead of the table.
    if (ctx.out.events) {
      if (result.kind === 'planned') ctx.out.event('rotation.planned', { plan: result.plan });
      if (result.kind === 'paused') ctx.out.event('rotation.paused', { ...summaryData(result.record), journal: result.journal });
      return;
    }
    const s = ctx.out.style;
    if (result.kind === 'planned') {
      ctx.out.data(renderPlan(result.plan, true));
      return;
    }
    const r = result.record;
    if (result.kind === 'aborted') {
      ctx.out.data(`${s.green('✔')} Rolled back the rotation of ${r.userEmail}: ${r.newKey.name} deleted, ${r.oldKey.name} kept.`);
      return;
    }
    const title =
      result.kind === 'paused'
        ? `${s.yellow('⏸')} Both keys are live (--keep-old). Finish later with: keyrot rotate --user ${r.userEmail} --resume`
        : `${s.green('✔')} Rotated ${r.userEmail}: ${s.bold(r.newKey.name)} replaces ${r.oldKey.name}`;
    const lines = [
      title,
      `  new key  ${r.newKey.id} (${maskFromLastChars(r.newKey.lastChars)})${r.newKey.expiresAt ? `, expires ${r.newKey.expiresAt}` : ''}`,
      `  old key  ${r.oldKey.id} (${maskFromLastChars(r.oldKey.lastChars)})${result.kind === 'rotated' ? ', revoked' : ', still live'}`,
      '',
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
    ctx.out.data(lines.join('\n'));
  },

  toJson(result) {
    if (result.kind === 'planned') return { dryRun: true, plan: result.plan };
    return { ...summaryData(result.record), journal: result.journal };
  },
};

function parseSettings(options: RotateOptions) {
  if (options.resume && options.abort) throw new UsageError('--resume and --abort cannot be combined.');
  if (options.dryRun && (options.resume || options.abort)) throw new UsageError('--dry-run plans a new rotation: it cannot be combined with --resume or --abort.');
  if (options.emergency && options.keepOld) throw new UsageError('--emergency revokes the old key first: it cannot be combined with --keep-old.');
  if (options.keepOld && options.wait === false) throw new UsageError('--keep-old stops after the wait: it cannot be combined with --no-wait.');
  const settings = {
    wait: options.wait !== false,
    waitTimeoutMs: parseDuration(options.waitTimeout ?? DEFAULTS.waitTimeout, '--wait-timeout'),
    pollIntervalMs: parseDuration(options.pollInterval ?? DEFAULTS.pollInterval, '--poll-interval'),
    hookTimeoutMs: parseDuration(options.hookTimeout ?? DEFAULTS.hookTimeout, '--hook-timeout'),
  };
  if (settings.pollIntervalMs < 100) throw new UsageError('--poll-interval must be at least 100ms.');
  if (settings.hookTimeoutMs <= 0 || settings.waitTimeoutMs <= 0) throw new UsageError('Time-outs must be greater than zero.');
  return settings;
}

/**
 * Flags given with --resume replace the journaled settings they name, so that a fixed hook or a longer wait
 * can be passed on the command line instead of being silently ignored.
 */
function applyResumeOverrides(journaled: RotationOptions, options: RotateOptions, settings: ReturnType<typeof parseSettings>): void {
  if (options.onNewKey !== undefined) journaled.onNewKey = options.onNewKey;
  if (options.check !== undefined) journaled.check = options.check;
  if (options.waitTimeout !== undefined) journaled.waitTimeoutMs = settings.waitTimeoutMs;
  if (options.pollInterval !== undefined) journaled.pollIntervalMs = settings.pollIntervalMs;
  if (options.hookTimeout !== undefined) journaled.hookTimeoutMs = settings.hookTimeoutMs;
  // Commander leaves `wait` true unless --no-wait was given.
  if (options.wait === false) journaled.noWait = true;
}

async function resolveUserWithPermission(ctx: Context, provider: Provider, identity: Identity, userArg: string | undefined): Promise<User> {
  try {
    return await resolveUser(ctx, provider, userArg);
  } catch (err) {
    if (err instanceof PermissionError) {
      throw new PermissionError(`The admin key's user (${identity.email}) may not manage other users' keys.`, {
        hint: 'Use a key of the account root or of a user with the manage_users permission.',
      });
    }
    throw err;
  }
}

function planOf(
  provider: Provider,
  user: User,
  mode: RotationMode,
  oldKey: { id: string; name: string; lastChars: string | null },
  newName: string,
  expiresAt: Date | null,
  options: RotationOptions,
): RotationPlan {
  const steps = PHASES[mode].map((phase) => {
    switch (phase) {
      case 'create':
        return `create ${newName}${expiresAt ? ` (expires ${expiresAt.toISOString()})` : ''} and store it in the keychain`;
      case 'hand-over':
        return options.onNewKey ? `run --on-new-key with the new key on its stdin: ${options.onNewKey}` : 'ask you to update the consumers';
      case 'wait':
        return options.noWait
          ? 'not wait for consumers (--no-wait)'
          : `wait up to ${formatDuration(options.waitTimeoutMs)} for the new key to be used${options.check ? ` and for --check to pass: ${options.check}` : ''}`;
      case 'revoke':
        return `delete the old key ${oldKey.name} (${oldKey.id})`;
      default:
        return PHASE_LABELS[phase].toLowerCase();
    }
  });
  if (options.keepOld) steps.splice(steps.findIndex((s) => s.startsWith('delete the old')), 0, 'stop here, both keys live (--keep-old), until --resume');
  return {
    user: { id: user.id, email: user.email },
    mode,
    oldKey: { id: oldKey.id, name: oldKey.name, maskedKey: maskFromLastChars(oldKey.lastChars) },
    newKey: { name: newName, expiresAt: expiresAt?.toISOString() ?? null },
    steps,
    usageSignal: provider.capabilities.usageSignal,
  };
}

function renderPlan(plan: RotationPlan, dryRun: boolean): string {
  return [
    `${dryRun ? 'Dry run: nothing will change. ' : ''}Plan for ${plan.user.email}${plan.mode === 'emergency' ? ' (EMERGENCY)' : ''}:`,
    ...plan.steps.map((s, i) => `  ${i + 1}. ${s}`),
  ].join('\n');
}

async function consent(ctx: Context, plan: RotationPlan, yes: boolean): Promise<void> {
  if (yes) return;
  if (!ctx.interactive) {
    throw new UsageError(`Rotating deletes the old key ${plan.oldKey.name}: pass --yes to confirm without a terminal.`, {
      hint: 'Add --dry-run to see the plan first.',
    });
  }
  ctx.out.info(renderPlan(plan, false));
  const question =
    plan.mode === 'emergency'
      ? `EMERGENCY: ${plan.oldKey.name} is revoked FIRST. Every consumer using it fails (downtime) until it has the new key. Go ahead?`
      : `Rotate ${plan.oldKey.name} of ${plan.user.email}?`;
  if (!(await ctx.prompts.confirm(question, '--yes'))) throw new CancelledError('Cancelled: nothing was changed.');
}

async function withLock<T>(ctx: Context, provider: Provider, user: User, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireUserLock(ctx.stateDir, provider.id, user.id, `the keys of ${user.email}`);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

async function finished(record: RotationRecord, journal: RotationJournal): Promise<RotateResult> {
  if (record.status === 'paused') return { kind: 'paused', record, journal: journal.pathFor(record.provider, record.userId) };
  return { kind: 'rotated', record, journal: await journal.archive(record) };
}

function makePorts(ctx: Context, provider: Provider, store: SecretStore, journal: RotationJournal): RotationPorts {
  const signal = ctx.signal;
  const runLogged = async (name: string, command: string, stdin: string | undefined, env: Record<string, string>, timeoutMs: number) => {
    const tail: string[] = [];
    const outcome = await runShell({
      command,
      stdin,
      // Hooks get the new key on stdin and nothing more: not the admin key keyrot runs with.
      baseEnv: withoutAdminKey(ctx.env, ctx.providerFactory.adminKeyEnv),
      env,
      timeoutMs,
      signal,
      onLine: (line) => {
        tail.push(line);
        if (tail.length > 5) tail.shift();
        ctx.out.detail(`  ${name}: ${line}`);
      },
    });
    if (signal.aborted) throw new CancelledError(`Interrupted while ${name} was running.`);
    return { outcome, tail };
  };
  return {
    provider,
    store,
    // Error messages end up in the record (lastError); any secret one quotes is masked before it reaches disk.
    save: (record) => journal.save(JSON.parse(ctx.out.clean(JSON.stringify(record))) as RotationRecord),
    async runHook(command, secret, env, timeoutMs) {
      // Under GitHub Actions the runner masks the key in every later log line before anyone can echo it.
      if (inGithubActions(ctx.env)) ctx.out.reveal(addMaskLine(secret));
      const { outcome, tail } = await runLogged('--on-new-key', command, `${secret}\n`, env, timeoutMs);
      if (outcome.exitCode !== 0 || outcome.timedOut) {
        // The hook's own words may quote the key it was given (a careless `echo`): masked and made printable.
        const last = tail.length ? sanitizeForDisplay(ctx.out.clean(tail.at(-1) ?? '')) : undefined;
        throw new HookFailedError(`${describeOutcome('--on-new-key', outcome, timeoutMs)}${last ? ` Last output: ${last}` : ''}`, {
          hint: 'The rotation stopped before the old key was touched.',
        });
      }
    },
    async runCheck(command, env, timeoutMs) {
      const { outcome } = await runLogged('--check', command, undefined, env, timeoutMs);
      return outcome.exitCode === 0 && !outcome.timedOut;
    },
    confirmHandover: ctx.interactive ? (message) => ctx.steps.whilePaused(() => ctx.prompts.confirm(message, '--on-new-key')) : null,
    rescue: (key, userId) => writeRescueFile(ctx.stateDir, provider.id, userId, key),
    startStep: (label) => ctx.steps.start(label),
    event: (type, data) => ctx.out.event(type, data),
    note: (m) => ctx.out.info(m),
    warn: (m) => ctx.out.warn(m),
    protect: (secret) => ctx.out.protect(secret),
    now: () => ctx.now(),
    async sleep(ms) {
      try {
        await delay(ms, undefined, { signal });
      } catch {
        throw signal.reason instanceof CancelledError ? signal.reason : new CancelledError('Cancelled.');
      }
    },
    signal,
  };
}

function withoutAdminKey(env: NodeJS.ProcessEnv, adminKeyEnv: string): NodeJS.ProcessEnv {
  const { [adminKeyEnv]: _adminKey, ...rest } = env;
  return rest;
}

/** The keychain, or with --store none a store that lives only as long as this process. */
async function openStore(ctx: Context): Promise<SecretStore> {
  if (ctx.storeMode === 'os') return ctx.secretStore();
  const { MemorySecretStore } = await import('../keychain/memory-store.js');
  return new MemorySecretStore();
}

/** Runs the rotation and, however it ends, appends its summary to $GITHUB_STEP_SUMMARY when that is set. */
async function runReported(ctx: Context, record: RotationRecord, ports: RotationPorts): Promise<RotationRecord> {
  const report = () => appendStepSummary(ctx.env, rotationSummaryMarkdown(record)).catch((err: Error) => ctx.out.warn(`Could not write the step summary: ${err.message}`));
  try {
    const done = await runRotation(record, ports);
    await report();
    return done;
  } catch (err) {
    await report();
    throw err;
  }
}
