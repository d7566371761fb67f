// Rotation records: one active record per provider and user under rotations/, moved to rotations/history/
// when the rotation is done or aborted. Files are 0600 JSON written atomically; they never hold a secret.
import { readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { RotationRecord } from '../core/rotation.js';
import { ensureDir, readJson, safeName, writeJsonAtomic } from './state-dir.js';

export class RotationJournal {
  readonly #dir: string;

  constructor(stateDirectory: string) {
    this.#dir = join(stateDirectory, 'rotations');
  }

  pathFor(provider: string, userId: string): string {
    return join(this.#dir, `${safeName(provider)}-${safeName(userId)}.json`);
  }

  /** The user's unfinished rotation, or null. */
  async active(provider: string, userId: string): Promise<RotationRecord | null> {
    const data = (await readJson(this.pathFor(provider, userId))) as RotationRecord | null;
    return data && data.version === 1 ? data : null;
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

  /** Every unfinished rotation (for listing in messages). */
  async allActive(): Promise<RotationRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch {
      return [];
    }
    const records = await Promise.all(names.filter((n) => n.endsWith('.json')).map((n) => readJson(join(this.#dir, n))));
    return records.filter((r): r is RotationRecord => Boolean(r) && (r as RotationRecord).version === 1);
  }
}
