// Attack (suite review): with `isolate: false` a vitest worker now runs file after file in one process, and the suite
// branch runs most rotations in-process. keyrot's destinations (src/destinations/http.ts: GitHub, GitLab...) and its
// S3 state (src/state/s3-client.ts) send their requests through undici's GLOBAL dispatcher
// (src/providers/undici-core.ts request(): `dispatcher ?? getGlobalDispatcher()`), and undici/lib/global.js installs
// its own Agent under Symbol.for('undici.globalDispatcher.1') only if that slot is empty, the slot Node's built-in
// fetch fills too. In the product (bin/keyrot) nothing fetches first: those requests go through keyrot's undici 7.
// In a reused worker they go through whichever undici got there first: Node's own (undici 6), as soon as any
// earlier test in that worker called fetch() (the sandbox helpers do). What an in-process destination or S3 test
// exercises then depends on the order of files in the worker.
import { describe, expect, it } from 'vitest';
import { harness } from '../helpers/e2e.js';
import { inProcess } from '../helpers/in-process.js';

const GLOBAL = Symbol.for('undici.globalDispatcher.1');

describe('Attack: in-process keyrot depends on what the worker ran before', () => {
  it("Attack: after a test's fetch(), in-process keyrot's global-dispatcher requests still go through keyrot's own undici (as in bin/keyrot)", async () => {
    const h = await harness();
    // What an earlier test file in the same worker does (makeKey, authStatus, sandbox control calls).
    const res = await fetch(`${h.sandbox.url}/account`, { headers: { authorization: `Bearer ${h.sandbox.adminKey}` } });
    await res.arrayBuffer();
    const r = await inProcess(h, ['list-users', '--json']);
    expect(r.code, r.stderr).toBe(0);
    // Imported only now, as keyrot itself loads it lazily (on its first request).
    const { Agent } = await import('../../src/providers/undici-core.js');
    const global = (globalThis as Record<symbol, unknown>)[GLOBAL];
    expect(global instanceof Agent, `destinations and S3 requests go through ${(global as object)?.constructor?.name} from Node's own undici, not keyrot's`).toBe(true);
  });
});
