// One JSON document written in pieces: the same text as JSON.stringify(value, replacer, indent), without ever holding
// the whole of it. An audit of 1,000 users is a document of about 850 kB; built as one string, then copied into a
// Buffer for the write, it was the last and highest step of the audit's memory (bench/audit.mjs).

/** A replacer that looks at values only, never at their keys (so a value can be serialised apart from its holder). */
export type ValueReplacer = (value: unknown) => unknown;

/** Pieces are gathered up to this size before a write: a few writes per document, not one per array element. */
const PIECE = 64 * 1024;

/**
 * Writes `value` as JSON.stringify(value, replacer, indent) would, in pieces of about 64 kB. A top-level array is
 * serialised one element at a time, a top-level object one member at a time, and an array that is a member of a
 * top-level object (an audit's `keys`) one element at a time. Each piece goes through `finish` before its write; a
 * piece always ends between two JSON tokens, never inside a string. `terminator` follows the document, in its last
 * piece.
 */
export function writeJsonText(value: unknown, replacer: ValueReplacer, indent: number, write: (text: string) => void, finish: (text: string) => string = (text) => text, terminator = ''): void {
  let pending = '';
  const emit = (text: string) => {
    pending += text;
    if (pending.length >= PIECE) {
      write(finish(pending));
      pending = '';
    }
  };
  const newline = (depth: number) => (indent > 0 ? `\n${' '.repeat(indent * depth)}` : '');
  // A value's own JSON text, moved right to its depth (all of a JSON text's line breaks lie between tokens: a line
  // break inside a string is written \n). undefined for what JSON leaves out: undefined, functions, symbols.
  const text = (v: unknown, depth: number): string | undefined => {
    const json = JSON.stringify(v, (_key, x: unknown) => replacer(x), indent) as string | undefined;
    return json === undefined || depth === 0 ? json : json.replaceAll('\n', newline(depth));
  };
  const resolved = (v: unknown) => replacer(toJsonValue(v));
  const array = (items: unknown[], depth: number) => {
    // An index loop, not forEach: a hole is null in JSON, not left out.
    for (let i = 0; i < items.length; i++) emit(`${i === 0 ? '[' : ','}${newline(depth + 1)}${text(items[i], depth + 1) ?? 'null'}`);
    emit(items.length === 0 ? '[]' : `${newline(depth)}]`);
  };

  const top = resolved(value);
  if (Array.isArray(top)) {
    array(top, 0);
  } else if (typeof top === 'object' && top !== null) {
    let members = 0;
    for (const [key, member] of Object.entries(top)) {
      const inner = resolved(member);
      const memberText = Array.isArray(inner) ? '' : text(member, 1);
      if (memberText === undefined) continue; // an object leaves such members out
      emit(`${members++ === 0 ? '{' : ','}${newline(1)}${JSON.stringify(key)}:${indent > 0 ? ' ' : ''}${memberText}`);
      if (Array.isArray(inner)) array(inner, 1);
    }
    emit(members === 0 ? '{}' : `${newline(0)}}`);
  } else {
    emit(String(text(value, 0)));
  }
  pending += terminator;
  if (pending) write(finish(pending));
}

function toJsonValue(v: unknown): unknown {
  const toJSON = typeof v === 'object' && v !== null ? (v as { toJSON?: unknown }).toJSON : undefined;
  return typeof toJSON === 'function' ? (toJSON as () => unknown).call(v) : v;
}
