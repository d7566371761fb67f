import { describe, expect, it } from 'vitest';
import { parseProfiles, validateProfileName } from '../../src/core/profiles.js';
import { UsageError } from '../../src/errors.js';

const FILE = '/home/u/.config/keyrot/config';

describe('parseProfiles', () => {
  it('reads sections, settings, comments and blank lines', () => {
    const profiles = parseProfiles(
      ['# accounts', '', '[default]', 'api-url = https://api.vultr.com/v2', '; staging', '[staging]', 'provider=vultr', '  api-url =  http://127.0.0.1:8080/v2  '].join('\n'),
      FILE,
    );
    expect([...profiles.keys()]).toEqual(['default', 'staging']);
    expect(profiles.get('staging')).toEqual({ name: 'staging', line: 6, provider: 'vultr', apiUrl: 'http://127.0.0.1:8080/v2', lines: { provider: 7, apiUrl: 8 } });
    expect(parseProfiles('', FILE).size).toBe(0);
  });

  it.each([
    ['api-url = x', 1, /comes before any \[profile\]/],
    ['[a]\napi_url = x', 2, /unknown setting "api_url" \(expected api-url, provider, provider-file or state-dir\)/],
    ['[a]\napi-url = x\napi-url = y', 3, /set twice in \[a\]/],
    ['[a]\n[a]', 2, /defined twice \(first at line 1\)/],
    ['[bad name]', 1, /not a profile name/],
    ['[a]\njust words', 2, /expected \[profile\] or "setting = value"/],
    ['[a]\nprovider =', 2, /has no value/],
    ['[a]\nprovider = grafana\nprovider-file = ./acme.json', 3, /\[a\] sets both provider and provider-file: pick one/],
  ])('%j → an error naming the file and line %i', (text, line, why) => {
    let error: unknown;
    try {
      parseProfiles(text, FILE);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(new RegExp(`^${FILE.replace(/[.]/g, '\\.')}:${line}: `));
    expect((error as Error).message).toMatch(why);
  });

  it('profile names from flags are checked the same way', () => {
    expect(validateProfileName('staging-2', '--profile')).toBe('staging-2');
    expect(() => validateProfileName('../etc', '--profile')).toThrow(/--profile: "..\/etc" is not a profile name/);
  });
});
