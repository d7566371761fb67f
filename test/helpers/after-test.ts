// Clean-ups and checks that helper modules register once, run after every test of every file (last registered,
// first run, like vitest's own hooks). Not vitest's afterEach at a helper's top level: without isolation
// (vitest.config.ts) a worker loads a helper module once for all its files, and a top-level afterEach would reach
// only the first file's tests. test/setup.ts registers the one afterEach in each file.
const hooks: Array<() => Promise<void>> = [];

export function afterEachTest(hook: () => Promise<void>): void {
  hooks.push(hook);
}

/** Runs every hook even when one fails (a failed contract check must not leave a sandbox running); then fails. */
export async function runAfterEachTest(): Promise<void> {
  const errors: unknown[] = [];
  for (const hook of [...hooks].reverse()) await hook().catch((err: unknown) => errors.push(err));
  if (errors.length) throw errors[0];
}
