// Writes docs/reference.md from the code (src/cli/reference.ts); `--check` exits 1 when the file differs instead.
import { build } from 'esbuild';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '..');
const target = join(root, 'docs', 'reference.md');
// Inside the clone (.tmp is ignored by git), so the bundle's imports of commander and undici resolve.
await mkdir(join(root, '.tmp'), { recursive: true });
const dir = await mkdtemp(join(root, '.tmp', 'reference-'));
try {
  const out = join(dir, 'reference.mjs');
  await build({ entryPoints: [join(root, 'src/cli/reference.ts')], bundle: true, platform: 'node', format: 'esm', outfile: out, packages: 'external', logLevel: 'error' });
  const { renderReference } = await import(pathToFileURL(out).href);
  const text = renderReference();
  if (process.argv.includes('--check')) {
    const current = await readFile(target, 'utf8').catch(() => '');
    if (current !== text) {
      process.stderr.write('docs/reference.md differs from the code: run npm run docs and commit it.\n');
      process.exitCode = 1;
    }
  } else {
    await writeFile(target, text);
    process.stderr.write(`wrote ${target}\n`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
