// "Did you mean …?": the candidates closest to what someone typed (a command, a user, a key name).

/** Optimal-string-alignment distance (Levenshtein plus swapped neighbours), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...Array<number>(t.length).fill(0)]);
  for (let j = 1; j <= t.length; j++) (rows[0] as number[])[j] = j;
  for (let i = 1; i <= s.length; i++) {
    const row = rows[i] as number[];
    const above = rows[i - 1] as number[];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) best = Math.min(best, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = best;
    }
  }
  return (rows[s.length] as number[])[t.length] as number;
}

/**
 * How far `candidate` is from what was typed, or null when too far to suggest: a typo of a third of the length
 * (at least one character, at most three), or `typed` being the start of the candidate ("ops" → ops@example.com).
 */
export function nearness(typed: string, candidate: string): number | null {
  const want = typed.trim().toLowerCase();
  const have = candidate.toLowerCase();
  if (!want || !have) return null;
  if (want === have) return 0;
  if (want.length >= 2 && have.startsWith(want)) return 1;
  const distance = editDistance(want, have);
  return distance <= Math.min(3, Math.max(1, Math.floor(want.length / 3))) ? distance : null;
}

/**
 * The items nearest to `typed`: those at the best distance found (a near miss hides far ones), at most `limit`,
 * in the items' order. Each item is compared through every label it has (a user: e-mail, name, id); its best
 * label counts.
 */
export function closest<T>(typed: string, items: readonly T[], labels: (item: T) => readonly string[], limit = 3): T[] {
  const scored: Array<{ item: T; score: number; index: number }> = [];
  items.forEach((item, index) => {
    const scores = labels(item)
      .map((label) => nearness(typed, label))
      .filter((s): s is number => s !== null);
    if (scores.length) scored.push({ item, score: Math.min(...scores), index });
  });
  const best = Math.min(...scored.map((s) => s.score));
  return scored
    .filter((s) => s.score === best)
    .sort((a, b) => a.index - b.index)
    .slice(0, limit)
    .map((s) => s.item);
}

/** " Did you mean a, b or c?" (with a leading space), or '' when nothing is close. */
export function didYouMean(typed: string, candidates: readonly string[], limit = 3): string {
  const near = closest(typed, candidates, (c) => [c], limit);
  return near.length ? ` Did you mean ${orList(near)}?` : '';
}

/** "a", "a or b", "a, b or c". */
export function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}
