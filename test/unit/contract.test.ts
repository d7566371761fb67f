// The contract check itself: it must catch what breaks Vultr's OpenAPI document, or the e2e suite proves nothing.
import { describe, expect, it } from 'vitest';
import { OpenAPIBackend } from 'openapi-backend';
import { contractDocument, contractViolations, type ContractName } from '../helpers/contract.js';
import type { Exchange } from '../../src/sandbox/server.js';

const ok: Exchange = {
  method: 'GET',
  path: '/users',
  query: { per_page: '500' },
  requestBody: '',
  status: 200,
  responseBody: JSON.stringify({ users: [{ id: 'u1', email: 'a@example.com', status: true }], meta: { total: 1, links: { next: '', prev: '' } } }),
};

describe("contract check against Vultr's OpenAPI document", () => {
  it('passes a request and an answer the document allows (its flaws fixed in one place)', async () => {
    expect(await contractViolations(ok)).toEqual([]);
    expect(await contractViolations({ ...ok, path: '/users/u1', query: {}, responseBody: JSON.stringify({ user: { id: 'u1', email: 'a@example.com', status: 'active' } }) })).toEqual([]);
    expect(await contractViolations({ method: 'POST', path: '/users/u1/apikeys', query: {}, requestBody: JSON.stringify({ name: 'k', expire: false }), status: 202, responseBody: '' })).toEqual([]);
  });

  it.each<[string, Partial<Exchange>, RegExp]>([
    ['a query parameter of the wrong type', { query: { per_page: 'abc' } }, /request .*per_page/],
    ['a path the document does not have', { path: '/users/u1/keys' }, /no such operation/],
    ['a method the document does not have', { method: 'PUT', path: '/account' }, /no such operation/],
    [
      'a body field of the wrong type',
      { method: 'POST', path: '/users/u1/apikeys', query: {}, requestBody: JSON.stringify({ name: 'k', expire: 'yes' }), status: 202, responseBody: '' },
      /request .*expire/,
    ],
    ['an answer of the wrong shape', { responseBody: JSON.stringify({ users: 'none' }) }, /answer .*users/],
  ])('reports %s', async (_label, change, why) => {
    const problems = await contractViolations({ ...ok, ...change });
    expect(problems.join('\n')).toMatch(why);
  });

  it('does not judge answers a fault made wrong on purpose', async () => {
    expect(await contractViolations({ ...ok, responseBody: '{"users":"none"}', fault: 'status' })).toEqual([]);
  });
});

describe('the documents, their flaws fixed', () => {
  it.each<ContractName>(['vultr', 'grafana'])("%s: valid for OpenAPI 3.0's own schema (the e2e checks read them in quick mode, without this proof)", async (name) => {
    const api = new OpenAPIBackend({ definition: contractDocument(name) });
    await api.loadDocument();
    expect(() => api.validateDefinition()).not.toThrow();
  });
});
