// rotate --all's live block in a terminal: no line may be wider than the terminal, or it wraps onto two rows, the
// redraw moves up one row per line and leaves the extra rows behind as stale lines.
import type { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createBatchProgress } from '../../src/ui/batch-progress.js';
import { Output } from '../../src/ui/output.js';
import { visibleLength } from '../../src/ui/wrap.js';
import { say } from '../../src/ui/display-text.js';

function terminal(columns: number): { out: Output; written: string[] } {
  const written: string[] = [];
  const stderr = { isTTY: true, columns, write: (chunk: string) => (written.push(String(chunk)), true) } as unknown as Writable & { isTTY: boolean; columns: number };
  const stdout = { isTTY: false, write: () => true } as unknown as Writable;
  const out = new Output({ stdout, stderr, json: false, events: false, quiet: false, verbose: false, debug: false, colorLevel: 1, timestamps: false, now: () => new Date(0) });
  return { out, written };
}

/** The live block's erase: up to its top, each of its rows erased, back up to its top. */
const CLEAR = /\x1b\[(\d+)F(?:\x1b\[2K\x1b\[1E)+\x1b\[\1F/;

describe('batch progress in a terminal', () => {
  it.each([40, 80])('every live line fits %i columns, with long and invisible-laden names', async (columns) => {
    const { out, written } = terminal(columns);
    const progress = createBatchProgress(out, true, 200, () => 123_456);
    for (let i = 0; i < 3; i++) {
      const task = progress.begin(`user-${i}-with-a-rather-long-e-mail@example.com/deploy\u200b\u200b\u200b-key-${'x'.repeat(40)}`);
      const step = await task.startStep('Wait for consumers to use the new key');
      step.update('activity not seen yet, 4m 10s left');
    }
    progress.begin('short').finish('ok', say`short rotated`);
    progress.close();
    // The live block: everything after a cursor-up-and-clear, up to the next one.
    const blocks = written.join('').split(CLEAR);
    expect(blocks.length).toBeGreaterThan(1);
    for (const block of blocks.slice(1)) {
      for (const line of block.split('\n').filter(Boolean)) expect(visibleLength(line), line).toBeLessThanOrEqual(columns);
    }
  });

  it('a window narrowed since the last draw: the erase covers every row the re-wrapped lines now take, line by line', async () => {
    const { out, written } = terminal(120);
    const progress = createBatchProgress(out, true, 2, () => 123_456);
    const task = progress.begin(`ops@example.com/deploy-key-${'x'.repeat(60)}`);
    await task.startStep('Hand the new key to consumers');
    progress.begin('other').note('a line that stays');
    const lastBlock = written.join('').split(CLEAR).at(-1) ?? '';
    const widths = lastBlock.split('\n').filter(Boolean).map(visibleLength);
    expect(Math.max(...widths)).toBeGreaterThan(80);
    (out.stderrStream as unknown as { columns: number }).columns = 40;
    written.length = 0;
    task.finish('ok', say`rotated`);
    progress.close();
    const erase = CLEAR.exec(written.join(''));
    expect(Number(erase?.[1])).toBe(widths.reduce((sum, w) => sum + Math.ceil(w / 40), 0));
    // Never "erase to end of screen": at the screen's top, tmux copies the whole screen into its scrollback.
    expect(written.join('')).not.toContain('\x1b[J');
  });
});
