import type { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Output, decideColorLevel, isCi, type OutputOptions } from '../../src/ui/output.js';
import { say, displayText, composed } from '../../src/ui/display-text.js';

const SECRET = 'SECRETAAAABBBBCCCCDDDDEEEEFFFF7XQ2A';
const OTHER = 'OTHERSECRET0000111122223333444455ZZ9';

interface Captured {
  stdout: string[];
  stderr: string[];
}

function sink(into: string[], tty = false): Writable & { isTTY?: boolean } {
  return { isTTY: tty, write: (chunk: string) => (into.push(String(chunk)), true) } as unknown as Writable & { isTTY?: boolean };
}

function setup(options: Partial<OutputOptions> = {}): { out: Output; cap: Captured } {
  const cap: Captured = { stdout: [], stderr: [] };
  const out = new Output({
    stdout: sink(cap.stdout),
    stderr: sink(cap.stderr),
    json: false,
    events: false,
    quiet: false,
    verbose: false,
    debug: false,
    colorLevel: 0,
    timestamps: false,
    now: () => new Date('2026-11-23T10:00:00Z'),
    ...options,
  });
  return { out, cap };
}

describe('Output: stdout carries data only', () => {
  it.each([
    ['data', (o: Output) => o.data(say`table`), 'stdout'],
    ['result', (o: Output) => o.result({ a: 1 }), 'stdout'],
    ['reveal', (o: Output) => o.reveal('plain'), 'stdout'],
    ['event', (o: Output) => o.event('x'), 'stdout'],
    ['info', (o: Output) => o.info(say`progress`), 'stderr'],
    ['warn', (o: Output) => o.warn(say`careful`), 'stderr'],
    ['detail', (o: Output) => o.detail(say`more`), 'stderr'],
    ['debug', (o: Output) => o.debug('internals'), 'stderr'],
    ['stderr', (o: Output) => o.stderr(say`error line`), 'stderr'],
  ] as const)('%s goes to %s', (_name, write, stream) => {
    const { out, cap } = setup({ events: true, verbose: true, debug: true });
    write(out);
    expect(cap[stream]).toHaveLength(1);
    expect(cap[stream === 'stdout' ? 'stderr' : 'stdout']).toHaveLength(0);
    expect(cap[stream][0]!.endsWith('\n')).toBe(true);
  });

  it('result() writes exactly one parseable JSON document', () => {
    const { out, cap } = setup({ json: true });
    const value = { kind: 'rotated', keys: [{ id: 'k1', name: 'a-v2' }], n: 3, none: null };
    out.result(value);
    expect(cap.stdout).toHaveLength(1);
    expect(JSON.parse(cap.stdout.join(''))).toEqual(value);
    expect(cap.stderr).toHaveLength(0);
  });

  it('event() writes one JSON line with type and time, only with --events', () => {
    const off = setup();
    off.out.event('key.created', { keyId: 'k1' });
    expect(off.cap.stdout).toHaveLength(0);

    const on = setup({ events: true });
    on.out.event('key.created', { keyId: 'k1' });
    expect(on.cap.stdout).toHaveLength(1);
    expect(on.cap.stdout[0]!.trimEnd()).not.toContain('\n');
    expect(JSON.parse(on.cap.stdout[0]!)).toEqual({ type: 'key.created', at: '2026-11-23T10:00:00.000Z', keyId: 'k1' });
  });

  it('provider text in any line on stderr or stdout shows its invisible characters as code points; bidi controls go', () => {
    const { out, cap } = setup();
    out.warn(say`Revoke ops​deploy (tag󠁁) of u‮ser?`);
    out.info(say`✔ Rotated ops⁠deploy`);
    out.data(say`note: opsㅤbot`);
    expect(cap.stderr.join('')).toContain('Revoke ops<U+200B>deploy (tag<U+E0041>) of user?');
    expect(cap.stderr.join('')).toContain('✔ Rotated ops<U+2060>deploy');
    expect(cap.stdout.join('')).toBe('note: ops<U+3164>bot\n');
  });

  it('--quiet hides info but never warnings', () => {
    const { out, cap } = setup({ quiet: true });
    out.info(say`progress`);
    out.warn(say`the old key still authenticates`);
    expect(cap.stderr).toEqual(['warning: the old key still authenticates\n']);
  });

  it('detail needs --verbose or --debug; debug needs --debug', () => {
    const plain = setup();
    plain.out.detail(say`d`);
    plain.out.debug('x');
    expect(plain.cap.stderr).toHaveLength(0);

    const verbose = setup({ verbose: true });
    verbose.out.detail(say`d`);
    verbose.out.debug('x');
    expect(verbose.cap.stderr).toEqual(['d\n']);

    const debug = setup({ debug: true });
    debug.out.detail(say`d`);
    debug.out.debug('x');
    expect(debug.cap.stderr).toEqual(['d\n', 'debug: x\n']);
  });

  it('prefixes stderr lines with a timestamp when asked (CI logs)', () => {
    const { out, cap } = setup({ timestamps: true });
    out.info(say`step`);
    expect(cap.stderr).toEqual(['2026-11-23T10:00:00.000Z step\n']);
  });
});

describe('Output: redaction of protected secrets', () => {
  const writers: Array<[string, (o: Output, text: string) => void]> = [
    ['data', (o, t) => o.data(composed(t))],
    ['info', (o, t) => o.info(composed(t))],
    ['warn', (o, t) => o.warn(composed(t))],
    ['detail', (o, t) => o.detail(composed(t))],
    ['debug', (o, t) => o.debug(t)],
    ['stderr', (o, t) => o.stderr(composed(t))],
    ['event', (o, t) => o.event('hook.output', { line: t, nested: { again: [t] } })],
    ['result', (o, t) => o.result({ message: t, nested: { again: [t] } })],
  ];

  it.each(writers)('%s masks every protected secret', (_name, write) => {
    const { out, cap } = setup({ events: true, verbose: true, debug: true });
    out.protect(SECRET);
    out.protect(OTHER);
    write(out, `new ${SECRET} old ${OTHER}`);
    const all = [...cap.stdout, ...cap.stderr].join('');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(OTHER);
    expect(all).not.toContain(SECRET.slice(0, 20));
    expect(all).toContain('****7XQ2A');
  });

  it('masks secrets protected after the Output was built, from then on', () => {
    const { out, cap } = setup();
    out.info(say`before ${displayText(SECRET)}`);
    out.protect(SECRET);
    out.info(say`after ${displayText(SECRET)}`);
    expect(cap.stderr[1]).toBe('after ****7XQ2A\n');
  });

  it('ignores empty, null and undefined secrets', () => {
    const { out, cap } = setup();
    out.protect('');
    out.protect(null);
    out.protect(undefined);
    out.info(say`text stays as it is`);
    expect(cap.stderr).toEqual(['text stays as it is\n']);
  });

  it('result(value, revealed) leaves only the revealed secret unmasked', () => {
    const { out, cap } = setup({ json: true });
    out.protect(SECRET);
    out.protect(OTHER);
    out.result({ secret: SECRET, admin: OTHER, note: `admin key ${OTHER}` }, SECRET);
    const parsed = JSON.parse(cap.stdout.join('')) as Record<string, string>;
    expect(parsed.secret).toBe(SECRET);
    expect(parsed.admin).toBe('****55ZZ9');
    expect(cap.stdout.join('')).not.toContain(OTHER);
  });

  it('result() without revealed masks every protected secret', () => {
    const { out, cap } = setup({ json: true });
    out.protect(SECRET);
    out.result({ secret: SECRET });
    expect(JSON.parse(cap.stdout.join(''))).toEqual({ secret: '****7XQ2A' });
  });

  it('reveal() is the one unredacted write, and it goes to stdout', () => {
    const { out, cap } = setup();
    out.protect(SECRET);
    out.reveal(SECRET);
    expect(cap.stdout).toEqual([`${SECRET}\n`]);
    expect(cap.stderr).toHaveLength(0);
  });

  it('clean() masks without printing', () => {
    const { out, cap } = setup();
    out.protect(SECRET);
    expect(out.clean(`x ${SECRET}`)).toBe('x ****7XQ2A');
    expect(cap.stdout.length + cap.stderr.length).toBe(0);
  });
});

describe('decideColorLevel', () => {
  const tty = (depth = 8) => ({ isTTY: true, getColorDepth: () => depth });
  const pipe = { isTTY: false, getColorDepth: () => 8 };

  it.each([
    ['a terminal', {}, tty(), false, 2],
    ['a 24-bit terminal', {}, tty(24), false, 3],
    ['a 16-colour terminal', {}, tty(4), false, 1],
    ['a terminal without getColorDepth', {}, { isTTY: true }, false, 1],
    ['a pipe', {}, pipe, false, 0],
    ['a stream without isTTY', {}, {}, false, 0],
    ['--no-color', {}, tty(), true, 0],
    ['--no-color beats FORCE_COLOR', { FORCE_COLOR: '3' }, tty(), true, 0],
    ['NO_COLOR=1', { NO_COLOR: '1' }, tty(), false, 0],
    ['NO_COLOR=0 (any non-empty value)', { NO_COLOR: '0' }, tty(), false, 0],
    ['NO_COLOR beats FORCE_COLOR', { NO_COLOR: '1', FORCE_COLOR: '1' }, tty(), false, 0],
    ['an empty NO_COLOR', { NO_COLOR: '' }, tty(), false, 2],
    ['FORCE_COLOR=1 on a pipe', { FORCE_COLOR: '1' }, pipe, false, 1],
    ['FORCE_COLOR=3 on a pipe', { FORCE_COLOR: '3' }, pipe, false, 3],
    ['FORCE_COLOR=true', { FORCE_COLOR: 'true' }, pipe, false, 1],
    ['an empty FORCE_COLOR', { FORCE_COLOR: '' }, pipe, false, 1],
    ['FORCE_COLOR=0', { FORCE_COLOR: '0' }, tty(), false, 0],
    ['FORCE_COLOR=false', { FORCE_COLOR: 'false' }, tty(), false, 0],
    ['FORCE_COLOR beats CI', { FORCE_COLOR: '2', CI: 'true' }, pipe, false, 2],
    ['CI=true in a terminal', { CI: 'true' }, tty(), false, 0],
    ['CI=1 in a terminal', { CI: '1' }, tty(), false, 0],
    ['CI=false in a terminal', { CI: 'false' }, tty(), false, 2],
    ['CI=0 in a terminal', { CI: '0' }, tty(), false, 2],
  ] as const)('%s → level %i', (_label, env, stream, flag, level) => {
    expect(decideColorLevel(env as NodeJS.ProcessEnv, stream, flag)).toBe(level);
  });

  // Node's getColorDepth() answers 1 for a terminal without colours (TERM=dumb).
  it('a terminal without colours (TERM=dumb, depth 1) → level 0', () => {
    expect(decideColorLevel({}, tty(1), false)).toBe(0);
  });

  it.each([
    [{}, false],
    [{ CI: '' }, false],
    [{ CI: '0' }, false],
    [{ CI: 'false' }, false],
    [{ CI: 'true' }, true],
    [{ CI: '1' }, true],
    [{ CI: 'woodpecker' }, true],
  ])('isCi(%j) → %s', (env, ci) => {
    expect(isCi(env as NodeJS.ProcessEnv)).toBe(ci);
  });
});

describe('Output: colour', () => {
  it('loads no styles at level 0: text stays plain', async () => {
    const { out, cap } = setup({ colorLevel: 0 });
    await out.loadStyles();
    out.warn(say`plain`);
    expect(cap.stderr).toEqual(['warning: plain\n']);
  });

  it('styles warnings at level 1', async () => {
    const { out, cap } = setup({ colorLevel: 1 });
    await out.loadStyles();
    out.warn(say`coloured`);
    expect(cap.stderr[0]).toContain('\x1b[');
  });
});

describe('Output.data in a terminal', () => {
  const tty = (into: string[], columns: number) => ({ isTTY: true, columns, write: (chunk: string) => (into.push(String(chunk)), true) }) as unknown as Writable & { isTTY?: boolean };
  it('breaks a line wider than the terminal at spaces, never inside a word; verbatim text (a script, CSV) stays as it is', () => {
    const written: string[] = [];
    const { out } = setup({ stdout: tty(written, 30) });
    out.data(say`Rolled back the rotation of ops@example.com: the new key deleted, ops-deploy kept.`);
    const lines = written.join('').trimEnd().split('\n');
    expect(lines.every((l) => l.length <= 30)).toBe(true);
    expect(lines.join(' ').replace(/\s+/g, ' ')).toBe('Rolled back the rotation of ops@example.com: the new key deleted, ops-deploy kept.');
    written.length = 0;
    out.data(say`complete -F _keyrot keyrot # a completion script line that is long`, true);
    expect(written.join('')).toBe('complete -F _keyrot keyrot # a completion script line that is long\n');
  });
});
