// The Grafana contract check itself: it must catch what breaks Grafana's own HTTP API document, or the Grafana e2e
// suite proves nothing about the requests keyrot sends and the answers its sandbox gives.
import { describe, expect, it } from 'vitest';
import type { Exchange } from '../../src/sandbox/server.js';
import { contractViolations } from '../helpers/contract.js';

const token = { id: 3, name: 'deploy-bot-v2', created: '2026-01-02T03:04:05Z', expiration: null, secondsUntilExpiration: 0, hasExpired: false, isRevoked: false, lastUsedAt: null };
const list: Exchange = { method: 'GET', path: '/api/serviceaccounts/2/tokens', query: {}, requestBody: '', status: 200, responseBody: JSON.stringify([token]) };

describe("contract check against Grafana's HTTP API document", () => {
  it('accepts what Grafana documents: token lists with null times, the create body and answer, paging, error bodies', async () => {
    expect(await contractViolations(list, 'grafana')).toEqual([]);
    const create: Exchange = {
      method: 'POST',
      path: '/api/serviceaccounts/2/tokens',
      query: {},
      requestBody: JSON.stringify({ name: 'k', secondsToLive: 60 }),
      status: 200,
      responseBody: JSON.stringify({ id: 4, name: 'k', key: 'glsa_x' }),
    };
    expect(await contractViolations(create, 'grafana')).toEqual([]);
    const search: Exchange = {
      method: 'GET',
      path: '/api/serviceaccounts/search',
      query: { page: '1', perpage: '100' },
      requestBody: '',
      status: 200,
      responseBody: JSON.stringify({ totalCount: 0, serviceAccounts: [], page: 1, perPage: 100 }),
    };
    expect(await contractViolations(search, 'grafana')).toEqual([]);
    expect(await contractViolations({ ...list, status: 401, responseBody: JSON.stringify({ message: 'Invalid API key' }) }, 'grafana')).toEqual([]);
  });

  it.each<[string, Partial<Exchange>]>([
    ['an endpoint Grafana does not have', { path: '/api/serviceaccounts/2/keys' }],
    ['a token list that is not a list', { responseBody: JSON.stringify({ tokens: [token] }) }],
    ['a lastUsedAt that is not a time', { responseBody: JSON.stringify([{ ...token, lastUsedAt: 'yesterday' }]) }],
    ['an id that is not a number', { responseBody: JSON.stringify([{ ...token, id: 'tok-3' }]) }],
    ['an error body without its message', { status: 403, responseBody: JSON.stringify({ error: 'forbidden' }) }],
    [
      'a create body with secondsToLive as text',
      { method: 'POST', requestBody: JSON.stringify({ name: 'k', secondsToLive: 'a week' }), responseBody: JSON.stringify({ id: 4, name: 'k', key: 'glsa_x' }) },
    ],
  ])('catches %s', async (_what, change) => {
    expect(await contractViolations({ ...list, ...change }, 'grafana')).not.toEqual([]);
  });
});
