// --help and --version where the rest of the command line decides the answer: a mistyped command with --help is an
// unknown command (it once printed keyrot's root help with exit 0), combined flags answer as commander answers the
// separate ones, and --version is the version the build was made from, by either path (bin/keyrot's quick answer,
// or the bundle when other flags come with it).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, pinnedXdg } from '../helpers/e2e.js';

const run = (args: string[], bin = BIN) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...pinnedXdg() } });
const packageVersion = () => JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;

describe('help for a command that does not exist', () => {
  it('keyrot rotat --help answers like keyrot help rotat: exit 2, Unknown command', () => {
    const viaHelp = run(['help', 'rotat']);
    expect(viaHelp.status).toBe(2);
    const r = run(['rotat', '--help']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: Unknown command "rotat"/);
    expect(r.stderr).toBe(viaHelp.stderr);
    expect(r.stdout).toBe('');
  });

  it.each([[['nosuch', '-h']], [['--json', 'rotat', '--help']]])('keyrot %j: exit 2, Unknown command, no help', (args) => {
    const r = run(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: Unknown command "(nosuch|rotat)"/);
    expect(r.stdout).not.toMatch(/Usage:/);
  });
});

describe('--help with --version', () => {
  it.each([[['--help', '--version']], [['--version', '--help']], [['-hV']], [['-Vh']]])('keyrot %j prints the version, exit 0, as commander does', (args) => {
    const r = run(args);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${packageVersion()}\n`);
    expect(r.stderr).toBe('');
  });
});

describe('--version', () => {
  it('is the version the build was made from, not package.json as it is now', () => {
    // bin/keyrot beside its dist/ in a folder whose package.json says another version, as a checkout moved past an
    // older build would.
    const dir = mkdtempSync(join(tmpdir(), 'keyrot-version-'));
    try {
      mkdirSync(join(dir, 'bin'));
      mkdirSync(join(dir, 'dist'));
      copyFileSync(BIN, join(dir, 'bin', 'keyrot'));
      // bin/ says its files are CommonJS, as the package ships it.
      copyFileSync(join(ROOT, 'bin', 'package.json'), join(dir, 'bin', 'package.json'));
      copyFileSync(join(ROOT, 'dist', 'version.txt'), join(dir, 'dist', 'version.txt'));
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'keyrot', version: '99.0.0-moved-on', type: 'module' }));
      const r = run(['--version'], join(dir, 'bin', 'keyrot'));
      expect(r.stdout).toBe(`${packageVersion()}\n`);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is the same by the quick path and by the bundle', () => {
    expect(run(['--version']).stdout).toBe(run(['--version', '--no-color']).stdout);
  });
});
