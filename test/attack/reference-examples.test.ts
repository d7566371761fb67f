// Attack (surface): docs/reference.md's examples are each command's examples as `keyrot help CMD` shows them. The
// generator (src/cli/reference.ts) overwrites every example's first six characters with "keyrot", so examples that
// start with printf, export or eval come out as `keyrot %s "$KEY" | keyrot verify …`, `keyrot VULTR_API_KEY=…` and
// `keyrot$(keyrot completion bash)"`: commands that do not work as written.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const KNOWN = /^keyrot (?:--\S+ \S+ )*(?:list-users|list-keys|audit|create|revoke|verify|get|exec|status|rotate|login|whoami|logout|profiles|sandbox|completion|demo|help)\b/;

describe('docs/reference.md examples', () => {
  it('every example line is a command that runs as written', () => {
    const text = readFileSync(join(ROOT, 'docs', 'reference.md'), 'utf8');
    const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.trim().split('\n'));
    expect(blocks.length).toBeGreaterThan(10);
    const mangled = blocks.filter((line) => line.startsWith('keyrot') && !KNOWN.test(line));
    expect(mangled).toEqual([]);
  });
});
