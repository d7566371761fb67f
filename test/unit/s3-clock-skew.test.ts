// Attack: a runner whose clock is off by more than 15 minutes gets 403 RequestTimeTooSkewed from every S3 store;
// keyrot says the store "refused keyrot's credentials" and sends the user to check their keys, not their clock.
import { describe, expect, it } from 'vitest';
import { scriptedStore } from '../helpers/s3-mock.js';

describe("a runner's clock far from the store's", () => {
  it('is named as the cause, not the credentials', async () => {
    const { s } = scriptedStore([
      { status: 403, body: '<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message></Error>' },
    ]);
    const err = (await s.read('rotations/x.json').catch((e: unknown) => e)) as Error & { hint?: string };
    expect(`${err.message} ${err.hint}`).toMatch(/clock|time/i);
    expect(err.message).not.toMatch(/refused keyrot's credentials/);
  });
});
