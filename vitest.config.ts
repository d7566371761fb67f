import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // End-to-end tests spawn processes and a sandbox each; two cores, so keep parallelism modest.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
