// Every change of a rotation's phase or status, each a named function in one table. Nothing else in keyrot writes
// record.phase, record.phaseStatus or record.status: the steps, the engine's loop and its session call these.
import type { Phase, RotationRecord } from './record.js';
import { PHASES } from './record.js';

export const TRANSITIONS = {
  /** A run or a --resume begins (a paused or failed rotation goes on). */
  start(record: RotationRecord): void {
    record.status = 'running';
    record.lastError = null;
  },
  /** The phase's side effect may begin: a resume must treat it as possibly done. */
  begin(record: RotationRecord): void {
    record.phaseStatus = 'started';
  },
  /**
   * The phase's side effect is known to have had no effect (a revoke whose delete left the old key listed and
   * working): the phase counts as not begun, so the rotation can still be rolled back.
   */
  noEffect(record: RotationRecord): void {
    record.phaseStatus = 'pending';
  },
  /**
   * The phase finished: the next phase, or done after the last. --keep-old: both keys stay live after the wait, and
   * the rotation pauses until a --resume revokes the old one.
   */
  complete(record: RotationRecord, now: Date): void {
    const phases = PHASES[record.mode];
    const phase = record.phase;
    const next: Phase | undefined = phases[phases.indexOf(phase) + 1];
    if (next === undefined) {
      record.status = 'done';
      return;
    }
    record.phase = next;
    record.phaseStatus = 'pending';
    if (phase === 'wait' && record.options.keepOld) {
      record.status = 'paused';
      if (record.options.graceMs !== undefined) record.graceUntil = new Date(now.getTime() + record.options.graceMs).toISOString();
    }
  },
  /** The phase failed: the record keeps the phase reached, so the same call resumes it. */
  fail(record: RotationRecord, error: { code: string; message: string } | null): void {
    record.status = 'failed';
    if (error) record.lastError = error;
  },
  /** A step only a person can take is pending (mint or revoke in a dashboard). */
  pauseForPerson(record: RotationRecord, error: { code: string; message: string }): void {
    record.status = 'paused';
    record.lastError = error;
  },
  /** --store none: the new key nobody holds was deleted; the rotation goes back to creating one. */
  backToCreate(record: RotationRecord): void {
    TRANSITIONS.forgetNewKey(record);
    record.handedOverAt = null;
    record.phase = 'create';
    record.phaseStatus = 'pending';
  },
  /** This rotation's new key is deleted (a twin of another run's): the record no longer names it. */
  forgetNewKey(record: RotationRecord): void {
    record.newKey.id = null;
    record.newKey.lastChars = null;
  },
  /** The new key exists and is held (created, minted, found in the keychain): the record names it. */
  holdNewKey(record: RotationRecord, key: { id: string; lastChars: string }): void {
    record.newKey.id = key.id;
    record.newKey.lastChars = key.lastChars;
  },
  /**
   * --resume without a journal: the provider shows a key beside its next generation, and the keychain holds the
   * latter. The rotation goes on from proving it (hooks are idempotent, so it is handed over again).
   */
  adopt(record: RotationRecord, key: { id: string; lastChars: string }): void {
    TRANSITIONS.holdNewKey(record, key);
    record.phase = 'verify-new';
    record.phaseStatus = 'pending';
  },
  /** Rolled back by --abort, or closed because nothing was created: nothing is left to go on with. */
  close(record: RotationRecord): void {
    record.status = 'aborted';
  },
} as const;
