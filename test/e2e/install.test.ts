// keyrot as a package: `npm pack` builds it first (prepack), and the packed tarball installs and runs.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/e2e.js';

describe('the packed package', () => {
  it('npm pack ships a built keyrot: installed from the tarball, keyrot --version and a command work', { timeout: 120_000 }, () => {
    const work = mkdtempSync(join(tmpdir(), 'keyrot-pack-'));
    try {
      // Packed from a copy, so its prepack build never swaps dist/ under the other tests' running keyrot.
      const copy = join(work, 'src');
      for (const part of ['package.json', 'package-lock.json', 'bin', 'scripts', 'src', 'tsconfig.json', 'README.md']) cpSync(join(ROOT, part), join(copy, part), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
      const pack = spawnSync('npm', ['pack', '--pack-destination', work, '--loglevel=error'], { cwd: copy, encoding: 'utf8' });
      expect(pack.status, pack.stderr).toBe(0);
      const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
      const install = spawnSync('npm', ['install', '--prefix', join(work, 'prefix'), '--no-audit', '--no-fund', '--loglevel=error', join(work, tgz)], { encoding: 'utf8' });
      expect(install.status, install.stderr).toBe(0);
      const version = spawnSync(join(work, 'prefix', 'node_modules', '.bin', 'keyrot'), ['--version'], { encoding: 'utf8' });
      expect(version.status, version.stderr).toBe(0);
      expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
      // --version never loads the bundle (bin/keyrot answers it alone): a command does, twice, the second time
      // through the code cache the first one wrote (bin/code-cache.js).
      for (const _run of [1, 2]) {
        const help = spawnSync(join(work, 'prefix', 'node_modules', '.bin', 'keyrot'), ['help', 'rotate'], { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: join(work, 'cache') } });
        expect(help.status, help.stderr).toBe(0);
        expect(help.stdout).toMatch(/^Usage: keyrot rotate/);
      }
      expect(readdirSync(join(work, 'cache', 'keyrot')).filter((f) => f.endsWith('-help.v8'))).toHaveLength(1);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('run from a clone that was never built: one clear line, exit 2, no stack trace', () => {
    const clone = mkdtempSync(join(tmpdir(), 'keyrot-unbuilt-'));
    try {
      cpSync(join(ROOT, 'bin'), join(clone, 'bin'), { recursive: true });
      const r = spawnSync(process.execPath, [join(clone, 'bin', 'keyrot'), '--version'], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/not built: run "npm run build"/);
    } finally {
      rmSync(clone, { recursive: true, force: true });
    }
  });
});
