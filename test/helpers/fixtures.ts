// Small shared pieces of the unit tests.
import type { RotationOptions } from '../../src/core/rotation.js';

/** The error a promise rejects with; fails the test when it resolves. */
export async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

/** Rotation settings as `keyrot rotate` defaults them (10 min wait, 5 s polls, 2 min hooks). */
export function defaultRotationOptions(overrides: Partial<RotationOptions> = {}): RotationOptions {
  return {
    onNewKey: null,
    check: null,
    noWait: false,
    keepOld: false,
    waitTimeoutMs: 600_000,
    pollIntervalMs: 5_000,
    hookTimeoutMs: 120_000,
    usageSignalUsable: true,
    ...overrides,
  };
}
