// Attack (suite review): test/helpers/in-process.ts runs keyrot's main() with `env` built from h.env, as h.run gives a
// spawned keyrot, and the suite branch moves many rotations onto it. But src/providers/http.ts picks its proxy from
// process.env (PROXY_VARIABLES / ProxyRouter(process.env)), not from deps.env: in-process, keyrot sees the TEST
// RUNNER's proxy variables and not the test's. A developer or CI runner with HTTP_PROXY set (common behind a corporate
// proxy) sends the sandbox's requests through it; a test giving { HTTPS_PROXY: ... } in opts.env proves nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

const saved = process.env.HTTP_PROXY;
afterEach(() => {
  if (saved === undefined) delete process.env.HTTP_PROXY;
  else process.env.HTTP_PROXY = saved;
});

describe('Attack: in-process runs are not hermetic', () => {
  it('Attack: inProcess(h, args) behaves as h.run(args) when the test runner itself has a proxy variable set', async () => {
    const h = await harness();
    // The runner's own environment (a developer's shell, a CI image): a proxy that is not there.
    process.env.HTTP_PROXY = 'http://127.0.0.1:9';
    const spawned = await h.run(['list-users', '--json']);
    expect(spawned.code, spawned.stderr).toBe(0);
    const inside = await inProcess(h, ['list-users', '--json']);
    expect({ code: inside.code, stderr: inside.stderr }).toEqual({ code: spawned.code, stderr: spawned.stderr });
  });
});
