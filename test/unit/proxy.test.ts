// Which proxy a request goes through, by the environment: the rules curl follows (and undici's EnvHttpProxyAgent).
import { describe, expect, it } from 'vitest';
import { proxyFor, proxyLabel } from '../../src/providers/proxy.js';

const P = 'http://proxy.corp:3128';

describe('proxyFor', () => {
  it.each<[string, string, Record<string, string>, string | null]>([
    ['https target, HTTPS_PROXY', 'https://api.vultr.com/v2/users', { HTTPS_PROXY: P }, P],
    ['https target, lower-case wins', 'https://api.vultr.com/v2', { https_proxy: P, HTTPS_PROXY: 'http://other:1' }, P],
    ['https target ignores HTTP_PROXY', 'https://api.vultr.com/v2', { HTTP_PROXY: P }, null],
    ['http target, HTTP_PROXY', 'http://127.0.0.1:8080/v2', { HTTP_PROXY: P }, P],
    ['ALL_PROXY for either', 'https://api.vultr.com/v2', { ALL_PROXY: P }, P],
    ['a proxy without a scheme is http://', 'https://api.vultr.com/v2', { HTTPS_PROXY: 'proxy.corp:3128' }, P],
    ['NO_PROXY host', 'https://api.vultr.com/v2', { HTTPS_PROXY: P, NO_PROXY: 'api.vultr.com' }, null],
    ['NO_PROXY domain covers subdomains', 'https://api.vultr.com/v2', { HTTPS_PROXY: P, no_proxy: '.vultr.com' }, null],
    ['NO_PROXY does not cover a longer name', 'https://notvultr.com/v2', { HTTPS_PROXY: P, NO_PROXY: 'vultr.com' }, P],
    ['NO_PROXY *', 'https://api.vultr.com/v2', { HTTPS_PROXY: P, NO_PROXY: '*' }, null],
    ['NO_PROXY host:port, other port', 'https://api.vultr.com/v2', { HTTPS_PROXY: P, NO_PROXY: 'api.vultr.com:8443' }, P],
    ['NO_PROXY host:port, same port', 'https://api.vultr.com/v2', { HTTPS_PROXY: P, NO_PROXY: 'api.vultr.com:443' }, null],
    ['NO_PROXY with spaces and commas', 'http://localhost:9/x', { HTTP_PROXY: P, NO_PROXY: 'example.com, localhost' }, null],
    ['an empty variable is unset', 'https://api.vultr.com/v2', { HTTPS_PROXY: '  ' }, null],
  ])('%s', (_what, target, env, expected) => {
    expect(proxyFor(new URL(target), env)).toBe(expected);
  });

  it('shows a proxy without its credentials', () => {
    expect(proxyLabel('http://alice:s3cret@proxy.corp:3128')).toBe('http://proxy.corp:3128');
  });
});
