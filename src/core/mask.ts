// Masking and redaction. A mask shows at most the last 5 characters of a secret, and none of a short one
// (where 5 characters would be a large share of it).

const SHOWN = 5;
const MIN_LENGTH_TO_SHOW = 16;

/** "****7XQ2A" for a long secret, "****" for a short or empty one. */
export function maskSecret(secret: string): string {
  return secret.length >= MIN_LENGTH_TO_SHOW ? `****${secret.slice(-SHOWN)}` : '****';
}

/** A mask from the last characters a provider shows for a listed key (already at most 5 of them). */
export function maskFromLastChars(lastChars: string | null): string {
  return lastChars ? `****${lastChars.slice(-SHOWN)}` : '****';
}

/**
 * Shorter "secrets" are not redacted: a hostile server's one-character key would otherwise rewrite every "a" in
 * the output. Real keys are far longer (Vultr's: 36), and keyrot itself never prints a secret, only masks.
 */
export const MIN_SECRET_LENGTH = 8;

/**
 * `redact` for text that was cut short: a secret's beginning left at the very end (its rest cut off) is masked
 * too, since the redaction cannot recognise a partial secret. Up to 3 leading characters may remain (a shorter
 * tail matches a secret's start by chance too often to mask).
 */
export function redactTruncated(text: string, secrets: Iterable<string>): string {
  const list = [...secrets].filter((s) => s.length >= MIN_SECRET_LENGTH);
  let out = redact(text, list);
  for (const secret of list) {
    for (let n = Math.min(secret.length - 1, out.length); n > 3; n--) {
      if (out.endsWith(secret.slice(0, n))) {
        out = `${out.slice(0, -n)}****`;
        break;
      }
    }
  }
  return out;
}

/** A copy of `value` (JSON data) with every string redacted: the structure itself is never rewritten. */
export function redactDeep<T>(value: T, secrets: Iterable<string> | RedactionList): T {
  const list = secrets instanceof RedactionList ? secrets : new RedactionList(secrets);
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return list.redact(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v instanceof Date) return v;
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/**
 * Replaces every occurrence of each secret in `text` by its mask, also in its JSON-escaped form (text that is
 * a JSON document). Longer secrets go first, so one that contains another is never left half-masked. Empty
 * secrets are ignored.
 */
export function redact(text: string, secrets: Iterable<string> | RedactionList): string {
  return (secrets instanceof RedactionList ? secrets : new RedactionList(secrets)).redact(text);
}

/**
 * The secrets to redact, prepared once (deduplicated, short ones dropped, longest first, each with its forms and
 * mask): a batch of rotations knows hundreds of keys, and every line and journal write is redacted.
 */
export class RedactionList {
  readonly #forms: Array<{ form: string; mask: string }> = [];
  /** Secrets long enough to show their last characters: any run of FRAGMENT of their characters is masked too. */
  readonly #long: string[] = [];
  /** piecesPattern: a text that holds none of the runs is left as it is (a journal write redacts every string). */
  readonly #pieces: RegExp | null;

  constructor(secrets: Iterable<string>) {
    const bySize = [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
    for (const secret of bySize) {
      const mask = maskSecret(secret);
      const escaped = JSON.stringify(secret).slice(1, -1);
      for (const form of escaped === secret ? [secret] : [secret, escaped]) this.#forms.push({ form, mask });
      if (secret.length >= MIN_LENGTH_TO_SHOW) this.#long.push(secret);
    }
    this.#pieces = this.#long.length ? piecesPattern(this.#long) : null;
  }

  redact(text: string): string {
    // Shorter than any secret, and than a run that is a leak: nothing to find.
    if (text.length < MIN_SECRET_LENGTH) return text;
    let out = text;
    for (const { form, mask } of this.#forms) if (out.includes(form)) out = out.split(form).join(mask);
    if (this.#long.length === 0 || this.#pieces?.test(out) === false) return out;
    for (const secret of this.#long) out = maskFragments(out, secret);
    return out;
  }
}

/**
 * The runs maskFragments looks for, of every secret in `long`, as one pattern searched in native code: searching each
 * run in JavaScript cost a rotation about 5 ms, code that a command running once never gets optimised. Null (search
 * every text) for a batch that knows many keys, where the pattern would cost more to compile (~5 ms for 1,000 runs)
 * than it saves. Kept per set of keys for the process: a command makes a list for each request it logs, of the same
 * few keys (at most 32 kept).
 */
function piecesPattern(long: readonly string[]): RegExp | null {
  // JSON: no two sets of secrets share it (a newline joining them would: a secret may hold one).
  const key = JSON.stringify(long);
  if (patterns.has(key)) return patterns.get(key)!;
  const pieces = new Set<string>();
  for (const secret of long) {
    const literal = SPECIAL.test(secret) ? escapeRegExp : (text: string) => text;
    for (let i = fragmentsFrom(secret); i + FRAGMENT <= secret.length; i++) pieces.add(literal(secret.slice(i, i + FRAGMENT)));
  }
  const pattern = pieces.size <= MAX_PATTERN_PIECES ? new RegExp([...pieces].join('|') || '(?!)') : null;
  if (patterns.size >= 32) patterns.clear();
  patterns.set(key, pattern);
  return pattern;
}

const patterns = new Map<string, RegExp | null>();
/** The characters that mean something in a pattern outside a character class. */
const SPECIAL = /[\\^$.*+?()[\]{}|]/;
const EVERY_SPECIAL = new RegExp(SPECIAL.source, 'g');

function escapeRegExp(text: string): string {
  return text.replace(EVERY_SPECIAL, '\\$&');
}

/** A run this long of a secret's characters is a leak wherever it appears (a key pasted short, or cut). */
const FRAGMENT = 8;
/** Runs searched with one pattern at most (about nine 36-character keys). */
const MAX_PATTERN_PIECES = 256;

/**
 * Masks every run of FRAGMENT or more consecutive characters of `secret` (a key pasted into the wrong flag with a
 * character missing, echoed back in an error, is still the key) that reaches past its vendor prefix: each run,
 * extended as far as it matches, becomes "****".
 */
function maskFragments(text: string, secret: string): string {
  let out = text;
  for (let i = fragmentsFrom(secret); i + FRAGMENT <= secret.length; i++) {
    const piece = secret.slice(i, i + FRAGMENT);
    for (let at = out.indexOf(piece); at >= 0; at = out.indexOf(piece, at)) {
      let start = at;
      let end = at + FRAGMENT;
      for (let k = i; start > 0 && k > 0 && out[start - 1] === secret[k - 1]; k--) start--;
      for (let j = i + FRAGMENT; end < out.length && j < secret.length && out[end] === secret[j]; j++) end++;
      out = `${out.slice(0, start)}****${out.slice(end)}`;
      at = start + 4;
    }
  }
  return out;
}

/** Where a secret's runs that are a leak may start: a vendor's fixed prefix ("ka_live_", "glsa_") is no secret. */
function fragmentsFrom(secret: string): number {
  const prefix = /^[a-z]+(?:_[a-z]+)*_/.exec(secret)?.[0].length ?? 0;
  return Math.max(0, prefix - FRAGMENT + 1);
}

/**
 * Text that came from a provider or a child process, made safe to print: control characters (ANSI escape
 * sequences included) and bidirectional overrides (which can make text read differently from what it is)
 * removed, length bounded.
 */
export function sanitizeForDisplay(text: string, maxLength = 300): string {
  /* eslint-disable no-control-regex */
  const clean = text
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '') // OSC: window titles, hyperlinks
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '') // CSI: colours, cursor movement
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ')
    .trim()
    .replace(INVISIBLE, shownAsCodePoint);
  /* eslint-enable no-control-regex */
  // Cut in the middle: names that differ only at their end (deploy-…-prod, deploy-…-test) stay apart.
  return clean.length > maxLength ? cutInMiddle(clean, maxLength, Math.min(20, Math.floor(maxLength / 3))) : clean;
}

/**
 * `text` cut to at most `maxLength` characters with `…` in the middle and `tail` characters of its end kept. Whole
 * characters and whole <U+XXXX> forms only: never half of a surrogate pair, never "<U+2…".
 */
function cutInMiddle(text: string, maxLength: number, tail: number): string {
  const units = text.match(/<U\+[0-9A-F]{4,6}>|[\s\S]/gu) ?? [];
  let head = '';
  let i = 0;
  while (i < units.length && head.length + units[i]!.length <= maxLength - tail - 1) head += units[i++];
  let end = '';
  for (let j = units.length - 1; j >= i && end.length + units[j]!.length <= tail; j--) end = units[j] + end;
  return `${head}…${end}`;
}

/**
 * Characters that show nothing, or change how the text around them reads: Unicode's default-ignorable code points
 * (zero-width spaces and joiners, the soft hyphen, blank fillers such as U+3164, variation selectors, the tag
 * characters U+E0000–E0FFF that can carry a whole hidden text, and what Unicode keeps for more of them) and format
 * controls (bidirectional overrides, the byte-order mark, interlinear annotations). In provider text they are shown
 * by their code point, so that "ci-run<U+200B>ner" never passes for "ci-runner"; --json writes them as \u escapes.
 */
export const INVISIBLE_CHARS = '\\p{Default_Ignorable_Code_Point}\\p{Cf}';
// Format characters that do show: the Arabic and Syriac signs written before a number (U+0600, U+06DD).
const VISIBLE_FORMAT = '\\u0600-\\u0605\\u06dd\\u070f\\u0890\\u0891\\u08e2\\u{110bd}\\u{110cd}';
const INVISIBLE = new RegExp(`(?![${VISIBLE_FORMAT}])[${INVISIBLE_CHARS}]`, 'gu');

/** An invisible character as text that shows: its code point, e.g. <U+200B>. */
function shownAsCodePoint(c: string): string {
  return `<U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}>`;
}

/**
 * Provider text (a key name, an e-mail, a person's name) as the one line it is meant to be: line breaks (CR, LF,
 * VT, FF, NEL, U+2028/9) become spaces. Without this a name could print lines that look like keyrot's own, or
 * workflow commands that a CI runner obeys. Applied where a provider's answer is read.
 */
export function singleLine(text: string): string {
  return text.replace(/\r\n|[\n\r\v\f\u0085\u2028\u2029]/g, ' ');
}

/** Bidirectional controls: they make text read differently from what it is (U+202E reverses what follows). */
// eslint-disable-next-line no-misleading-character-class
export const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** Exactly the styles keyrot itself prints (bold, dim, red, green, yellow, cyan, and their resets). */
const OWN_SGR = /^\x1b\[(?:1|2|22|31|32|33|36|39)m/;

/**
 * Text about to reach a terminal, made inert: every escape sequence but keyrot's own styles (so a key name cannot
 * set the window title, clear the screen or move the cursor), every other control character but line breaks and
 * tabs, and bidirectional controls are removed; other invisible characters show as their code points. Applied at the
 * one place output is written.
 */
export function sanitizeForTerminal(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (ch === '\x1b') {
      const own = OWN_SGR.exec(text.slice(i, i + 6));
      if (own) {
        out += own[0];
        i += own[0].length - 1;
        continue;
      }
      i = endOfEscape(text, i);
      continue;
    }
    const code = ch.charCodeAt(0);
    if ((code < 0x20 && ch !== '\n' && ch !== '\t') || (code >= 0x7f && code <= 0x9f)) continue;
    out += ch;
  }
  // Bidirectional controls go; other invisible characters (provider text in a message or a question) show as code points.
  return out.replace(BIDI_CONTROLS, '').replace(INVISIBLE, shownAsCodePoint);
}

/** The index of the last character of the escape sequence starting at `start` (CSI, OSC, or a 2-character one). */
function endOfEscape(text: string, start: number): number {
  const kind = text[start + 1];
  if (kind === '[') {
    let i = start + 2;
    while (i < text.length && !/[@-~]/.test(text[i] ?? '')) i++;
    return i;
  }
  if (kind === ']' || kind === 'P' || kind === '_' || kind === '^') {
    // OSC/DCS/APC/PM: up to BEL or ST (ESC \).
    for (let i = start + 2; i < text.length; i++) {
      if (text[i] === '\x07') return i;
      if (text[i] === '\x1b' && text[i + 1] === '\\') return i + 1;
    }
    return text.length - 1;
  }
  return Math.min(start + 1, text.length - 1);
}
