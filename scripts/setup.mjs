// Makes a fresh clone runnable: installs dependencies when node_modules is missing or older than the lock
// file, then builds dist/. Used by `npm run demo` and `npm test`, so each works as the first command.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

export function setup() {
  const lock = 'package-lock.json';
  const marker = 'node_modules/.package-lock.json';
  if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
    step('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
  }
  step('node', ['scripts/build.mjs']);
}

function step(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (import.meta.url === `file://${process.argv[1]}`) setup();
