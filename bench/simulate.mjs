// The long simulation run: N seeded schedules of test/sim/engine-sim.ts against the real engine (bundled from the
// sources with esbuild). Prints the count, how the runs ended, and every violation with the seed that replays it.
// Usage: node bench/simulate.mjs [--runs 100000] [--from 1]      one schedule: node bench/simulate.mjs --seed S
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const arg = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const runs = arg('--runs', 100_000);
const from = arg('--from', 1);
const only = arg('--seed', undefined);

mkdirSync('.tmp', { recursive: true });
const outfile = resolve('.tmp/engine-sim.mjs');
await build({ entryPoints: ['test/sim/engine-sim.ts'], bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'error', packages: 'external' });
const { runSchedule, scheduleArb } = await import(pathToFileURL(outfile).href);
const fc = (await import('fast-check')).default;

/** Schedule number `seed`: the one fast-check draws first from that seed. The same seed replays it exactly. */
const scheduleOf = (seed) => fc.sample(scheduleArb, { seed, numRuns: 1 })[0];

if (only !== undefined) {
  const schedule = scheduleOf(only);
  console.log(JSON.stringify(schedule));
  console.log(JSON.stringify(await runSchedule(schedule), null, 2));
  process.exit(0);
}

const started = Date.now();
const ends = { done: 0, aborted: 0, open: 0 };
let failed = 0;
let steps = 0;
for (let seed = from; seed < from + runs; seed++) {
  const outcome = await runSchedule(scheduleOf(seed));
  ends[outcome.end]++;
  steps += outcome.steps;
  if (outcome.violations.length) {
    failed++;
    if (failed <= 20) console.log(`seed ${seed}: ${outcome.violations.join(' | ')}  (replay: node bench/simulate.mjs --seed ${seed})`);
  }
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(
  `${runs} schedules (seeds ${from}..${from + runs - 1}) in ${seconds} s, ${steps} engine steps: ${ends.done} done, ${ends.aborted} rolled back, ${ends.open} open; ${failed} with violations`,
);
process.exitCode = failed ? 1 : 0;
