// Shared helpers for the benchmark scripts: wall time of whole processes, medians, a table.
import { spawnSync } from 'node:child_process';

export function timeRun(cmd, args, options = {}) {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function fmt(ms) {
  return `${ms.toFixed(1)} ms`;
}
