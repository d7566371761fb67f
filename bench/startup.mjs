// Start-up cost: whole-process wall time of `keyrot --version` and `keyrot --help` against a bare
// `node -e 0`, interleaved so machine noise hits all three alike. Median of N runs (default 21).
// Usage: npm run build && node bench/startup.mjs [runs]
import { fileURLToPath } from 'node:url';
import { fmt, median, timeRun } from './lib.mjs';

const runs = Number(process.argv[2] ?? 21);
const bin = fileURLToPath(new URL('../bin/keyrot', import.meta.url));
const cases = {
  'node -e 0': ['-e', '0'],
  'keyrot --version': [bin, '--version'],
  'keyrot --help': [bin, '--help'],
};
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
// One warm-up each (fills the compile cache, like any second run on a user's machine).
for (const args of Object.values(cases)) timeRun(process.execPath, args);
for (let i = 0; i < runs; i++) {
  for (const [name, args] of Object.entries(cases)) times[name].push(timeRun(process.execPath, args).ms);
}
const base = median(times['node -e 0']);
console.log(`node ${process.version}, ${runs} interleaved runs each, medians:`);
for (const [name, values] of Object.entries(times)) {
  const m = median(values);
  console.log(`  ${name.padEnd(18)} ${fmt(m).padStart(9)}   ${(m / base).toFixed(2)}x node`);
}
