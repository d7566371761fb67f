import { defineConfig } from 'vitest/config';

// One worker per private keyring when npm test started them (scripts/test.mjs: one each, test/setup.ts picks its own);
// otherwise two.
const keyrings = process.env.KEYROT_TEST_KEYRINGS ? (JSON.parse(process.env.KEYROT_TEST_KEYRINGS) as unknown[]).length : 2;

export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Files running at once must not share a keychain: Kubeadapt's account is "org" in every sandbox, and a
    // status --prune or a demo's clean-up in one file took another's entries when they shared one.
    maxWorkers: keyrings,
    minWorkers: keyrings,
    // A worker's process and module graph serve file after file (about 0.6 s of CPU less per file than a fresh
    // process each; the pool takes this from the root, not from a project). Helpers register their clean-ups
    // through test/helpers/after-test.ts, which works either way.
    isolate: false,
    include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/attack/**/*.test.ts'],
  },
});
