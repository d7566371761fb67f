// Rotation records: one active record per provider and user under rotations/, moved to rotations/history/
// when the rotation is done or aborted. Files are 0600 JSON written atomically; they never hold a secret.
import { readdir, rename } from 'node:fs/promises';
import { StateError } from '../errors.js';
import { join } from 'node:path';
import { compareText } from '../core/order.js';
import type { RotationRecord } from '../core/rotation.js';
import { ensureDir, readJson, readStateRecord, safeName, writeJsonAtomic } from './state-dir.js';

export class RotationJournal {
  readonly #dir: string;

  constructor(stateDirectory: string) {
    this.#dir = join(stateDirectory, 'rotations');
  }

  pathFor(provider: string, userId: string): string {
    return join(this.#dir, `${safeName(provider)}-${safeName(userId)}.json`);
  }

  /**
   * The user's unfinished rotation, or null when there is none. A file that is not a whole rotation record
   * (truncated, garbage, empty, `null`, `[]`, fields missing) is never taken for "no rotation": StateError.
   */
  async active(provider: string, userId: string): Promise<RotationRecord | null> {
    const path = this.pathFor(provider, userId);
    const file = await readStateRecord(path, 'rotation journal', { journal: path });
    if (file === null) return null;
    const { data } = file;
    const problem = recordProblem(data);
    if (problem) {
      throw new StateError(`The rotation journal ${path} is damaged (${problem}).`, {
        hint: `Nothing was changed. Set it aside (mv '${path}' '${path}.damaged'), then keyrot rotate --resume continues from the provider's state, or revoke the key you do not want.`,
        data: { journal: path },
      });
    }
    return data as RotationRecord;
  }

  async save(record: RotationRecord): Promise<void> {
    await writeJsonAtomic(this.pathFor(record.provider, record.userId), record);
  }

  /** Moves a finished record out of the way so the user can be rotated again. */
  async archive(record: RotationRecord): Promise<string> {
    const history = join(this.#dir, 'history');
    await ensureDir(history);
    const target = join(history, `${record.startedAt.replace(/[:.]/g, '-')}-${safeName(record.id)}.json`);
    await rename(this.pathFor(record.provider, record.userId), target);
    return target;
  }

  /**
   * Every unfinished rotation, and the journal files that are not whole records (keyrot status names them rather
   * than pass over them: each blocks its user's next rotation).
   */
  async scan(): Promise<{ records: RotationRecord[]; damaged: string[] }> {
    const names = await readdir(this.#dir).catch(() => [] as string[]);
    const records: RotationRecord[] = [];
    const damaged: string[] = [];
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      const path = join(this.#dir, name);
      const data = await readJson(path).catch(() => undefined);
      if (recordProblem(data) === null) records.push(data as RotationRecord);
      else damaged.push(path);
    }
    return { records, damaged };
  }

  /** Finished (done or aborted) rotations, most recent first, at most `limit`. Unreadable files are passed over. */
  async history(limit: number): Promise<RotationRecord[]> {
    const dir = join(this.#dir, 'history');
    const names = await readdir(dir).catch(() => [] as string[]);
    const records = await Promise.all(names.filter((n) => n.endsWith('.json')).map((n) => readJson(join(dir, n)).catch(() => null)));
    return records
      .filter((r): r is RotationRecord => r !== null && recordProblem(r) === null)
      .sort((a, b) => compareText(String(b.updatedAt), String(a.updatedAt)))
      .slice(0, limit);
  }

  /** The finished rotations of batch `batchId` (rotate --all), from history/, by the id of the key each replaced. */
  async archivedOfBatch(batchId: string): Promise<Map<string, RotationRecord>> {
    const history = join(this.#dir, 'history');
    const names = (await readdir(history).catch(() => [] as string[])).filter((n) => n.endsWith('.json'));
    const records = await Promise.all(names.map((n) => readJson(join(history, n)).catch(() => null)));
    const ofBatch = records.filter((r): r is RotationRecord => recordProblem(r) === null && (r as RotationRecord).batchId === batchId);
    return new Map(ofBatch.map((r) => [r.oldKey.id, r]));
  }

  /** Every unfinished rotation (for listing in messages). */
  async allActive(): Promise<RotationRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch {
      return [];
    }
    const records = await Promise.all(names.filter((n) => n.endsWith('.json')).map((n) => readJson(join(this.#dir, n)).catch(() => null)));
    return records.filter((r): r is RotationRecord => recordProblem(r) === null);
  }
}

const PHASE_NAMES = ['create', 'verify-new', 'hand-over', 'wait', 'revoke', 'verify-old', 'finish'];

/** What makes `data` not a rotation record keyrot can resume from, or null when it is one. */
function recordProblem(data: unknown): string | null {
  if (data === undefined) return 'not JSON: truncated or overwritten';
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return `not a record (${data === null ? 'null' : Array.isArray(data) ? 'a list' : typeof data})`;
  const r = data as Record<string, unknown>;
  if (r['version'] !== 1) return 'unknown version';
  for (const field of ['id', 'provider', 'userId', 'userEmail', 'startedAt']) if (typeof r[field] !== 'string') return `no ${field}`;
  if (r['mode'] !== 'standard' && r['mode'] !== 'emergency') return 'no mode';
  if (!PHASE_NAMES.includes(r['phase'] as string)) return 'no phase';
  if (r['phaseStatus'] !== 'pending' && r['phaseStatus'] !== 'started') return 'no phase status';
  if (!['running', 'paused', 'failed', 'done', 'aborted'].includes(r['status'] as string)) return 'no status';
  const oldKey = r['oldKey'] as Record<string, unknown> | undefined;
  const newKey = r['newKey'] as Record<string, unknown> | undefined;
  if (typeof oldKey !== 'object' || oldKey === null || typeof oldKey['id'] !== 'string' || typeof oldKey['name'] !== 'string') return 'no old key';
  if (typeof newKey !== 'object' || newKey === null || typeof newKey['name'] !== 'string' || (newKey['id'] !== null && typeof newKey['id'] !== 'string')) return 'no new key';
  if (typeof r['options'] !== 'object' || r['options'] === null) return 'no options';
  if (!Array.isArray(r['steps']) || !Array.isArray(r['preexistingKeyIds'])) return 'no steps';
  return null;
}
