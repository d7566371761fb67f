// The lock takeover race at length: the unit test "of concurrent takeovers of a dead lock, exactly one wins"
// (test/unit/journal.test.ts) with many more rounds than npm test gives it. Each round, three acquirers find the same
// dead owner's lock at once; exactly one may win. Prints vitest's result and the time it took.
// Usage: node bench/locks.mjs [rounds]   (default 5000; npm test runs 250)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const rounds = Number(process.argv[2] ?? 5000);
const root = fileURLToPath(new URL('..', import.meta.url));
const start = process.hrtime.bigint();
const r = spawnSync('npx', ['vitest', 'run', 'test/unit/journal.test.ts', '-t', 'of concurrent takeovers of a dead lock'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, KEYROT_LOCK_ROUNDS: String(rounds) },
});
console.log(`${rounds} rounds of three concurrent takeovers: ${r.status === 0 ? 'exactly one won every round' : 'FAILED'}, ${(Number(process.hrtime.bigint() - start) / 1e9).toFixed(1)} s`);
process.exit(r.status ?? 1);
