// docs/reference.md's examples are commands that run as written: an example that starts with printf, export or
// eval stays so (the generator once overwrote each example's first six characters with "keyrot", giving
// `keyrot %s "$KEY" | keyrot verify …` and `keyrot$(keyrot completion bash)"`).
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
