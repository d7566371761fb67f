// A server that ignores the page parameter answers the same page for ever: keyrot says so on the first repeat (one
// line, exit 6), instead of asking a thousand times.
import { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { ProviderResponseError } from '../../src/errors.js';
import { validateDefinition } from '../../src/providers/rest/definition.js';
import { GRAFANA } from '../../src/providers/rest/definitions.js';
import { restFactory } from '../../src/providers/rest/provider.js';

const BASE = 'https://grafana.example.com';

function providerAnswering(page: (n: number) => unknown[]): { provider: ReturnType<ReturnType<typeof restFactory>['create']>; requests: () => number } {
  const agent = new MockAgent();
  agent.disableNetConnect();
  let requests = 0;
  // Grafana's search answer: {totalCount, serviceAccounts, page, perPage} (public/api-merged.json, SearchOrgServiceAccountsResult).
  agent
    .get(BASE)
    .intercept({ path: (p) => p.startsWith('/api/serviceaccounts/search'), method: 'GET' })
    .reply((opts) => {
      requests++;
      const n = Number(new URL(opts.path, BASE).searchParams.get('page'));
      return { statusCode: 200, data: JSON.stringify({ totalCount: 1000, serviceAccounts: page(n), page: n, perPage: 100 }), responseOptions: { headers: { 'content-type': 'application/json' } } };
    })
    .persist();
  const provider = restFactory(validateDefinition(GRAFANA, 'test')).create({
    baseUrl: BASE,
    adminKey: 'glsa_admin_0000000000000000',
    dispatcher: agent,
    logger: { debug: () => undefined },
    signal: new AbortController().signal,
  });
  return { provider, requests: () => requests };
}

const accounts = (from: number) => Array.from({ length: 100 }, (_, i) => ({ id: from + i, login: `sa-${from + i}`, name: `sa ${from + i}` }));

describe('REST paging', () => {
  it('the same full page again is an error on the second request, naming the page parameter', async () => {
    const { provider, requests } = providerAnswering(() => accounts(1));
    const err = await provider.listUsers().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderResponseError);
    expect((err as ProviderResponseError).exitCode).toBe(6);
    expect((err as Error).message).toBe('Grafana answered page 2 of the accounts with the same accounts as an earlier page (does it ignore "page"?); stopping to avoid a loop.');
    expect(requests()).toBe(2);
  });

  it('pages of new accounts are followed to the short last page', async () => {
    const { provider, requests } = providerAnswering((n) => (n < 3 ? accounts(n * 100) : accounts(300).slice(0, 5)));
    expect(await provider.listUsers()).toHaveLength(205);
    expect(requests()).toBe(3);
  });
});
