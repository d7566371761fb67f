// NO_PROXY entries curl honours (curl >= 7.86 takes CIDR ranges; a trailing dot on the host is the same host), and proxy labels.
import { describe, expect, it } from 'vitest';
import { proxyFor, proxyLabel } from '../../src/providers/proxy.js';

const P = 'http://proxy.corp:3128';

describe('NO_PROXY like curl', () => {
  it.each<[string, string, Record<string, string>, string | null]>([
    ['CIDR range covers a loopback sandbox', 'http://127.0.0.1:8080/v2', { HTTP_PROXY: P, NO_PROXY: '127.0.0.0/8' }, null],
    ['IPv6 CIDR', 'http://[::1]:8080/v2', { HTTP_PROXY: P, NO_PROXY: '::1/128' }, null],
    ['a host with a trailing dot is the same host', 'https://api.vultr.com./v2', { HTTPS_PROXY: P, NO_PROXY: 'api.vultr.com' }, null],
    ['bare IPv6 in NO_PROXY', 'http://[::1]:8080/v2', { HTTP_PROXY: P, NO_PROXY: '::1' }, null],
  ])('%s', (_what, target, env, expected) => {
    expect(proxyFor(new URL(target), env)).toBe(expected);
  });

  it('names a socks5 proxy in --debug (not "null")', () => {
    expect(proxyLabel('socks5://alice:s3cret@proxy.corp:1080')).toBe('socks5://proxy.corp:1080');
  });
});
