import { describe, expect, it } from 'vitest';
import { isLoopback, validateBaseUrl } from '../../src/core/base-url.js';
import { UsageError } from '../../src/errors.js';
import { missingApiPathHint } from '../../src/providers/vultr/client.js';

describe('validateBaseUrl', () => {
  it.each([
    ['https://api.vultr.com/v2', 'https://api.vultr.com/v2'],
    ['https://api.vultr.com/v2/', 'https://api.vultr.com/v2'],
    ['https://api.vultr.com', 'https://api.vultr.com'],
    ['HTTPS://API.VULTR.COM/v2', 'https://api.vultr.com/v2'],
    ['https://proxy.internal:8443/vultr/v2', 'https://proxy.internal:8443/vultr/v2'],
    ['http://127.0.0.1:8080/v2', 'http://127.0.0.1:8080/v2'],
    ['http://127.1.2.3/v2', 'http://127.1.2.3/v2'],
    ['http://127.255.255.254', 'http://127.255.255.254'],
    ['http://localhost:3000', 'http://localhost:3000'],
    ['http://LOCALHOST:3000', 'http://localhost:3000'],
    ['http://[::1]:9000/v2', 'http://[::1]:9000/v2'],
    ['http://[0:0:0:0:0:0:0:1]:9000', 'http://[::1]:9000'],
  ])('accepts %j', (text, normalised) => {
    expect(validateBaseUrl(text, 'VULTR_API_URL')).toBe(normalised);
  });

  it.each([
    ['http://example.com', /plain http/],
    ['http://api.vultr.com/v2', /plain http/],
    ['http://10.0.0.1', /plain http/],
    ['http://192.168.1.10:8080', /plain http/],
    ['http://0.0.0.0:8080', /plain http/],
    ['http://128.0.0.1', /plain http/],
    ['http://127.0.0.1.example.com', /plain http/],
    ['http://localhost.example.com', /plain http/],
    ['http://[::2]', /plain http/],
    ['http://[::ffff:7f00:1]', /plain http/],
    ['https://user:pass@api.vultr.com/v2', /credentials/],
    ['https://APIKEY@api.vultr.com/v2', /credentials/],
    ['http://user:pass@127.0.0.1', /credentials/],
    ['ftp://example.com/v2', /not supported/],
    ['file:///etc/passwd', /not supported/],
    ['ws://127.0.0.1:8080', /not supported/],
    ['api.vultr.com/v2', /not a URL/],
    ['', /not a URL/],
    ['https://', /not a URL/],
  ])('refuses %j', (text, message) => {
    let caught: unknown;
    try {
      validateBaseUrl(text, 'VULTR_API_URL');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).message).toContain('VULTR_API_URL');
  });

  it('never echoes credentials found in the URL', () => {
    expect(() => validateBaseUrl('https://admin:S3CRETS3CRETS3CRET@api.vultr.com', '--api-url')).toThrow(expect.objectContaining({ message: expect.not.stringContaining('S3CRET') }));
  });

  it('does not let a bad value inject terminal escapes into the message', () => {
    try {
      validateBaseUrl('\x1b]0;pwned\x07not a url', 'VULTR_API_URL');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toMatch(/\x1b|\x07/);
    }
  });
});

describe('isLoopback', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.0.0.53', true],
    ['127.255.255.255', true],
    ['localhost', true],
    ['LocalHost', true],
    ['::1', true],
    ['[::1]', true],
    ['0:0:0:0:0:0:0:1', true],
    ['127.0.0.256', false],
    ['127.0.0', false],
    ['127.0.0.1.1', false],
    ['127.a.0.1', false],
    ['126.0.0.1', false],
    ['localhost.', false],
    ['example.com', false],
    ['', false],
  ])('%j → %s', (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });
});

describe('missingApiPathHint', () => {
  it.each([
    ['https://api.vultr.com', 'https://api.vultr.com/v2'],
    ['https://api.vultr.com/', 'https://api.vultr.com/v2'],
    ['http://127.0.0.1:8080/api', 'http://127.0.0.1:8080/api/v2'],
  ])('%s → suggests %s', (url, fixed) => {
    expect(missingApiPathHint(url)).toContain(`set --api-url or VULTR_API_URL (or the profile's api-url) to ${fixed}.`);
  });
  it.each(['https://api.vultr.com/v2', 'https://api.vultr.com/v2/', 'http://127.0.0.1:8080/proxy/v2'])('%s: no hint', (url) => {
    expect(missingApiPathHint(url)).toBeUndefined();
  });
});
