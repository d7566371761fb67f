import { describe, expect, it } from 'vitest';
import { writeJsonText } from '../../src/ui/json-text.js';
import { Output } from '../../src/ui/output.js';
import type { Writable } from 'node:stream';

const keep = (v: unknown) => v;

function pieces(value: unknown, indent = 2, replacer = keep, finish?: (t: string) => string, terminator?: string): string[] {
  const out: string[] = [];
  writeJsonText(value, replacer, indent, (t) => out.push(t), finish, terminator);
  return out;
}

const when = new Date('2026-11-30T04:00:00Z');
const shapes: [string, unknown][] = [
  [
    'an audit-like document',
    {
      generatedAt: 'x',
      users: 2,
      summary: { high: 1 },
      keys: [
        { id: 'k1', findings: [{ code: 'expired' }], at: when },
        { id: 'k2', findings: [] },
      ],
      failOn: { codes: [] },
    },
  ],
  ['an empty object', {}],
  ['an empty array', []],
  ['a top-level array of mixed values', [1, 'two', null, undefined, () => 3, { a: [] }, [[]], when, Symbol('s')]],
  ['members JSON leaves out', { a: undefined, b: () => 1, c: Symbol('c'), d: 1 }],
  ['only members JSON leaves out', { a: undefined }],
  // biome-ignore lint/suspicious/noSparseArray: the hole is what this case tests (JSON.stringify writes null).
  ['an array member with holes and undefined', { list: [undefined, , 2] }],
  ['an empty array member', { list: [] }],
  ['nested arrays and objects', { a: { b: [{ c: [1, { d: 'e\nf' }] }] }, z: [[1, 2], { y: {} }] }],
  ['text with line breaks and quotes', { s: 'line1\nline2 "q" \\ \u2028', keys: ['a\nb'] }],
  ['a Date at the top', when],
  ['an object with toJSON', { toJSON: () => ({ made: [1, 2] }) }],
  ['a string', 'plain'],
  ['a number', 42],
  ['null', null],
  ['NaN and Infinity', { n: NaN, i: [Infinity] }],
  ['keys in insertion order, integer-like first', { b: 1, 2: 'two', a: [3], 1: 'one' }],
];

describe('writeJsonText: the text of JSON.stringify, written in pieces', () => {
  it.each(shapes)('%s: the same text as JSON.stringify, indented and not', (_name, value) => {
    expect(pieces(value).join('')).toBe(JSON.stringify(value, null, 2));
    expect(pieces(value, 0).join('')).toBe(JSON.stringify(value));
  });

  it('applies the replacer to every value, nested and top-level, as JSON.stringify does', () => {
    const upper = (v: unknown) => (typeof v === 'string' ? v.toUpperCase() : v);
    const value = { name: 'a', keys: [{ n: 'b', list: ['c'] }, 'd'], at: when };
    expect(pieces(value, 2, upper).join('')).toBe(JSON.stringify(value, (_k, v: unknown) => upper(v), 2));
  });

  it('a large document comes in several pieces of about 64 kB, each ending between two JSON tokens', () => {
    const keys = Array.from({ length: 3000 }, (_, i) => ({ keyId: `id-${i}`, keyName: `deploy-${i}-##[x]`, note: 'a "b" \n c' }));
    const doc = { account: 'ops@example.com', keys };
    const escaped: string[] = [];
    const out = pieces(doc, 2, keep, (t) => (escaped.push(t), t.replaceAll('##[', '\\u0023#[')), '\n');
    expect(out.length).toBeGreaterThan(3);
    for (const piece of escaped.slice(0, -1)) expect(piece.length).toBeLessThan(64 * 1024 + 512);
    // Every piece was escaped whole: no "##[" of a key name was split between two pieces.
    expect(out.join('')).toBe(`${JSON.stringify(doc, null, 2).replaceAll('##[', '\\u0023#[')}\n`);
    expect(JSON.parse(out.join('')).keys[2999].keyName).toBe('deploy-2999-##[x]');
    for (const piece of escaped.slice(0, -1)) expect(piece).toMatch(/(\{|\[|\}|\]|,|"|\d|null|true|false)$/);
  });
});

describe('Output.result on a large document', () => {
  it('writes it in pieces, secrets masked and runner commands inert in every piece, as one parseable document', () => {
    const writes: string[] = [];
    const stdout = { isTTY: false, write: (chunk: string) => (writes.push(String(chunk)), true) } as unknown as Writable;
    const out = new Output({ stdout, stderr: stdout, json: true, events: false, quiet: false, verbose: false, debug: false, colorLevel: 0, timestamps: false });
    const secret = 'SECRETAAAABBBBCCCCDDDDEEEEFFFF7XQ2A';
    out.protect(secret);
    const keys = Array.from({ length: 2000 }, (_, i) => ({ keyName: i === 1999 ? `${secret} ##[stop-commands]` : `key-${i}\u202e\u{E0041}\u3164\u{1D173}` }));
    out.result({ keys });
    expect(writes.length).toBeGreaterThan(1);
    const text = writes.join('');
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).not.toContain(secret);
    expect(text).not.toContain('##[');
    expect(text).not.toMatch(/[\u202e\u3164]|\u{E0041}|\u{1D173}/u);
    expect(text).toContain('key-0\\u202e\\udb40\\udc41\\u3164\\ud834\\udd73');
    const parsed = JSON.parse(text) as { keys: { keyName: string }[] };
    expect(parsed.keys).toHaveLength(2000);
    expect(parsed.keys[0]!.keyName).toBe('key-0\u202e\u{E0041}\u3164\u{1D173}');
    expect(parsed.keys[1999]!.keyName).toMatch(/^…?\S*7XQ2A ##\[stop-commands\]$/);
  });
});
