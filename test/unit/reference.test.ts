// docs/reference.md is generated from the command table and errors.ts: a flag, a default or an exit code added to
// the code without `npm run docs` fails here, so the docs never drift from the code.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, globalOptions } from '../../src/cli/program.js';
import { renderReference } from '../../src/cli/reference.js';
import { EXIT_CODE_NAMES, EXIT_CODE_TABLE, ExitCode } from '../../src/errors.js';

const DOCS = join(import.meta.dirname, '..', '..', 'docs', 'reference.md');

describe('docs/reference.md', () => {
  it('is what scripts/gen-reference.mjs writes from the code today (run npm run docs after changing a flag or an exit code)', () => {
    expect(readFileSync(DOCS, 'utf8')).toBe(renderReference());
  });

  // Independent of the generator: a bug that rewrites examples would pass the check above, which compares the file
  // with the generator's own output.
  it("shows each command's examples exactly as its command table (and keyrot help CMD) has them", () => {
    const text = readFileSync(DOCS, 'utf8');
    for (const spec of COMMANDS) {
      const section = text.split(new RegExp(`^### keyrot ${spec.name}\\b.*$`, 'm'))[1]?.split(/^##/m)[0] ?? '';
      const block = /```sh\n([\s\S]*?)\n```/.exec(section)?.[1];
      expect(block?.split('\n'), spec.name).toEqual(spec.examples);
    }
  });

  it('names every flag of every command, every global flag, and every exit code', () => {
    const text = renderReference();
    for (const spec of COMMANDS) {
      expect(text).toContain(`### keyrot ${spec.name}`);
      for (const o of spec.options) expect(text, `${spec.name} ${o.flags}`).toContain(`\`${o.flags}\``);
    }
    for (const o of globalOptions()) expect(text).toContain(`\`${o.flags}\``);
    for (const code of new Set(Object.values(ExitCode))) expect(text).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
  });

  it('has one row and one short name per distinct exit code', () => {
    const codes = [...new Set(Object.values(ExitCode))].sort((a, b) => a - b);
    expect(EXIT_CODE_TABLE.map(([code]) => code)).toEqual(codes);
    expect(
      Object.keys(EXIT_CODE_NAMES)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual(codes);
  });

  it('shows a default stated in a description (--wait-timeout) and one commander holds (audit --expiring-within)', () => {
    const text = renderReference();
    expect(text).toMatch(/\| `--wait-timeout <duration>` \| .* \| 10m \|/);
    expect(text).toMatch(/\| `--expiring-within <duration>` \| .* \| 30d \|/);
  });
});
