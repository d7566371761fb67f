// The rotation state machine: the phase table (which step runs in each phase), and the loop that runs a step, then
// moves on through TRANSITIONS. Every transition is saved before the next side effect, so resuming means: read the
// record, re-enter the recorded phase in its idempotent form, continue.
import { CancelledError, CreateOutcomeUnknownError, OperatorStepError, isKeyrotError } from '../../errors.js';
import { explainFailure } from './failure.js';
import { discardCancelledCreate, discardUnheldNewKey } from './ownership.js';
import { byOperator, rotateCommandOf, save, saveBeside, throwIfCancelled, type RotationPorts, type StepProgress, type StepResult } from './ports.js';
import { canAbort, labelFor, summaryData, type Phase, type RotationRecord, type StepRecord } from './record.js';
import { createStep } from './steps/create.js';
import { finishStep } from './steps/finish.js';
import { handOverStep, stopOrphanedHook } from './steps/hand-over.js';
import { revokeStep } from './steps/revoke.js';
import { verifyNewStep } from './steps/verify-new.js';
import { verifyOldStep } from './steps/verify-old.js';
import { waitStep } from './steps/wait.js';
import { TRANSITIONS } from './transitions.js';
import { say, displayText } from '../display-text.js';

export type PhaseRunner = (record: RotationRecord, ports: RotationPorts, step: StepProgress) => Promise<StepResult>;

/** The step each phase runs. The order of phases is PHASES (record.ts); the moves between them are TRANSITIONS. */
export const PHASE_RUNNERS: Record<Phase, PhaseRunner> = {
  create: createStep,
  'verify-new': verifyNewStep,
  'hand-over': handOverStep,
  wait: waitStep,
  revoke: revokeStep,
  'verify-old': verifyOldStep,
  finish: finishStep,
};

/**
 * Runs (or resumes) the rotation until it is done, paused (--keep-old), or fails. On failure the record
 * keeps the phase reached, so the same call resumes it; the thrown error says what is live and what next.
 */
export async function runRotation(record: RotationRecord, ports: RotationPorts): Promise<RotationRecord> {
  TRANSITIONS.start(record);
  // Nothing to stop or discard first, and the step's own write comes first: that write records the start too.
  if (record.hookProcess || record.newKey.id || !stepSavesFirst(record, ports)) await save(record, ports);
  await stopOrphanedHook(record, ports);
  await discardUnheldNewKey(record, ports, false);
  while (record.status === 'running') {
    const phase = record.phase;
    const step = await ports.startStep(labelFor(record, phase));
    let detail: string | undefined;
    let outcome: StepRecord['outcome'] = 'ok';
    try {
      // Inside the try: a cancel between phases is journaled and explained like any other stop.
      throwIfCancelled(ports.signal);
      const result = await PHASE_RUNNERS[phase](record, ports, step);
      detail = result.detail;
      outcome = result.skipped ? 'skipped' : 'ok';
    } catch (err) {
      if (err instanceof OperatorStepError) throw await pauseForOperator(record, ports, step, err);
      // Words on the step line ("wait timeout"), not the code scripts read in JSON ("wait_timeout").
      const durationMs = step.finish('failed', isKeyrotError(err) ? err.code.replace(/_/g, ' ') : undefined);
      record.steps.push({ phase, outcome: 'failed', durationMs });
      TRANSITIONS.fail(record, { code: isKeyrotError(err) ? err.code : 'internal', message: err instanceof Error ? err.message : String(err) });
      // A create whose answer was lost may have made a key the listing does not show yet: no later refusal of a
      // create in this rotation may count as "nothing was made".
      if (phase === 'create' && !record.newKey.id && (err instanceof CreateOutcomeUnknownError || (isKeyrotError(err) && err.facts.afterLostAnswer === true))) record.createOutcomeUnknown = true;
      await saveBeside(record, ports);
      let stop = err;
      try {
        const discarded = await discardUnheldNewKey(record, ports, true);
        if (discarded) stop = await afterDiscard(record, ports, err, discarded);
        await discardCancelledCreate(record, ports, err);
      } catch (discardErr) {
        // The original stop is what the user must see; the discard's own failure is told beside it.
        ports.warn(say`--store none: the new key ${displayText(record.newKey.name)} (${displayText(record.newKey.id ?? '?')}) could not be cleaned up: ${displayText((discardErr as Error).message)}`);
      }
      ports.event('rotation.failed', { rotationId: record.id, phase, error: record.lastError });
      throw explainFailure(record, stop, ports);
    }
    const durationMs = step.finish(outcome, detail);
    record.steps.push({ phase, outcome, durationMs, ...(detail ? { detail } : {}) });
    TRANSITIONS.complete(record, ports.now());
    if (record.status === 'running' && stepSavesFirst(record, ports)) continue;
    try {
      await save(record, ports);
    } catch (err) {
      // The journal still says the phase just done is under way: a resume redoes it (phases are idempotent).
      TRANSITIONS.fail(record, isKeyrotError(err) ? { code: err.code, message: err.message } : null);
      ports.event('rotation.failed', { rotationId: record.id, phase, error: record.lastError });
      throw explainFailure(record, err, ports);
    }
  }
  if (record.status === 'done') ports.event('rotation.done', summaryData(record));
  return record;
}

/**
 * Whether the step of the record's phase writes the journal before it does anything (a provider call, a keychain
 * write, a hook, a prompt, a wait): then the state it starts from needs no write of its own, since that first write
 * records it too, with nothing done between (one atomic write with its two fsyncs less, bench/rotate.mjs). A crash
 * before it leaves the journal one phase behind, which a resume redoes (phases are idempotent).
 *   - create, not yet begun, by keyrot itself: the write before the create is sent (steps/create.ts, onCreateSent);
 *   - hand-over, not yet begun: markStarted, after reading the new key.
 */
export function stepSavesFirst(record: RotationRecord, ports: RotationPorts): boolean {
  if (record.phaseStatus !== 'pending') return false;
  if (record.phase === 'create') return !record.newKey.id && !byOperator(ports.provider);
  return record.phase === 'hand-over';
}

/**
 * A step only a person can take (mint or revoke in the dashboard) is pending: the rotation is paused, not failed,
 * and says exactly what to do and how to go on. Returns the error to throw (exit 18).
 */
async function pauseForOperator(record: RotationRecord, ports: RotationPorts, step: StepProgress, err: OperatorStepError): Promise<OperatorStepError> {
  step.finish('skipped', 'paused: waiting for a person at the dashboard');
  TRANSITIONS.pauseForPerson(record, { code: err.code, message: err.message });
  await save(record, ports);
  ports.event('rotation.paused', { rotationId: record.id, phase: record.phase, awaiting: record.awaiting ?? null, message: err.message });
  const next =
    record.awaiting === 'mint'
      ? `${rotateCommandOf(record, ports)} --resume --new-key-stdin (the key on stdin), or the same without --new-key-stdin in a terminal`
      : `${rotateCommandOf(record, ports)} --resume`;
  return err.amend(say`${err.hint ? say`${err.hint} ` : say``}Next: ${displayText(next)}.${canAbort(record) ? say` Or roll back with --abort.` : say``}`, {
    rotationId: record.id,
    phase: record.phase,
    awaiting: record.awaiting ?? null,
    resumable: true,
  });
}

/**
 * --store none: the stop's new key was deleted on the way out (nobody held it). A cancel's own words ("the new key is
 * live") were written before that: they are restated, in the error and in the journal that status reads.
 */
async function afterDiscard(record: RotationRecord, ports: RotationPorts, err: unknown, deleted: { id: string; name: string }): Promise<unknown> {
  if (!(err instanceof CancelledError)) return err;
  const restated = new CancelledError(
    say`Cancelled before the hand-over: the new key ${displayText(deleted.name)} (${displayText(deleted.id)}) was deleted (--store none: nobody held it); the old key ${displayText(record.oldKey.name)} is untouched.`,
  );
  record.lastError = { code: restated.code, message: restated.message };
  await saveBeside(record, ports);
  return restated;
}
