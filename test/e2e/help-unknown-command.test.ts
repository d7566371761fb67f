// Attack (surface): "keyrot rotat --help" (a mistyped command) exits 0 with keyrot's root help, as if all were well;
// "keyrot help rotat" and "keyrot rotat" say Unknown command "rotat" (Did you mean rotate?) and exit 2.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN } from '../helpers/e2e.js';

const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' } });

describe('help for a command that does not exist', () => {
  it('keyrot rotat --help answers like keyrot help rotat: exit 2, Unknown command', () => {
    const viaHelp = run(['help', 'rotat']);
    expect(viaHelp.status).toBe(2);
    const r = run(['rotat', '--help']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: Unknown command "rotat"/);
  });
});
