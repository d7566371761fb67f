import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// One worker per private keyring when npm test started them (scripts/test.mjs: one each, test/setup.ts picks its own);
// otherwise two.
const keyrings = process.env.KEYROT_TEST_KEYRINGS ? (JSON.parse(process.env.KEYROT_TEST_KEYRINGS) as unknown[]).length : 2;

// Files that mostly wait (sandboxes' pauses, kill points, a Ceph start, shells) and take long: started first, so
// they wait while the other workers compute instead of being the last to end. vitest's own order follows (the last
// run's durations, or without them, larger files first, as in a fresh clone).
const WAITING = ['kubeadapt', 'grafana', 's3-inflight-create-after-takeover', 's3-state', 'example-platform', 'completion', 'install'];
class WaitingFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = WAITING.findIndex((name) => f.moduleId.endsWith(`/test/e2e/${name}.test.ts`));
      return i === -1 ? WAITING.length : i;
    };
    const sorted = await super.sort(files);
    return sorted
      .map((f, i) => ({ f, i }))
      .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
      .map(({ f }) => f);
  }
}

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
    sequence: { sequencer: WaitingFirst },
    include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/attack/**/*.test.ts'],
  },
});
