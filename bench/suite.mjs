// What `npm test` costs: wall time and CPU (user + system of every process it waited for: tsc, Biome, the build,
// vitest, its workers, the keyrot processes they spawn, the keyrings), the vitest part alone from its JSON report,
// and the load average before and after, since a shared machine changes the wall figure. Linux only (it reads
// /proc/self/stat). Median of N runs (default 1: a run takes minutes).
// Usage: node bench/suite.mjs [runs] [-- test.mjs arguments, e.g. test/e2e/x.test.ts]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { median } from './lib.mjs';

const [runsArg, ...rest] = process.argv.slice(2);
const runs = Number(runsArg ?? 1) || 1;
const extra = rest[0] === '--' ? rest.slice(1) : rest;
const root = fileURLToPath(new URL('..', import.meta.url));
const TICKS = 100; // USER_HZ: /proc reports CPU times in 1/100 s on Linux.

/** CPU seconds of this process's waited-for descendants so far (cutime + cstime). */
function childrenCpu() {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  // After "pid (comm) ", field 3 is the state; cutime and cstime are fields 16 and 17.
  return (Number(fields[13]) + Number(fields[14])) / TICKS;
}

const rows = [];
for (let i = 0; i < runs; i++) {
  const load = loadavg()[0];
  const cpu0 = childrenCpu();
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['scripts/test.mjs', ...extra], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = childrenCpu() - cpu0;
  const report = JSON.parse(readFileSync(`${root}/.tmp/vitest-report.json`, 'utf8'));
  const vitest = (Math.max(...report.testResults.map((f) => f.endTime)) - report.startTime) / 1000;
  rows.push({ wall, cpu, vitest, tests: report.numPassedTests, failed: report.numFailedTests, load: [load, loadavg()[0]] });
  console.log(
    `run ${i + 1}: exit ${r.status}, ${report.numPassedTests} passed, ${report.numFailedTests} failed; npm test ${wall.toFixed(1)} s wall, ${cpu.toFixed(1)} s CPU; vitest ${vitest.toFixed(1)} s; load ${load.toFixed(2)} → ${loadavg()[0].toFixed(2)}`,
  );
}
if (runs > 1) {
  const m = (k) => median(rows.map((row) => row[k])).toFixed(1);
  console.log(`median of ${runs}: npm test ${m('wall')} s wall, ${m('cpu')} s CPU; vitest ${m('vitest')} s`);
}
