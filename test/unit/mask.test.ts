import { describe, expect, it } from 'vitest';
import { RedactionList, maskFromLastChars, maskSecret, redact, sanitizeForDisplay } from '../../src/core/mask.js';

const LONG = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

describe('maskSecret', () => {
  it.each([
    [LONG, '****56789'],
    ['0123456789ABCDEF', '****BCDEF'],
    ['0123456789ABCDE', '****'],
    ['short', '****'],
    ['', '****'],
  ])('%j → %j', (secret, mask) => {
    expect(maskSecret(secret)).toBe(mask);
  });

  it('never shows more than the last 5 characters', () => {
    for (let length = 0; length <= 80; length++) {
      const secret = 'x'.repeat(Math.max(0, length - 5)) + 'Z'.repeat(Math.min(5, length));
      const shown = maskSecret(secret).replace(/^\*{4}/, '');
      expect(shown.length).toBeLessThanOrEqual(5);
      if (length < 16) expect(shown).toBe('');
      else expect(secret.endsWith(shown)).toBe(true);
    }
  });
});

describe('maskFromLastChars', () => {
  it.each([
    ['7XQ2A', '****7XQ2A'],
    ['LONGER7XQ2A', '****7XQ2A'],
    ['AB', '****AB'],
    ['', '****'],
    [null, '****'],
  ])('%j → %j', (lastChars, mask) => {
    expect(maskFromLastChars(lastChars)).toBe(mask);
  });
});

describe('redact', () => {
  const OTHER = 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210';

  it.each([
    [`key=${LONG}`, [LONG], 'key=****56789'],
    [`${LONG} and again ${LONG}`, [LONG], '****56789 and again ****56789'],
    [`${LONG} ${OTHER}`, [LONG, OTHER], '****56789 ****43210'],
    ['nothing secret here', [LONG], 'nothing secret here'],
    ['empty secrets are ignored', ['', LONG], 'empty secrets are ignored'],
    ['pass=hunter22', ['hunter22'], 'pass=****'],
    // A hostile server's one-character "key" must not rewrite every "a": too short to be a secret.
    ['a banana', ['a'], 'a banana'],
    ['{"a":1}', ['a', '"'], '{"a":1}'],
    // A key pasted short (or cut) is still the key: any 8 of its characters in a row are masked, the whole run.
    [`No user "${LONG.slice(0, -1)}".`, [LONG], 'No user "****".'],
    [`tail …${LONG.slice(10)}`, [LONG], 'tail …****'],
    [`x${LONG.slice(5, 13)}y ${LONG.slice(5, 12)}`, [LONG], `x****y ${LONG.slice(5, 12)}`],
    // A vendor prefix alone is the key's shape, not the key; with one character more it is.
    ['keys look like ka_live_ and 32 more', ['ka_live_AbCdEfGhIjKlMnOpQrStUvWxYz012345'], 'keys look like ka_live_ and 32 more'],
    ['pasted ka_live_A', ['ka_live_AbCdEfGhIjKlMnOpQrStUvWxYz012345'], 'pasted ****'],
  ])('%j', (text, secrets, expected) => {
    expect(redact(text, secrets)).toBe(expected);
  });

  it('masks a secret that contains another one whole, whatever the order', () => {
    const inner = LONG.slice(0, 20);
    for (const secrets of [
      [inner, LONG],
      [LONG, inner],
    ]) {
      const out = redact(`token ${LONG}`, secrets);
      expect(out).toBe('token ****56789');
    }
  });

  it('masks a secret inside JSON even when JSON escapes some of its characters', () => {
    const secret = 'pa"ss\\word-with-quotes-0123456789';
    const json = JSON.stringify({ secret });
    const out = redact(json, [secret]);
    expect(out).not.toContain('word-with-quotes');
    expect(JSON.parse(out)).toEqual({ secret: '****56789' });
  });

  it('accepts any iterable', () => {
    expect(redact(`a ${LONG}`, new Set([LONG]))).toBe('a ****56789');
  });

  // A few keys are searched with one pattern, many one by one (RedactionList): both must mask every run of 8.
  it.each([3, 40])('masks any 8 characters in a row of any of %i keys, and leaves text that holds none', (count) => {
    let seed = count;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const keys = Array.from({ length: count }, () => Array.from({ length: 36 }, () => LONG[next() % LONG.length]).join(''));
    const list = new RedactionList(keys);
    for (const key of [keys[0]!, keys[count - 1]!]) {
      for (const at of [0, 7, key.length - 8]) {
        expect(list.redact(`said «${key.slice(at, at + 8)}» once`)).toBe('said «****» once');
        expect(list.redact(key.slice(at, at + 8))).toBe('****');
      }
      expect(list.redact(`seven ${key.slice(3, 10)} only`)).toBe(`seven ${key.slice(3, 10)} only`);
    }
    expect(list.redact('nothing secret here')).toBe('nothing secret here');
  });

  it('a key made of characters that have a meaning in a pattern is searched for literally', () => {
    const key = 'a.b*c+d?e(f)g[h]i{j}k|l\\m^n$o/p-q';
    const list = new RedactionList([key]);
    expect(list.redact(`x ${key.slice(2, 14)} y`)).toBe('x **** y');
    expect(list.redact('x aXbbbc+dd y')).toBe('x aXbbbc+dd y');
  });
});

describe('sanitizeForDisplay', () => {
  it.each([
    ['plain text', 'plain text'],
    ['\x1b[31mred\x1b[0m', 'red'],
    ['\x1b[2J\x1b[Hclear screen', 'clear screen'],
    ['\x1b[?25lhidden cursor', 'hidden cursor'],
    ['\x1b]0;evil title\x07after', 'after'],
    ['\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\', 'link'],
    ['line1\nline2\rline3', 'line1 line2 line3'],
    ['tab\there', 'tab here'],
    ['bell\x07', 'bell'],
    ['c1\u009bcontrol', 'c1 control'],
    ['del\x7fchar', 'del char'],
    ['bidi\u202eoverride\u202c', 'bidi<U+202E>override<U+202C>'],
    ['ci-run\u200bner', 'ci-run<U+200B>ner'],
    // Tag characters (a hidden text), blank fillers and variation selectors show nothing either.
    ['ci\u{E0069}\u{E0067}runner', 'ci<U+E0069><U+E0067>runner'],
    ['ops\u3164bot', 'ops<U+3164>bot'],
    ['a\u115f\u180b\ufe0fb', 'a<U+115F><U+180B><U+FE0F>b'],
    // And what Unicode reserves as default-ignorable, or marks as format controls, beyond the common ones.
    ['x\ufff0\u{1BCA0}\u{1D173}\u{E0080}\u{E0FFF}\ufffby', 'x<U+FFF0><U+1BCA0><U+1D173><U+E0080><U+E0FFF><U+FFFB>y'],
    // Format characters that do show stay as they are: the Arabic signs written before a number.
    ['\u0600١٢٣ آية\u06dd١', '\u0600١٢٣ آية\u06dd١'],
    ['\u200e=1+1', '<U+200E>=1+1'],
    ['  padded  ', 'padded'],
    ['unicode stays: é ✓ 日本', 'unicode stays: é ✓ 日本'],
  ])('%j → %j', (input, output) => {
    expect(sanitizeForDisplay(input)).toBe(output);
  });

  it('a long name is cut in the middle on whole characters: never half an emoji, never half a <U+…> form', () => {
    for (let at = 0; at < 12; at++) {
      const name = `${'a'.repeat(270 + at)}😀\u200b${'b'.repeat(40)}😀end`;
      const shown = sanitizeForDisplay(name);
      expect(shown.length).toBeLessThanOrEqual(300);
      expect(shown).toContain('…');
      expect(shown.endsWith('😀end')).toBe(true);
      expect(shown).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
      expect(shown).not.toMatch(/<U\+[0-9A-F]*(?![0-9A-F>])/);
    }
  });

  it('never leaves an escape character, whatever the input', () => {
    const nasty = '\x1b[31m\x1b]0;t\x07\x1b\x1b[\x9b\x1b[1;2;3;4m\x00\x1f';
    expect(sanitizeForDisplay(nasty)).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  it('bounds the length with an ellipsis in the middle, so names that differ only at their end stay apart', () => {
    expect(sanitizeForDisplay('a'.repeat(500))).toHaveLength(300);
    const prod = sanitizeForDisplay(`deploy-${'x'.repeat(210)}-prod`, 200);
    const test = sanitizeForDisplay(`deploy-${'x'.repeat(210)}-test`, 200);
    expect(prod).toHaveLength(200);
    expect(prod).toMatch(/^deploy-x+…x+-prod$/);
    expect(prod).not.toBe(test);
    expect(sanitizeForDisplay('abcdefghij', 5)).toBe('abc…j');
    expect(sanitizeForDisplay('abcde', 5)).toBe('abcde');
  });
});
