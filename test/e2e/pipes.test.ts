// keyrot's output piped into a reader that stops early (| head -1): no crash, no stack trace.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN, harness } from '../helpers/e2e.js';

describe('a closed pipe', () => {
  it.each([['rotate', '--help'], ['list-users']])('keyrot %s | head -1: one line out, nothing on stderr', async (...args) => {
    const h = await harness({ users: 3000 });
    const env = Object.entries(h.env).map(([k, v]) => `${k}='${v}'`).join(' ');
    const r = spawnSync('sh', ['-c', `${env} '${process.execPath}' '${BIN}' ${args.join(' ')} | head -1`], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/EPIPE|Error|^\s+at /m);
  });
});
