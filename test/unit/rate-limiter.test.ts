// The shared request pace: at once while the window has room, never more than Vultr's limit in any window, a 429 that every request waits out together, a slowdown that
// recovers. All on a fake clock: timers fire in order of their due time, never on the wall clock.
import { describe, expect, it } from 'vitest';
import { MockAgent } from 'undici';
import { HttpClient, MAX_THROTTLED_MS, RateLimiter, ThrottledTooLongError, rateLimiterFor, type RequestTicket } from '../../src/providers/http.js';
import { CancelledError, ProviderUnavailableError } from '../../src/errors.js';

/** A clock that moves only when every pending promise has settled and the next timer is due. */
class FakeClock {
  t = 0;
  readonly #timers: Array<{ at: number; seq: number; resolve: () => void }> = [];
  #seq = 0;
  now = (): number => this.t;
  sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = { at: this.t + ms, seq: this.#seq++, resolve };
      this.#timers.push(timer);
      signal?.addEventListener('abort', () => {
        this.#timers.splice(this.#timers.indexOf(timer), 1);
        reject(new Error('aborted'));
      });
    });

  /** Runs timers in order until none is left (or `until` is reached). */
  async run(until = Infinity): Promise<void> {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers[0];
      if (!next || next.at > until) return;
      this.#timers.shift();
      this.t = Math.max(this.t, next.at);
      next.resolve();
    }
  }
}

/**
 * Starts `n` requests at once; each is answered `latencyMs` after it starts. Resolves with each one's start time, in the
 * order they were asked for.
 */
async function startTimes(clock: FakeClock, limiter: RateLimiter, n: number, latencyMs = 0): Promise<number[]> {
  const starts = Array.from({ length: n }, async () => {
    const ticket = await limiter.acquire();
    if (latencyMs === 0) ticket.release();
    else void clock.sleep(latencyMs).then(() => ticket.release());
    return ticket.startedAt;
  });
  await clock.run();
  return Promise.all(starts);
}

/** The most starts in any window of `windowMs` (a start at exactly t + windowMs is outside t's window). */
function busiestWindow(starts: number[], windowMs = 1000): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j < sorted.length && (sorted[j] ?? 0) < (sorted[i] ?? 0) + windowMs) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

const rate = (starts: number[]) => (starts.length - 1) / (((starts.at(-1) ?? 0) - (starts[0] ?? 0)) / 1000);

describe('RateLimiter', () => {
  it('starts requests at once while the window has room: 300 at once start 30 a second, in order, never more in any second', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    const starts = await startTimes(clock, limiter, 300);
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    expect(busiestWindow(starts)).toBe(30);
    // The first 30 go at once (no spacing of their own), each next 30 as the window frees.
    expect(starts.slice(0, 30)).toEqual(Array(30).fill(0));
    expect(starts[30]).toBe(1000);
    expect(starts.at(-1)).toBe(9000);
  });

  it('a rotation of 10 sequential requests, each answered in 5 ms, never waits on the limiter', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    for (let i = 0; i < 10; i++) {
      const asked = clock.t;
      const ticket = await limiter.acquire();
      expect(ticket.startedAt).toBe(asked);
      clock.t += 5;
      ticket.release();
    }
  });

  it('counts a request in the window until a second after its answer: arrivals never exceed the limit, whatever the round trip', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    const starts = await startTimes(clock, limiter, 300, 50);
    // Wherever in [start, answer] the provider saw each request, no window of it holds more than 30.
    expect(busiestWindow(starts.map((t) => t + 50))).toBeLessThanOrEqual(30);
    expect(busiestWindow(starts)).toBeLessThanOrEqual(30);
    for (let k = 30; k < starts.length; k++) expect((starts[k] ?? 0) - (starts[k - 30] ?? 0)).toBeGreaterThanOrEqual(1050 - 1e-9);
    expect(rate(starts)).toBeGreaterThan(0.99 * (30 / 1.05));
  });

  it('30 requests still unanswered hold the 31st until an answer comes', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    const acquiring = Promise.all(Array.from({ length: 30 }, () => limiter.acquire()));
    await clock.run();
    const tickets = await acquiring;
    let started = false;
    const next = limiter.acquire().then((t) => {
      started = true;
      return t;
    });
    await clock.run();
    clock.t = 60_000; // a minute without an answer
    await clock.run();
    expect(started).toBe(false);
    tickets[0]?.release();
    await clock.run();
    // The answer counts for a window more: the provider may have seen that request only now.
    expect((await next).startedAt).toBe(61_000);
  });

  it('lets a request through at once when nothing else is running', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    clock.t = 5_000;
    (await limiter.acquire()).release();
    clock.t = 9_000;
    expect((await limiter.acquire()).startedAt).toBe(9_000);
  });

  it('a 429 makes every request, queued or new, wait out Retry-After together', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    // A full window: 30 requests under way, 10 more queued behind them.
    const inFlight = await Promise.all(Array.from({ length: 30 }, () => limiter.acquire()));
    const queued = Array.from({ length: 10 }, () => limiter.acquire().then((t) => (t.release(), t.startedAt)));
    await clock.run(100);
    const pausedAt = clock.t;
    limiter.throttled(2_000, inFlight[0]!);
    for (const ticket of inFlight) ticket.release();
    const later = Array.from({ length: 5 }, () => limiter.acquire().then((t) => (t.release(), t.startedAt)));
    await clock.run();
    const starts = [...(await Promise.all(queued)), ...(await Promise.all(later))];
    expect(starts.filter((t) => t < pausedAt + 2_000)).toEqual([]);
  });

  it('slows down after a 429, and recovers to the full pace once the provider stays quiet', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    expect(limiter.perSecond).toBeCloseTo(30, 5);
    const ticket = await limiter.acquire();
    limiter.throttled(1_000, ticket);
    ticket.release();
    expect(limiter.perSecond).toBeCloseTo(30 / 1.25, 5);
    const slow = await startTimes(clock, limiter, 20);
    expect((slow[1] ?? 0) - (slow[0] ?? 0)).toBeCloseTo(1000 / (30 / 1.25), 5);
    // Each quiet 2 s halve the slowdown: 10 s later the pace is back within 1% of the full one.
    clock.t += 10_000;
    const recovered = await startTimes(clock, limiter, 40);
    expect(limiter.perSecond).toBeGreaterThan(0.99 * 30);
    expect(busiestWindow(recovered)).toBeLessThanOrEqual(30);
  });

  it('answers to requests sent before the slowdown do not slow it again (one burst of 429s is one slowdown)', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    const sending = Promise.all(Array.from({ length: 5 }, () => limiter.acquire()));
    await clock.run();
    const sent = await sending;
    for (const ticket of sent) limiter.throttled(1_000, ticket);
    expect(limiter.perSecond).toBeCloseTo(30 / 1.25, 5);
    // A request sent after that slowdown and refused too: the pace is still too fast for the provider.
    const after = limiter.acquire();
    await clock.run();
    limiter.throttled(1_000, await after);
    expect(limiter.perSecond).toBeCloseTo(30 / 1.25 / 1.25, 5);
  });

  it('never slows below a quarter of the limit, however many 429s', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    for (let i = 0; i < 50; i++) limiter.throttled(0, { startedAt: clock.t++, release: () => undefined });
    expect(limiter.perSecond).toBeCloseTo(30 / 4, 5);
  });

  it('stops waiting when cancelled, and the request behind takes its place', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    const controller = new AbortController();
    // A full window (30 answered at 0): the next requests wait for room, at 1000.
    for (let i = 0; i < 30; i++) (await limiter.acquire(controller.signal)).release();
    const waiting = limiter.acquire(controller.signal);
    const behind = limiter.acquire();
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(CancelledError);
    await expect(limiter.acquire(controller.signal)).rejects.toBeInstanceOf(CancelledError);
    await clock.run();
    expect((await behind).startedAt).toBe(1000);
  });

  it('an urgent request (a clean-up after a cancel) goes ahead of every waiting one and is not held by a Retry-After pause', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    const first = await limiter.acquire();
    limiter.throttled(20_000, first);
    first.release();
    const queued = Array.from({ length: 5 }, () => limiter.acquire().then((t) => (t.release(), t.startedAt)));
    clock.t = 2_000;
    const urgent = limiter.acquire(undefined, true).then((t) => (t.release(), t.startedAt));
    await clock.run();
    expect(await urgent).toBe(2_000);
    expect(Math.min(...(await Promise.all(queued)))).toBeGreaterThanOrEqual(20_000);
  });

  it('urgent requests still count in the window: even they never make more than the limit in one second', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    const starts = await Promise.all(Array.from({ length: 90 }, () => limiter.acquire(undefined, true).then((t) => (t.release(), t.startedAt))).concat([clock.run().then(() => -1)]));
    expect(busiestWindow(starts.filter((t) => t >= 0))).toBe(30);
  });

  it('a provider that answers only 429 for two minutes: every waiting and later request fails, clean-ups excepted', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    let failed: unknown;
    // Requests one after another, each refused with a 20 s Retry-After, as an IP throttled for an hour is.
    for (;;) {
      const ticket = limiter.acquire().catch((err: unknown) => (failed = err));
      await clock.run();
      const got = await ticket;
      if (failed) break;
      limiter.throttled(20_000, got as RequestTicket);
      (got as RequestTicket).release();
    }
    expect(failed).toBeInstanceOf(ThrottledTooLongError);
    expect(clock.t).toBeGreaterThanOrEqual(MAX_THROTTLED_MS);
    expect(clock.t).toBeLessThan(MAX_THROTTLED_MS + 20_000);
    await expect(limiter.acquire()).rejects.toBeInstanceOf(ThrottledTooLongError);
    const urgent = limiter.acquire(undefined, true);
    await clock.run();
    expect((await urgent).startedAt).toBe(clock.t);
  });

  it('any other answer ends a run of 429s: a provider that lets some requests through is waited on as long as it takes', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    for (let i = 0; i < 20; i++) {
      const ticket = limiter.acquire();
      await clock.run();
      const got = await ticket;
      if (i % 3 === 2) limiter.answered();
      else limiter.throttled(20_000, got);
      got.release();
    }
    expect(clock.t).toBeGreaterThan(2 * MAX_THROTTLED_MS);
  });

  it('one limiter per API: every client of this process talking to the same origin shares it', () => {
    expect(rateLimiterFor('https://api.vultr.com')).toBe(rateLimiterFor('https://api.vultr.com'));
    expect(rateLimiterFor('https://api.vultr.com')).not.toBe(rateLimiterFor('http://127.0.0.1:8080'));
  });
});

describe('HttpClient and the shared limiter', () => {
  it("a 429 to one client holds back another client's requests until its Retry-After has passed", async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ limit: Infinity, now: clock.now, sleep: clock.sleep });
    const agent = new MockAgent();
    agent.disableNetConnect();
    const pool = agent.get('https://api.vultr.com');
    const seen: Array<{ path: string; at: number }> = [];
    pool.intercept({ path: '/v2/users' }).reply(() => {
      seen.push({ path: '/users', at: clock.t });
      return { statusCode: 429, data: '', responseOptions: { headers: { 'retry-after': '3' } } };
    });
    pool.intercept({ path: '/v2/users' }).reply(() => {
      seen.push({ path: '/users', at: clock.t });
      return { statusCode: 200, data: { users: [] } };
    });
    pool.intercept({ path: '/v2/account' }).reply(() => {
      seen.push({ path: '/account', at: clock.t });
      return { statusCode: 200, data: { account: {} } };
    });
    const client = (token: string) => new HttpClient({ baseUrl: 'https://api.vultr.com/v2', token, serviceName: 'Vultr', dispatcher: agent, limiter, now: clock.now });
    const users = client('ADMINKEYADMINKEY').request('GET', '/users');
    while (seen.length === 0) await new Promise((r) => setImmediate(r));
    const account = client('USERKEYUSERKEY').request('GET', '/account');
    await clock.run();
    await Promise.all([users, account]);
    expect(seen).toEqual([
      { path: '/users', at: 0 },
      { path: '/users', at: 3_000 },
      { path: '/account', at: expect.any(Number) },
    ]);
    expect(seen[2]?.at).toBeGreaterThanOrEqual(3_000);
    await agent.close();
  });

  it('a provider answering only 429: requests fail with ProviderUnavailableError after the bound, not after hours', async () => {
    const clock = new FakeClock();
    const limiter = new RateLimiter({ now: clock.now, sleep: clock.sleep });
    const agent = new MockAgent();
    agent.disableNetConnect();
    agent
      .get('https://api.vultr.com')
      .intercept({ path: /^\/v2\/users\/u\d+\/apikeys$/, method: 'POST' })
      .reply(429, '', { headers: { 'retry-after': '3600' } })
      .persist();
    const client = new HttpClient({
      baseUrl: 'https://api.vultr.com/v2',
      token: 'ADMINKEYADMINKEY',
      serviceName: 'Vultr',
      dispatcher: agent,
      limiter,
      now: clock.now,
      sleep: clock.sleep,
      retry: { attempts: 1_000 },
    });
    const creates = Array.from({ length: 6 }, (_, i) => client.request('POST', `/users/u${i}/apikeys`, { json: {}, what: 'create a key' }).catch((err: unknown) => err));
    while (clock.t < 10 * MAX_THROTTLED_MS) {
      await clock.run(clock.t + 1_000);
      clock.t += 1_000;
      if ((await Promise.race([Promise.all(creates), new Promise((r) => setImmediate(() => r(null)))])) !== null) break;
    }
    const errors = await Promise.all(creates);
    expect(clock.t).toBeLessThan(MAX_THROTTLED_MS + 25_000);
    for (const err of errors) {
      expect(err).toBeInstanceOf(ProviderUnavailableError);
      expect((err as Error).message).toMatch(/^Vultr did not create a key: it has answered only 429 \(too many requests\) for \d+ s, so keyrot stopped waiting\.$/);
    }
    await agent.close();
  });
});
