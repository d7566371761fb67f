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

/**
 * A help example (`keyrot … <3 spaces># what it shows`) as lines of at most `width` where it can: a comment that does
 * not fit beside its command goes above it, wrapped; a command wider than the screen is cut between words outside
 * quotes with a ` \` continuation, so it still pastes into a shell as one command.
 */
export function exampleLines(example: string, width: number): string {
  const line = `  $ ${example}`;
  if (!Number.isFinite(width) || visibleLength(line) <= width || width < 30) return line;
  const at = example.indexOf('   # ');
  const command = at === -1 ? example : example.slice(0, at);
  const comment = at === -1 ? [] : [wrapWords(`  # ${example.slice(at + 5)}`, width, '  # ')];
  return [...comment, commandLines(command, width)].join('\n');
}

function commandLines(command: string, width: number): string {
  // Words are split at spaces outside quotes: a cut inside quotes would change the command.
  const words = command.match(/(?:[^\s'"]+|'[^']*'|"(?:[^"\\]|\\.)*")+/g) ?? [command];
  const lines: string[] = [];
  let current = '  $';
  for (const word of words) {
    // Room for the " \" that continues the line.
    if (current.trim() !== '$' && current.length + 1 + visibleLength(word) > width - 2) {
      lines.push(`${current} \\`);
      current = '     ';
      current += word;
      continue;
    }
    current += `${current.endsWith(' ') ? '' : ' '}${word}`;
  }
  lines.push(current);
  return lines.join('\n');
}
