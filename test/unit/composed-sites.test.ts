// composed() filters a whole string whose parts the compiler did not check: a provider value interpolated raw into
// such a string compiles, and its line breaks and look-alike colour codes survive the filter. Each remaining call is
// listed here with the reason it stays; a new one fails this test until it is built from DisplayText instead (or
// added here with its reason).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/** File → how many composed( calls it may hold. */
const ALLOWED: Record<string, number> = {
  // Commander's own usage message: its text, several lines ("(Did you mean …?)").
  'src/cli/program.ts': 1,
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('composed() call sites', () => {
  it('are exactly the listed ones: new output is built from DisplayText', () => {
    const root = join(import.meta.dirname, '..', '..');
    const found: Record<string, number> = {};
    for (const file of sources(join(root, 'src'))) {
      const name = relative(root, file).split('\\').join('/');
      // The definition itself (and its overloads) is not a call site.
      if (name === 'src/core/display-text.ts') continue;
      const count = readFileSync(file, 'utf8').match(/\bcomposed\(/g)?.length ?? 0;
      if (count) found[name] = count;
    }
    expect(found).toEqual(ALLOWED);
  });
});
