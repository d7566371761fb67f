// Runs in each test file (vitest.config.ts setupFiles), isolated or not, before the file's own imports.
import { afterEach } from 'vitest';
import { runAfterEachTest } from './helpers/after-test.js';

// A keychain of this worker's own: scripts/test.mjs starts one private keyring per worker (KEYROT_TEST_KEYRINGS), so
// files running at once never see each other's entries. The keyring library reads the bus address from the
// environment when it connects, and spawned keyrot processes inherit it (test/helpers/e2e.ts), so this must come
// before anything touches the keychain.
const keyrings = process.env.KEYROT_TEST_KEYRINGS;
if (keyrings) {
  const sessions = JSON.parse(keyrings) as Array<Record<string, string>>;
  const worker = Number(process.env.VITEST_POOL_ID);
  const own = sessions[worker - 1];
  if (!own)
    throw new Error(`worker ${process.env.VITEST_POOL_ID} has no keyring of its own (${sessions.length} started): vitest.config.ts must run as many workers as scripts/test.mjs starts keyrings.`);
  Object.assign(process.env, own);
}

// What bin/keyrot has: nothing fetches before keyrot, so its first request puts undici 7's Agent in the global
// dispatcher slot that its destinations and S3 state send through (src/providers/undici-core.ts). A worker serves
// file after file, and a test's fetch() before an in-process run would fill that slot with Node's own undici
// instead: set it first, the same in every worker whatever ran before (the tests' own fetch uses it too).
const { Agent, getGlobalDispatcher, setGlobalDispatcher } = await import('undici');
if (!(getGlobalDispatcher() instanceof Agent)) setGlobalDispatcher(new Agent());

afterEach(runAfterEachTest);
