// Attack: credentials in the endpoint URL must never be echoed (COMMON.md: no secret in error messages).
import { describe, expect, it } from 'vitest';
import { LocalStore } from '../../src/state/local.js';
import { S3Store } from '../../src/state/s3-store.js';

describe('an endpoint URL holding credentials', () => {
  it('that does not parse is refused without echoing its password', () => {
    const env = { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', AWS_ENDPOINT_URL_S3: 'https://AKIAX:wJalrTOPSECRET@s3.example.com:99999' };
    let message = '';
    try {
      new S3Store('s3://my-bucket/x', env, new LocalStore('/nonexistent'));
    } catch (err) {
      message = `${(err as Error).message} ${JSON.stringify((err as { hint?: string }).hint ?? '')}`;
    }
    expect(message).toMatch(/AWS_ENDPOINT_URL_S3/);
    expect(message).not.toContain('wJalrTOPSECRET');
  });
});
