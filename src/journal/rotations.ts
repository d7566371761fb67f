// Rotation records: one active record per provider and user under rotations/, moved to rotations/history/
// when the rotation is done or aborted. They never hold a secret. In a local state folder they are 0600 files
// written atomically; in a bucket each write is conditional on the version this run last read or wrote (fenced),
// so a runner whose lock was taken over is stopped by the store before it creates or deletes a key.
import { StateError } from '../errors.js';
import { compareText } from '../core/order.js';
import type { RotationRecord } from '../core/rotation.js';
import { PHASES, type RotationMode } from '../core/rotation/record.js';
import { readAll, readRecord, storeOf, type StateStore } from '../state/store.js';
import { jsonText, safeName } from './state-dir.js';
import { say, displayText } from '../ui/display-text.js';

export class RotationJournal {
  readonly #store: StateStore;

  constructor(stateDirectory: string) {
    this.#store = storeOf(stateDirectory);
  }

  #key(provider: string, userId: string): string {
    return `rotations/${safeName(provider)}-${safeName(userId)}.json`;
  }

  pathFor(provider: string, userId: string): string {
    return this.#store.where(this.#key(provider, userId));
  }

  /**
   * The user's unfinished rotation, or null when there is none. A file that is not a whole rotation record
   * (truncated, garbage, empty, `null`, `[]`, fields missing) is never taken for "no rotation": StateError.
   */
  async active(provider: string, userId: string): Promise<RotationRecord | null> {
    const path = this.pathFor(provider, userId);
    const file = await readRecord(this.#store, this.#key(provider, userId), 'rotation journal', { journal: path });
    if (file === null) return null;
    const { data } = file;
    const version = (data as { version?: unknown } | null)?.version;
    if (typeof version === 'number' && version > JOURNAL_VERSION) {
      // Not damage: an older keyrot must not set aside (and so take over) a newer one's rotation.
      throw new StateError(say`The rotation journal ${displayText(path)} was written by a newer keyrot (journal version ${version}; this keyrot reads version ${JOURNAL_VERSION}).`, {
        hint: say`Nothing was changed. Upgrade keyrot, then --resume or --abort the rotation with it.`,
        data: { journal: path, journalVersion: version },
      });
    }
    const problem = recordProblem(data);
    if (problem) {
      const aside = this.#store.shared ? `rename ${path} in the bucket` : `mv '${path}' '${path}.damaged'`;
      throw new StateError(say`The rotation journal ${displayText(path)} is damaged (${displayText(problem)}).`, {
        hint: say`Nothing was changed. Set it aside (${displayText(aside)}), then keyrot rotate --resume continues from the provider's state, or revoke the key you do not want.`,
        data: { journal: path },
      });
    }
    return data as RotationRecord;
  }

  async save(record: RotationRecord): Promise<void> {
    await this.#store.write(this.#key(record.provider, record.userId), jsonText(record), { fenced: true });
  }

  /** Moves a finished record out of the way so the user can be rotated again. */
  async archive(record: RotationRecord): Promise<string> {
    const target = `rotations/history/${record.startedAt.replace(/[:.]/g, '-')}-${safeName(record.id)}.json`;
    await this.#store.move(this.#key(record.provider, record.userId), target);
    return this.#store.where(target);
  }

  /**
   * Every unfinished rotation, and the journal files that are not whole records (keyrot status names them rather
   * than pass over them: each blocks its user's next rotation).
   */
  async scan(): Promise<{ records: RotationRecord[]; damaged: string[] }> {
    const records: RotationRecord[] = [];
    const damaged: string[] = [];
    for (const { key, data } of await readAll(this.#store, 'rotations', (n) => n.endsWith('.json'))) {
      if (data === null && this.#store.shared) continue; // A removed record (an empty object in a bucket).
      if (recordProblem(data) === null) records.push(data as RotationRecord);
      else damaged.push(this.#store.where(key));
    }
    return { records, damaged };
  }

  /** Finished (done or aborted) rotations, most recent first, at most `limit`. Unreadable files are passed over. */
  async history(limit: number): Promise<RotationRecord[]> {
    return (await this.#archived()).sort((a, b) => compareText(String(b.updatedAt), String(a.updatedAt))).slice(0, limit);
  }

  async #archived(): Promise<RotationRecord[]> {
    const found = await readAll(this.#store, 'rotations/history', (n) => n.endsWith('.json'));
    return found.map((f) => f.data).filter((r): r is RotationRecord => recordProblem(r) === null);
  }

  /** The finished rotations of batch `batchId` (rotate --all), from history/, by the id of the key each replaced. */
  async archivedOfBatch(batchId: string): Promise<Map<string, RotationRecord>> {
    const ofBatch = (await this.#archived()).filter((r) => r.batchId === batchId);
    return new Map(ofBatch.map((r) => [r.oldKey.id, r]));
  }

  /** Every unfinished rotation (for listing in messages). */
  async allActive(): Promise<RotationRecord[]> {
    const found = await readAll(this.#store, 'rotations', (n) => n.endsWith('.json')).catch(() => []);
    return found.map((f) => f.data).filter((r): r is RotationRecord => recordProblem(r) === null);
  }
}

const JOURNAL_VERSION = 1;
const PHASE_NAMES = ['create', 'verify-new', 'hand-over', 'wait', 'revoke', 'verify-old', 'finish'];

/** What makes `data` not a rotation record keyrot can resume from, or null when it is one. */
function recordProblem(data: unknown): string | null {
  if (data === undefined) return 'not JSON: truncated or overwritten';
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return `not a record (${data === null ? 'null' : Array.isArray(data) ? 'a list' : typeof data})`;
  const r = data as Record<string, unknown>;
  if (r['version'] !== JOURNAL_VERSION) return 'unknown version';
  for (const field of ['id', 'provider', 'userId', 'userEmail', 'startedAt']) if (typeof r[field] !== 'string') return `no ${field}`;
  if (r['mode'] !== 'standard' && r['mode'] !== 'emergency') return 'no mode';
  if (!PHASE_NAMES.includes(r['phase'] as string)) return 'no phase';
  if (r['phaseStatus'] !== 'pending' && r['phaseStatus'] !== 'started') return 'no phase status';
  if (!['running', 'paused', 'failed', 'done', 'aborted'].includes(r['status'] as string)) return 'no status';
  const oldKey = r['oldKey'] as Record<string, unknown> | undefined;
  const newKey = r['newKey'] as Record<string, unknown> | undefined;
  if (typeof oldKey !== 'object' || oldKey === null || typeof oldKey['id'] !== 'string' || typeof oldKey['name'] !== 'string') return 'no old key';
  if (typeof newKey !== 'object' || newKey === null || typeof newKey['name'] !== 'string' || (newKey['id'] !== null && typeof newKey['id'] !== 'string')) return 'no new key';
  // Resuming it would "revoke the old key" by deleting the one key the consumers use (planted, or a bug elsewhere).
  if (newKey['id'] === oldKey['id']) return `its new key ${oldKey['id']} is also its old key`;
  if (typeof r['options'] !== 'object' || r['options'] === null) return 'no options';
  if (!Array.isArray(r['steps']) || !Array.isArray(r['preexistingKeyIds'])) return 'no steps';
  const bad = (r['steps'] as unknown[]).findIndex((step) => stepProblem(step));
  if (bad >= 0) return `step ${bad + 1} is not a step (${JSON.stringify(r['steps'][bad])?.slice(0, 40)})`;
  return progressProblem(r['mode'] as RotationMode, r['phase'] as string, r['status'] as string, r['steps'] as RotationRecord['steps']);
}

/**
 * The phase and status must follow from the steps the engine recorded: a phase is reached only after every phase
 * before it finished, and "done" only after the last. A journal moved on by hand (to revoke before any hand-over, to
 * done while both keys are live) would have --resume revoke a key consumers still use, or status hide a live key.
 */
function progressProblem(mode: RotationMode, phase: string, status: string, steps: RotationRecord['steps']): string | null {
  const order: readonly string[] = PHASES[mode];
  if (!order.includes(phase)) return `phase ${phase} is not a phase of a ${mode} rotation`;
  const finished = new Set(steps.filter((s) => s.outcome !== 'failed').map((s) => s.phase as string));
  // No create step: a rotation adopted by --resume without a journal begins at verify-new.
  const missing = order.slice(1, order.indexOf(phase)).find((p) => !finished.has(p));
  if (missing) return `phase ${phase}, but no ${missing} step is recorded as done`;
  if (status === 'done' && (phase !== order.at(-1) || !finished.has(phase))) return 'status done, but the rotation never finished';
  return null;
}

/** A step entry as the engine writes it: a phase, its outcome, a duration. */
function stepProblem(step: unknown): boolean {
  if (typeof step !== 'object' || step === null || Array.isArray(step)) return true;
  const s = step as Record<string, unknown>;
  return (
    !PHASE_NAMES.includes(s['phase'] as string) ||
    !['ok', 'skipped', 'failed'].includes(s['outcome'] as string) ||
    typeof s['durationMs'] !== 'number' ||
    (s['detail'] !== undefined && typeof s['detail'] !== 'string')
  );
}
