// keyrot's output piped into a reader that stops early (| head -1): no crash, no stack trace.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { BIN, collect, HAS_KEYCHAIN, harness, json } from '../helpers/e2e.js';

describe('a closed pipe', () => {
  it.each([['rotate', '--help'], ['list-users']])('keyrot %s | head -1: one line out, nothing on stderr', async (...args) => {
    const h = await harness({ users: 3000 });
    const dir = await mkdtemp(join(tmpdir(), 'keyrot-pipe-'));
    const env = Object.entries(h.env)
      .map(([k, v]) => `${k}='${v}'`)
      .join(' ');
    // Spawned, not spawnSync: the sandbox answers from this process. keyrot's own status is kept in a file (the
    // pipeline's is head's).
    const child = spawn('sh', ['-c', `{ ${env} '${process.execPath}' '${BIN}' ${args.join(' ')}; echo $? > '${dir}/status'; } | head -1`]);
    const r = await collect(child, 30_000);
    const out = r.stdout.split('\n').filter((l) => l !== '');
    expect(out, r.stderr).toHaveLength(1);
    expect(out[0]).toMatch(args[0] === 'list-users' ? /\S/ : /^Usage: keyrot rotate/);
    expect(r.stderr).not.toMatch(/EPIPE|Error|^\s+at /m);
    expect((await readFile(join(dir, 'status'), 'utf8')).trim()).toBe('0');
    await rm(dir, { recursive: true, force: true });
  });
});

describe.skipIf(!HAS_KEYCHAIN)('a full disk under stdout or stderr (/dev/full: every write fails with ENOSPC)', () => {
  const ROTATE = ['rotate', '--user', 'ops@example.com', '--key', 'ops-deploy', '--store', 'none', '--no-wait', '--yes'];

  it.each(['stdout', 'stderr'] as const)('on %s: the rotation runs to its end (the hook gets the new key, the old one is revoked), exit 20, no stack trace', async (stream) => {
    const h = await harness();
    const dir = await mkdtemp(join(tmpdir(), 'keyrot-full-'));
    const file = join(dir, 'consumer.key');
    const r = await h.run([...ROTATE, '--events', '--on-new-key', `cat > '${file}'`], stream === 'stdout' ? { stdoutTo: '/dev/full' } : { stderrTo: '/dev/full' });
    expect(r.code, r.stderr).toBe(20);
    const keys = h.keysOf('ops@example.com');
    expect(keys.map((k) => k.name)).toEqual(['ops-deploy-v2']);
    // The only live key is the one the hook holds.
    expect((await readFile(file, 'utf8')).trim()).toBe(keys[0]!.plaintext);
    if (stream === 'stdout') expect(r.stderr).toMatch(/^error: keyrot could not write its stdout \(ENOSPC\); the work ran to its end/m);
    expect(r.stderr + r.stdout).not.toMatch(/^\s+at |node:internal/m);
    await rm(dir, { recursive: true, force: true });
  });

  it('audit --json > a file the disk fills in the middle of a write: exit 20 and the line saying so, never exit 0 with half a document', async () => {
    // 20 users: a document of about 18 kB, written in one piece, of which the disk takes only part.
    const h = await harness({ users: 20, keysPerUser: 1 });
    const dir = await mkdtemp(join(tmpdir(), 'keyrot-part-'));
    const out = join(dir, 'audit.json');
    const env = Object.entries(h.env)
      .map(([k, v]) => `${k}='${v}'`)
      .join(' ');
    // A file size limit of 8 kB (SIGXFSZ ignored) takes the first 8 kB of a write and refuses the rest (EFBIG), as a
    // disk that fills mid-write takes part of it and refuses the rest (ENOSPC).
    // Spawned, not spawnSync: the sandbox answers from this process.
    const child = spawn('sh', ['-c', `trap '' XFSZ; ulimit -f 16; ${env} exec '${process.execPath}' '${BIN}' audit --json > '${out}'`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const status = await new Promise((resolve) => child.on('close', resolve));
    const r = { status, stderr };
    expect((await readFile(out)).length).toBe(8192);
    expect(r.status, r.stderr).toBe(20);
    expect(r.stderr).toMatch(/^error: keyrot could not write its stdout \(EFBIG\); the work ran to its end/m);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    await rm(dir, { recursive: true, force: true });
  });

  it.each([['status', '--json'], ['status'], ['--help'], ['--version']])('keyrot %s > a full disk, a command that ends on its last write: exit 20, not 0', async (...args) => {
    const h = await harness();
    const r = await h.run(args, { stdoutTo: '/dev/full' });
    expect(r.code, r.stderr).toBe(20);
    expect(r.stderr).toMatch(/^error: keyrot could not write its stdout \(ENOSPC\)/m);
  });

  it('list-keys --json > a full disk: one line, exit 20, no stack trace', async () => {
    const h = await harness();
    const r = await h.run(['list-keys', '--user', 'ops@example.com', '--json', '--store', 'none'], { stdoutTo: '/dev/full' });
    expect(r.code).toBe(20);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe.skipIf(!HAS_KEYCHAIN)('a file GitHub Actions reads after the step that keyrot cannot write', () => {
  const ROTATE = ['rotate', '--user', 'ops@example.com', '--key', 'ops-deploy', '--store', 'none', '--no-wait', '--yes'];
  const lostLines = (stderr: string) => stderr.split('\n').filter((l) => /could not write|GITHUB_/.test(l));

  it.each([
    ['GITHUB_OUTPUT', '/dev/full', /ENOSPC/],
    ['GITHUB_OUTPUT', 'no-such-folder/out', /ENOENT/],
    ['GITHUB_STEP_SUMMARY', '/dev/full', /ENOSPC/],
    ['GITHUB_STEP_SUMMARY', 'no-such-folder/summary', /ENOENT/],
  ])('rotate with %s=%s: the rotation runs to its end, then exit 20 (output lost) and one line, no stack trace, no key', async (variable, where, cause) => {
    const h = await harness();
    const dir = await mkdtemp(join(tmpdir(), 'keyrot-gha-'));
    const file = join(dir, 'consumer.key');
    const target = where.startsWith('/') ? where : join(dir, where);
    const r = await h.run([...ROTATE, '--on-new-key', `cat > '${file}'`], { env: { GITHUB_ACTIONS: 'true', [variable]: target } });
    expect(r.code, r.stderr).toBe(ExitCode.outputLost);
    const keys = h.keysOf('ops@example.com');
    expect(keys.map((k) => k.name)).toEqual(['ops-deploy-v2']);
    const key = (await readFile(file, 'utf8')).trim();
    expect(key).toBe(keys[0]!.plaintext);
    expect(lostLines(r.stderr)).toHaveLength(1);
    expect(lostLines(r.stderr)[0]).toMatch(new RegExp(`^(\\S+ )?error: keyrot could not write \\$${variable} \\(`));
    expect(lostLines(r.stderr)[0]).toMatch(cause);
    expect(r.stderr).not.toMatch(/warning:|^\s+at |node:internal/m);
    // The one line that carries the key is the mask the runner consumes and never shows.
    expect((r.stdout + r.stderr).replace(`::add-mask::${key}`, '')).not.toContain(key);
    await rm(dir, { recursive: true, force: true });
  });

  it('rotate --all --json and create with GITHUB_OUTPUT in a folder that does not exist: exit 20, the document on stdout intact', async () => {
    const h = await harness();
    const dir = await mkdtemp(join(tmpdir(), 'keyrot-gha-'));
    const env = { GITHUB_ACTIONS: 'true', GITHUB_OUTPUT: join(dir, 'gone', 'out') };
    const all = await h.run(['rotate', '--all', '--match', 'ops-*', '--store', 'none', '--on-new-key', 'cat >/dev/null', '--no-wait', '--yes', '--json'], { env });
    expect(all.code, all.stderr).toBe(ExitCode.outputLost);
    expect(json(all)).toMatchObject({ outcome: 'done', counts: { keys: 1, done: 1 } });
    expect(lostLines(all.stderr)).toHaveLength(1);
    const created = await h.run(['create', '--user', 'ops@example.com', '--name', 'made', '--store', 'none', '--on-new-key', 'cat >/dev/null', '--json'], { env });
    expect(created.code, created.stderr).toBe(ExitCode.outputLost);
    expect(json(created)).toMatchObject({ name: 'made' });
    expect(lostLines(created.stderr)).toEqual([expect.stringMatching(/error: keyrot could not write \$GITHUB_OUTPUT \(ENOENT/)]);
    await rm(dir, { recursive: true, force: true });
  });

  it('a rotation that fails anyway keeps its own exit code, and says the outputs were lost as a warning', async () => {
    const h = await harness();
    const r = await h.run([...ROTATE, '--on-new-key', 'exit 3'], { env: { GITHUB_ACTIONS: 'true', GITHUB_OUTPUT: '/dev/full' } });
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBe(ExitCode.outputLost);
    expect(lostLines(r.stderr)).toEqual([expect.stringMatching(/warning: keyrot could not write \$GITHUB_OUTPUT \(ENOSPC/)]);
  });
});
