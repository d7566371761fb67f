// The other Node majors keyrot supports (package.json engines: >= 20.18; users run 20, 22 and 24), for
// test/e2e/node-versions.test.ts. Each comes from the npm registry: the `node-<platform>-<arch>` package holds
// Node's official binary (it is what the `node` package installs), and `npm pack` fetches it without installing or
// running anything. Kept in .tmp/nodes/ between runs: about 50 MB each, fetched once.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const OTHER_MAJORS = ['20', '22', '24'].filter((major) => `v${major}` !== process.version.split('.')[0]);

/** Paths of the other majors' node binaries, fetched where missing; throws with one line when one cannot be had. */
export function otherNodes(dir = resolve('.tmp/nodes')) {
  const platform = { linux: 'linux', darwin: 'darwin' }[process.platform];
  if (!platform) throw new Error(`no Node binaries on the npm registry for ${process.platform}`);
  mkdirSync(dir, { recursive: true });
  return OTHER_MAJORS.map((major) => {
    const bin = join(dir, major, 'bin', 'node');
    if (existsSync(bin)) return bin;
    const pkg = `node-${platform}-${process.arch}@${major}`;
    const packed = spawnSync('npm', ['pack', pkg, '--pack-destination', dir, '--silent'], { encoding: 'utf8' });
    const tarball = packed.stdout.trim().split('\n').pop();
    if (packed.status !== 0 || !tarball) throw new Error(`npm pack ${pkg} failed: ${(packed.stderr || packed.stdout).trim().split('\n').pop()}`);
    const unpacked = join(dir, `${major}.tmp`);
    rmSync(unpacked, { recursive: true, force: true });
    mkdirSync(unpacked);
    const tar = spawnSync('tar', ['xzf', join(dir, tarball), '-C', unpacked, '--strip-components=1'], { encoding: 'utf8' });
    rmSync(join(dir, tarball), { force: true });
    if (tar.status !== 0) throw new Error(`unpacking ${tarball} failed: ${tar.stderr.trim()}`);
    // Renamed into place whole, so an interrupted fetch never looks like a usable Node.
    renameSync(unpacked, join(dir, major));
    if (!existsSync(bin)) throw new Error(`${pkg} has no bin/node (it holds ${readdirSync(join(dir, major)).join(', ')})`);
    return bin;
  });
}
