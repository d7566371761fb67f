// One endpoint, one spelling (core/base-url.ts validateBaseUrl), so one identity (providers/registry.ts fileProviderId).
import { describe, expect, it } from 'vitest';
import { validateBaseUrl } from '../../src/core/base-url.js';
import { UsageError } from '../../src/errors.js';
import { fileProviderId } from '../../src/providers/registry.js';

const id = (url: string) => fileProviderId({ id: 'myplat', baseUrl: validateBaseUrl(url, 'test') });

describe('base URL spelling and provider identity', () => {
  it('spellings of one endpoint give one URL and one identity', () => {
    const spellings = [
      'https://keys.example.com/api/v1',
      'HTTPS://KEYS.Example.COM/api/v1',
      'https://keys.example.com:443/api/v1',
      'https://keys.example.com/api/v1/',
      'https://keys.example.com/api/v1//',
      'https://keys.example.com/api/%76%31',
      'https://keys.example.com/api/./x/../v1',
    ];
    for (const s of spellings) expect(validateBaseUrl(s, 'test'), s).toBe('https://keys.example.com/api/v1');
    expect(new Set(spellings.map(id)).size).toBe(1);
  });

  it('escapes of reserved characters stay escapes, upper-cased; other endpoints get other identities', () => {
    expect(validateBaseUrl('https://keys.example.com/a%2fb', 'test')).toBe('https://keys.example.com/a%2Fb');
    expect(id('https://keys.example.com/a%2fb')).not.toBe(id('https://keys.example.com/a/b'));
    expect(id('https://keys.example.com/api/v1')).not.toBe(id('https://keys.example.com:8443/api/v1'));
    expect(id('https://keys.example.com/api/v1')).not.toBe(id('https://keys.example.com/api/v2'));
    expect(id('https://keys.example.com/api/v1')).not.toBe(id('http://localhost/api/v1'));
  });

  it('a query, a fragment, credentials or another scheme is refused', () => {
    for (const bad of ['https://k.example.com/v1?tenant=a', 'https://k.example.com/v1?', 'https://k.example.com/v1#x', 'https://u:p@k.example.com/v1', 'ftp://k.example.com/v1']) {
      expect(() => validateBaseUrl(bad, 'test'), bad).toThrow(UsageError);
    }
  });
});
