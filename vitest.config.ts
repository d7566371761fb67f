import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Two: every file shares one keychain, and Grafana's and Kubeadapt's sandboxes number their keys alike, so
    // files running at once can take each other's entries (seen with three workers: demo, kubeadapt-resume).
    maxWorkers: 2,
    minWorkers: 1,
    projects: [
      {
        extends: true,
        // Unit tests share a worker's process and module graph from file to file (about a second of CPU less per
        // file); helpers register their clean-ups through test/helpers/after-test.ts, which works either way.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], isolate: false },
      },
      {
        extends: true,
        // A fresh process per file: end-to-end files run keyrot's main() in-process (test/helpers/in-process.ts)
        // and use the keychain's native library, and a worker reused across such files was seen to crash.
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts', 'test/attack/**/*.test.ts'] },
      },
    ],
  },
});
