// An option of another command, given after a command, names the commands it belongs to: never "put it after the
// command", which the user already did ("keyrot list-keys --port 9": --port is after list-keys).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, pinnedXdg } from '../helpers/e2e.js';

const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...pinnedXdg() } });

describe('an option of another command', () => {
  it.each([[['list-keys', '--port', '9']], [['rotate', '--refresh', '5m']]])('keyrot %j: exit 2, and no advice to put it after the command it already follows', (args) => {
    const r = run(args);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/put it after the command/);
    expect(r.stderr).toMatch(new RegExp(`is an option of sandbox, not of ${args[0]}: e\\.g\\. keyrot sandbox ${args[1]} `));
  });
});
