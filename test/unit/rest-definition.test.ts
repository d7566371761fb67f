// Declarative provider definitions: the built-in ones validate, and a definition that does not fit is refused with
// one line naming the field at fault (a user's --provider-file must never half-work).
import { describe, expect, it } from 'vitest';
import { validateDefinition } from '../../src/providers/rest/definition.js';
import { GRAFANA, EXAMPLE } from '../../src/providers/rest/definitions.js';
import { at } from '../../src/providers/rest/provider.js';
import { UsageError } from '../../src/errors.js';

const FILE = '/home/me/acme.json';

function refusal(change: (def: any) => void): string {
  const def = structuredClone(EXAMPLE) as any;
  change(def);
  try {
    validateDefinition(def, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('the definition was accepted');
}

describe('validateDefinition', () => {
  it('accepts the built-in definitions and fills in the defaults', () => {
    const grafana = validateDefinition(GRAFANA, 'grafana');
    expect(grafana.auth).toEqual({ header: 'Authorization', prefix: 'Bearer ' });
    expect(grafana.lastUsed).toEqual({ refreshSeconds: 300 });
    expect(grafana.keys.expire).toBeNull();
    const example = validateDefinition(EXAMPLE, 'example');
    expect(example.auth).toEqual({ header: 'X-Api-Key', prefix: '' });
    expect(example.keys.expire?.method).toBe('PATCH');
    expect(example.accounts.pages).toBeNull();
  });

  it.each([
    ['an id with spaces', (d: any) => Object.assign(d, { id: 'Bad Id' }), 'id: must be lower-case letters'],
    ['a missing field', (d: any) => delete d.probe, 'probe: must be an object'],
    ['a path without its placeholder', (d: any) => (d.keys.list = '/keys'), 'keys.list: must hold {account}'],
    ['an unknown placeholder in a path', (d: any) => (d.accounts.get = '/service-accounts/{id}'), 'accounts.get: {id} is not a placeholder here (expected {account})'],
    ['an unknown placeholder in a body', (d: any) => (d.keys.create.body.ttl = '{ttl}'), 'keys.create.body.ttl: unknown placeholder {ttl}'],
    ['a relative path', (d: any) => (d.probe.path = 'me'), 'probe.path: must be a path starting with "/"'],
    ['an unknown field', (d: any) => (d.keys.fields.prefix = 'prefix'), 'keys.fields.prefix: unknown field'],
    ['a field path with spaces', (d: any) => (d.keys.fields.id = 'the id'), 'keys.fields.id: must be a field path'],
    ['last use without its field', (d: any) => delete d.keys.fields.lastUsedAt, 'keys.fields.lastUsedAt: required when lastUsed is set'],
    ['a negative refresh', (d: any) => (d.lastUsed.refreshSeconds = -1), 'lastUsed.refreshSeconds: must be a number of seconds'],
    ['a bad environment variable', (d: any) => (d.adminKeyEnv = 'api key'), 'adminKeyEnv: must be an environment variable name'],
    ['an expire method', (d: any) => (d.keys.expire.method = 'DELETE'), 'keys.expire.method: must be PATCH, PUT or POST'],
    ['a bad id pattern', (d: any) => (d.accounts.idPattern = '(['), 'accounts.idPattern: is not a regular expression'],
    // Keys travel with every request: a path must not lead them to another host or above the base URL.
    ['a path naming another host by scheme', (d: any) => (d.identity.path = '/http://other-host/me'), 'identity.path: must be a path under the base URL'],
    ['a path naming another host by "//"', (d: any) => (d.probe.path = '//other-host/me'), 'probe.path: must be a path under the base URL'],
    ['a path naming another host by a backslash', (d: any) => (d.probe.path = '/\\other-host/me'), 'probe.path: must be a path under the base URL'],
    ['a path going up', (d: any) => (d.keys.create.path = '/service-accounts/{account}/../../../keys'), 'keys.create.path: must be a path under the base URL'],
    ['a path going up, encoded', (d: any) => (d.keys.revoke = '/%2e%2e/{account}/{key}'), 'keys.revoke: must be a path under the base URL'],
  ])('%s is refused, naming the field', (_what, change, expected) => {
    const message = refusal(change);
    expect(message.startsWith(`${FILE}: `)).toBe(true);
    expect(message).toContain(expected);
  });

  it('refuses what is not an object at all', () => {
    expect(() => validateDefinition([], FILE)).toThrow(`${FILE}: the definition: must be an object`);
  });
});

describe('field paths', () => {
  it.each([
    ['', { a: 1 }, { a: 1 }],
    ['a', { a: 1 }, 1],
    ['a.b', { a: { b: 'x' } }, 'x'],
    ['a.b', { a: [1] }, undefined],
    ['a', null, undefined],
  ])('%s of %j is %j', (path, value, expected) => {
    expect(at(value, path)).toEqual(expected);
  });
});
