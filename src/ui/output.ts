// The one gate for everything keyrot prints. stdout carries data only: a table, exactly one JSON document
// (--json), or JSON lines (--events). Progress, prompts, warnings and errors go to stderr. Every write passes
// through redaction of the secrets this process knows, except reveal(), which the user asked for.
import type { Writable } from 'node:stream';
import { INVISIBLE_CHARS, RedactionList, redactDeep, redactTruncated, sanitizeForTerminal } from '../core/mask.js';
import { type DisplayText, say } from './display-text.js';
import { writeJsonText } from './json-text.js';
import { wrapWords } from './wrap.js';

/** Characters that show nothing, reorder what follows (U+202E) or act as C1 controls (U+009B): escaped in JSON output. */
const INVISIBLE_IN_JSON = new RegExp(`[\\u007f-\\u009f\\u2028\\u2029${INVISIBLE_CHARS}]`, 'gu');

export interface OutputOptions {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  json: boolean;
  events: boolean;
  quiet: boolean;
  verbose: boolean;
  debug: boolean;
  /** The terminal's width from the COLUMNS variable, for a stream that is not a terminal itself. */
  envColumns?: number;
  /** chalk level decided once at start (0 = no colour). */
  colorLevel: 0 | 1 | 2 | 3;
  /** Prefix plain stderr lines with a timestamp (non-interactive runs, e.g. CI logs). */
  timestamps: boolean;
  /**
   * Under GitHub Actions the runner reads workflow commands ("::add-mask::…") from stdout AND stderr
   * (actions/runner, src/Runner.Worker/Handlers/ScriptHandler.cs: both streams feed ActionCommandManager), so a
   * line of provider text starting with "::" is defused, and keyrot's own commands go to stderr, never stdout.
   */
  workflowCommands?: boolean;
  now?: () => Date;
}

/** keyrot's own styles around display-safe text: still display-safe (Output's filter keeps exactly these). */
export interface Styles {
  bold(s: DisplayText): DisplayText;
  dim(s: DisplayText): DisplayText;
  red(s: DisplayText): DisplayText;
  green(s: DisplayText): DisplayText;
  yellow(s: DisplayText): DisplayText;
  cyan(s: DisplayText): DisplayText;
}

const plain: Styles = { bold: id, dim: id, red: id, green: id, yellow: id, cyan: id };

function id(s: DisplayText): DisplayText {
  return s;
}

/**
 * JSON text whose strings cannot act as CI runner commands (`##[` is written `\u0023#[`) nor change how a terminal
 * shows the document (bidi controls, zero-width and other invisible characters are written as \u escapes): the same
 * values, inert text.
 */
function inertJson(text: string): string {
  // A character beyond U+FFFF (a tag character) is two UTF-16 units, each written as its own \u escape.
  const escaped = (c: string) => Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');
  return text.replace(/#(?=#(?:vso)?\[)/g, '\\u0023').replace(INVISIBLE_IN_JSON, escaped);
}

export class Output {
  readonly json: boolean;
  readonly events: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  readonly debugEnabled: boolean;
  readonly colorLevel: 0 | 1 | 2 | 3;
  style: Styles = plain;
  readonly #secrets = new Set<string>();
  #redaction: RedactionList | undefined;
  readonly #opts: OutputOptions;
  readonly #now: () => Date;

  constructor(opts: OutputOptions) {
    this.#opts = opts;
    this.json = opts.json;
    this.events = opts.events;
    this.quiet = opts.quiet;
    this.verbose = opts.verbose;
    this.debugEnabled = opts.debug;
    this.colorLevel = opts.colorLevel;
    this.#now = opts.now ?? (() => new Date());
  }

  /** Loads chalk only when colour is on: a plain run never pays for it. */
  async loadStyles(): Promise<void> {
    if (this.colorLevel === 0) return;
    const { Chalk } = await import('chalk');
    const c = new Chalk({ level: this.colorLevel });
    const own = (paint: (s: string) => string) => (s: DisplayText) => paint(s) as DisplayText;
    this.style = { bold: own(c.bold), dim: own(c.dim), red: own(c.red), green: own(c.green), yellow: own(c.yellow), cyan: own(c.cyan) };
  }

  /** Registers a secret: from now on it is masked in everything printed. */
  protect(secret: string | undefined | null): void {
    if (secret && !this.#secrets.has(secret)) {
      this.#secrets.add(secret);
      this.#redaction = undefined;
    }
  }

  /** The known secrets, prepared for redaction (again only when one was added). */
  get #redactions(): RedactionList {
    return (this.#redaction ??= new RedactionList(this.#secrets));
  }

  get stderrColumns(): number {
    return this.#opts.stderr.columns ?? this.#opts.envColumns ?? 100;
  }

  /** The width tables fit: the terminal's, else COLUMNS, else 120. */
  get stdoutColumns(): number {
    return this.#opts.stdout.columns ?? this.#opts.envColumns ?? 120;
  }

  get stderrStream(): Writable & { isTTY?: boolean } {
    return this.#opts.stderr;
  }

  clean(text: string): string {
    return this.#redactions.redact(text);
  }

  /** `clean` for text cut short, where a secret may have lost its end (see redactTruncated). */
  cleanTruncated(text: string): string {
    return redactTruncated(text, this.#secrets);
  }

  /** JSON data with every known secret masked in its strings. */
  cleanData<T>(value: T): T {
    return redactDeep(value, this.#redactions);
  }

  /**
   * The command's result as exactly one JSON document on stdout. `revealed` is a secret the user asked to
   * see (--reveal): it alone is left unmasked.
   */
  result(value: unknown, revealed?: string): void {
    const others = revealed === undefined ? this.#redactions : new RedactionList([...this.#secrets].filter((s) => s !== revealed));
    // Redacted as it is serialised, not copied first, and written in pieces: an audit's document holds thousands of
    // keys.
    const redact = (v: unknown) => (typeof v === 'string' ? others.redact(v) : v);
    writeJsonText(
      value,
      redact,
      2,
      (text) => this.#opts.stdout.write(text),
      (text) => inertJson(text),
      '\n',
    );
  }

  /**
   * Human-readable data (tables, summaries) on stdout. In a terminal, a line wider than it is broken at spaces (the
   * terminal would cut it mid-word); tables already fit. `verbatim` (a script, CSV) is written as it is.
   */
  data(text: DisplayText, verbatim = false): void {
    this.#data(text, verbatim);
  }

  /**
   * A document for a program, not a person (CSV, a shell completion script): written whole, several lines, through
   * the same terminal filter and redaction as every other write.
   */
  document(text: string): void {
    this.#data(text, true);
  }

  #data(text: string, verbatim: boolean): void {
    const safe = this.terminalText(text);
    const columns = this.#opts.stdout.isTTY && !verbatim ? this.#opts.stdout.columns : undefined;
    this.#opts.stdout.write(`${columns ? wrapWords(safe, columns, '  ') : safe}\n`);
  }

  /** Text for a terminal (a spinner's line): redacted, and stripped of anything but keyrot's own styles. */
  terminalText(text: string): string {
    return this.#inert(sanitizeForTerminal(this.clean(text)));
  }

  /**
   * CI runners obey commands printed in a job's output: Azure's `##vso[…]` and GitHub's legacy `##[…]` anywhere in
   * a line, GitHub's `::cmd::` at its start. A zero-width space makes provider text that looks like one inert (a
   * key named "##[stop-commands]x" would otherwise stop the runner reading keyrot's own `::add-mask::`).
   */
  #inert(text: string): string {
    const safe = text.replace(/#(?=#(?:vso)?\[)/g, '#\u200b');
    return this.#opts.workflowCommands ? safe.replace(/^(\s*):(?=:)/gm, '$1:\u200b') : safe;
  }

  /**
   * A workflow command for the GitHub Actions runner (e.g. `::add-mask::<key>`, which it consumes and never shows):
   * on stderr, so stdout stays one JSON document, and unredacted, since masking the key is its whole point.
   */
  workflowCommand(line: string): void {
    this.#opts.stderr.write(`${line}\n`);
  }

  /** One --events line on stdout. */
  event(type: string, data: Record<string, unknown> = {}): void {
    if (!this.events) return;
    this.#opts.stdout.write(`${inertJson(JSON.stringify(this.cleanData({ type, at: this.#now().toISOString(), ...data })))}\n`);
  }

  /**
   * The plaintext the user explicitly asked for (--reveal, keyrot get): the one unredacted write. Without `newline`
   * stdout gets exactly the text (a pipe to a consumer).
   */
  reveal(text: string, newline = true): void {
    this.#opts.stdout.write(newline ? `${text}\n` : text);
  }

  /** A progress or status line on stderr (hidden by --quiet). */
  info(message: DisplayText): void {
    if (!this.quiet) this.#line(message);
  }

  /** Detail shown only with --verbose or --debug. */
  detail(message: DisplayText): void {
    if (this.verbose || this.debugEnabled) this.#line(this.style.dim(message));
  }

  /** A step that failed: shown even with --quiet, timestamped like the other lines. */
  failure(message: DisplayText): void {
    this.#line(message);
  }

  warn(message: DisplayText): void {
    this.#line(`${this.style.yellow(say`warning:`)} ${message}`);
  }

  readonly #warned = new Set<string>();

  /** A warning whose cause holds for the whole run (no keychain): said once, however many users meet it. */
  warnOnce(message: DisplayText): void {
    if (this.#warned.has(message)) return;
    this.#warned.add(message);
    this.warn(message);
  }

  debug(message: string): void {
    // A --debug line is a raw diagnostic (a request, a provider's answer), not a message: it still passes
    // terminalText's filter and redaction on its way out.
    if (this.debugEnabled) this.#line(this.style.dim(`debug: ${message}` as DisplayText));
  }

  /** A raw line to stderr (error reporting), wrapped at word boundaries in a terminal. */
  stderr(text: DisplayText): void {
    this.#opts.stderr.write(`${this.wrap(this.terminalText(text))}\n`);
  }

  /**
   * Text for stderr broken at spaces to fit a terminal, so no word is cut in two (continuation lines indented).
   * Not without a terminal: a log keeps one line per message.
   */
  wrap(text: string, reserved = 0): string {
    const columns = this.#opts.stderr.isTTY ? this.#opts.stderr.columns : undefined;
    return columns ? wrapWords(text, columns - reserved, '  ') : text;
  }

  #line(message: string): void {
    const stamp = this.#opts.timestamps ? `${this.#now().toISOString()} ` : '';
    this.#opts.stderr.write(`${this.wrap(`${stamp}${this.terminalText(message)}`)}\n`);
  }
}

/**
 * Colour is decided once: off for --no-color, NO_COLOR (any non-empty value), CI, or a stream that is not a
 * terminal; FORCE_COLOR turns it on (level 1-3) unless --no-color or NO_COLOR says otherwise.
 */
export function decideColorLevel(env: NodeJS.ProcessEnv, stream: { isTTY?: boolean; getColorDepth?: () => number }, noColorFlag: boolean): 0 | 1 | 2 | 3 {
  if (noColorFlag || (env.NO_COLOR !== undefined && env.NO_COLOR !== '')) return 0;
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '0' || force === 'false') return 0;
    const n = Number(force);
    return n >= 1 && n <= 3 ? (n as 1 | 2 | 3) : 1;
  }
  if (!stream.isTTY || isCi(env)) return 0;
  const depth = stream.getColorDepth?.() ?? 4;
  // Depth 1 is a terminal without colours (TERM=dumb).
  if (depth < 4) return 0;
  return depth >= 24 ? 3 : depth >= 8 ? 2 : 1;
}

export function isCi(env: NodeJS.ProcessEnv): boolean {
  return env.CI !== undefined && env.CI !== '' && env.CI !== '0' && env.CI !== 'false';
}
