// Kubeadapt reach: every page of GET /clusters counts (current docs: paging in meta), and an unreadable 2xx fails.
import { afterEach, describe, expect, it } from 'vitest';
import { MockAgent } from 'undici';
import { RateLimiter } from '../../src/providers/http.js';
import { KubeadaptProvider } from '../../src/providers/kubeadapt/provider.js';

const ORIGIN = 'https://public-api.kubeadapt.io';
const OLD = `ka_live_${'A'.repeat(32)}`;
const NEW = `ka_live_${'B'.repeat(32)}`;
const agents: MockAgent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

function setup() {
  const agent = new MockAgent();
  agent.disableNetConnect();
  agents.push(agent);
  const sleep = async () => {};
  const provider = new KubeadaptProvider(
    { baseUrl: `${ORIGIN}/v1`, adminKey: OLD, dispatcher: agent, retry: { baseDelayMs: 1, maxAttempts: 1 } as never },
    { sleep, limiter: new RateLimiter({ limit: Infinity, now: () => 0, sleep }) },
  );
  return { pool: agent.get(ORIGIN), provider };
}

const envelope = (data: unknown, meta: Record<string, unknown> = {}) => ({ data, meta: { request_id: 'req_1', ...meta } });

describe('Kubeadapt cluster reach over pages', () => {
  it('reads every page of GET /clusters: a cluster on page 2 is part of what the key reaches (else a narrower allow-list passes)', async () => {
    const { pool, provider } = setup();
    // Current docs: "lists put their items in data and paging in meta".
    pool
      .intercept({ path: (p) => p.startsWith('/v1/clusters') && !/page=2|cursor=/.test(p), method: 'GET' })
      .reply(200, envelope([{ id: 'cl-a' }], { page: 1, per_page: 1, total: 2, total_pages: 2, has_more: true, next_cursor: 'c2' }))
      .persist();
    pool
      .intercept({ path: (p) => p.startsWith('/v1/clusters') && /page=2|cursor=/.test(p), method: 'GET' })
      .reply(200, envelope([{ id: 'cl-b' }], { page: 2, per_page: 1, total: 2, total_pages: 2, has_more: false }))
      .persist();
    pool
      .intercept({ path: (p) => !p.startsWith('/v1/clusters'), method: 'GET' })
      .reply(404, { data: null, meta: {}, error: { code: 'NOT_FOUND', message: 'Not found' } })
      .persist();
    const check = await provider.checkKey(OLD);
    expect(check.ok).toBe(true);
    // Either every page is read, or keyrot does not claim a reach it has not read.
    if (check.ok && check.reach) expect(check.reach).toContain('cl-b');
    else expect.fail('reach not read');
  });
});

describe('Kubeadapt: a 2xx it cannot read fails the check', () => {
  it('a 2xx whose /clusters body is an error envelope (data null, error set) is not proof of a valid key with nothing to compare', async () => {
    const { pool, provider } = setup();
    pool
      .intercept({ path: (p) => p.startsWith('/v1/clusters'), method: 'GET' })
      .reply(200, { data: null, meta: { request_id: 'r' }, error: { code: 'CLUSTER_ACCESS_DENIED', message: 'Cluster access denied' } })
      .persist();
    pool
      .intercept({ path: (p) => !p.startsWith('/v1/clusters'), method: 'GET' })
      .reply(404, { data: null, meta: {}, error: { code: 'NOT_FOUND', message: 'Not found' } })
      .persist();
    let outcome: unknown;
    try {
      outcome = await provider.checkKey(NEW);
    } catch (err) {
      outcome = err;
    }
    // Without a readable reach the comparison with the old key is silently skipped (verify-new.ts: `check.reach && old.reach`).
    expect(outcome).not.toEqual({ ok: true });
  });
});
