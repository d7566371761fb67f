// Eventual consistency. A provider whose listing still shows a deleted key for half a second (a read replica
// a moment behind). discardNewKey (a create whose hand-over failed, --store none) once confirmed the delete with three
// immediate looks and no wait, unlike revoke and the rotation (1 s, 2 s), then called a deleted key "still live" and
// wrote its plaintext to a rescue file on disk that nobody needed.
import { describe, expect, it } from 'vitest';
import { discardNewKey } from '../../src/core/create-key.js';
import type { Provider } from '../../src/providers/types.js';

describe('discarding a new key against a listing that lags the delete by 500 ms', () => {
  it('waits for the listing as revoke does, and reports the key deleted without writing a rescue file', async () => {
    const key = { id: 'k-1', name: 'new-key', lastChars: 'ABCDE', createdAt: new Date(), expiresAt: null } as const;
    let deletedAt: number | null = null;
    const provider = {
      displayName: 'Lagging',
      async deleteKey() {
        deletedAt = Date.now();
        return 'deleted' as const;
      },
      async listKeys() {
        return deletedAt !== null && Date.now() - deletedAt >= 500 ? [] : [key];
      },
      // The plaintext gives no answer (a network error): only the listing can decide.
      async checkKey(): Promise<never> {
        throw new Error('unreachable');
      },
    } as unknown as Provider;
    const rescued: string[] = [];
    const outcome = await discardNewKey(
      () => provider,
      'u-1',
      key as never,
      'SECRETSECRETSECRETSECRETSECRETABCDE',
      async (k) => {
        rescued.push(k.id);
        return '/tmp/rescue';
      },
    );
    expect(rescued).toEqual([]);
    expect(outcome).toEqual({ kind: 'deleted' });
  });
});
