// Wrapping text for people at word boundaries, so a narrow terminal never breaks a word (or an id) in two.

// eslint-disable-next-line no-control-regex
const STYLE = /\u001b\[[0-9;]*m/g;

/** The width a line takes on screen: keyrot's own colour codes take none. */
export function visibleLength(text: string): number {
  return [...text.replace(STYLE, '')].length;
}

/**
 * Each line of `text` broken at spaces so that none is wider than `width`, where it can be: a single word
 * longer than the width (a URL, a path) keeps a line of its own, unbroken. Continuation lines start with
 * `indent`. Existing line breaks stay.
 */
export function wrapWords(text: string, width: number, indent = ''): string {
  if (!Number.isFinite(width) || width <= indent.length + 10) return text;
  return text
    .split('\n')
    .map((line) => wrapLine(line, width, indent))
    .join('\n');
}

function wrapLine(line: string, width: number, indent: string): string {
  if (visibleLength(line) <= width) return line;
  const lead = /^\s*/.exec(line)?.[0] ?? '';
  const words = line.slice(lead.length).split(/ +/);
  const out: string[] = [];
  let current = lead;
  let currentLength = visibleLength(lead);
  let empty = true;
  for (const word of words) {
    const length = visibleLength(word);
    if (!empty && currentLength + 1 + length > width) {
      out.push(current);
      current = indent + word;
      currentLength = indent.length + length;
      continue;
    }
    current += `${empty ? '' : ' '}${word}`;
    currentLength += (empty ? 0 : 1) + length;
    empty = false;
  }
  out.push(current);
  return out.join('\n');
}
