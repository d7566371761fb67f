// The built-in destinations (--to): what a consumer finds after a delivery, what keyrot refuses before any key
// is made, and what it says when the destination refuses. The GitHub ones run against a local server held to
// GitHub's OpenAPI document, which opens what keyrot sealed.
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTarget, parseTargets } from '../../src/destinations/index.js';
import { withVariable } from '../../src/destinations/dotenv.js';
import { useGithubServer, type GithubServer } from '../helpers/github-server.js';
import { caught } from '../helpers/fixtures.js';

const KEY = 'NEWKEYABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

describe('dotenv:FILE#VAR', () => {
  let dir: string;
  beforeEach(async () => void (dir = await mkdtemp(join(tmpdir(), 'keyrot-dotenv-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['replaces the line, keeps every other', 'A=1\n# note\nVULTR_API_KEY=old\nB="two words"\n', 'A=1\n# note\nVULTR_API_KEY=NEW\nB="two words"\n'],
    ['keeps export and spacing', 'export VULTR_API_KEY = old\n', 'export VULTR_API_KEY = NEW\n'],
    ['adds the line when missing', 'A=1\n', 'A=1\nVULTR_API_KEY=NEW\n'],
    ['adds a line break to a last line without one', 'A=1', 'A=1\nVULTR_API_KEY=NEW\n'],
    ['keeps CRLF line endings', 'A=1\r\nVULTR_API_KEY=old\r\n', 'A=1\r\nVULTR_API_KEY=NEW\r\n'],
    ['does not touch a longer name', 'VULTR_API_KEY_2=x\n', 'VULTR_API_KEY_2=x\nVULTR_API_KEY=NEW\n'],
    ['an empty file', '', 'VULTR_API_KEY=NEW\n'],
  ])('%s', (_, before, after) => {
    expect(withVariable(before, 'VULTR_API_KEY', 'NEW')).toBe(after);
  });

  it('writes the file mode 0600, atomically, again the same on a second delivery, through a symlink', async () => {
    const real = join(dir, 'real.env');
    await writeFile(real, 'A=1\nVULTR_API_KEY=old\n', { mode: 0o644 });
    await symlink(real, join(dir, '.env'));
    const d = parseTarget(`dotenv:${join(dir, '.env')}#VULTR_API_KEY`, { env: {} });
    await d.preflight();
    await d.deliver(KEY);
    await d.deliver(KEY);
    expect(await readFile(real, 'utf8')).toBe(`A=1\nVULTR_API_KEY=${KEY}\n`);
    expect((await stat(real)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, '.env'))).isFile()).toBe(true);
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(dir)).sort()).toEqual(['.env', 'real.env']); // no temporary file left
  });

  it('quotes a key with characters a bare value cannot carry, refuses one with a quote', async () => {
    const file = join(dir, '.env');
    await parseTarget(`dotenv:${file}#K`, { env: {} }).deliver('a b$c');
    expect(await readFile(file, 'utf8')).toBe("K='a b$c'\n");
    const err = await caught(parseTarget(`dotenv:${file}#K`, { env: {} }).deliver("it's"));
    expect(err.message).toMatch(/quote or a line break/);
    expect(err.message).not.toContain("it's");
  });

  it('refuses a bad variable name or a missing folder before anything', async () => {
    expect(() => parseTarget('dotenv:.env#1ABC', { env: {} })).toThrow(/not a variable name/);
    expect(() => parseTarget('dotenv:.env', { env: {} })).toThrow(/expected dotenv:FILE#VAR/);
    await expect(parseTarget(`dotenv:${join(dir, 'no', '.env')}#K`, { env: {} }).preflight()).rejects.toThrow(/does not exist or cannot be written/);
  });
});

describe('github: and github-org:', () => {
  const server = useGithubServer();
  let gh: GithubServer;
  beforeEach(() => void (gh = server()));
  const env = () => ({ GH_TOKEN: gh.token, GITHUB_API_URL: gh.url });

  it('seals a repository secret GitHub can open; a second delivery updates it', async () => {
    const d = parseTarget('github:acme/api#VULTR_API_KEY', { env: env() });
    await d.preflight();
    await d.deliver(KEY);
    expect(gh.secret('repos/acme/api', 'VULTR_API_KEY')).toBe(KEY);
    await d.deliver('SECOND');
    expect(gh.secret('repos/acme/api', 'VULTR_API_KEY')).toBe('SECOND');
    expect(gh.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /repos/acme/api/actions/secrets/public-key 200',
      'GET /repos/acme/api/actions/secrets/public-key 200',
      'PUT /repos/acme/api/actions/secrets/VULTR_API_KEY 201',
      'GET /repos/acme/api/actions/secrets/public-key 200',
      'PUT /repos/acme/api/actions/secrets/VULTR_API_KEY 204',
    ]);
  });

  it('an environment secret, with GITHUB_TOKEN when GH_TOKEN is unset', async () => {
    await parseTarget('github:acme/api@production#VULTR_API_KEY', { env: { GITHUB_TOKEN: gh.token, GITHUB_API_URL: gh.url } }).deliver(KEY);
    expect(gh.secret('repos/acme/api/environments/production', 'VULTR_API_KEY')).toBe(KEY);
  });

  it('an organisation secret keeps its visibility and the repositories it is shared with', async () => {
    const ids = Array.from({ length: 130 }, (_, i) => 5000 + i);
    gh.orgSecret('acme', 'VULTR_API_KEY', 'selected', ids);
    await parseTarget('github-org:acme#VULTR_API_KEY', { env: env() }).deliver(KEY);
    expect(gh.secret('orgs/acme', 'VULTR_API_KEY')).toBe(KEY);
    expect(gh.lastPut('orgs/acme', 'VULTR_API_KEY')).toMatchObject({ visibility: 'selected', selected_repository_ids: ids });
    gh.orgSecret('acme', 'OTHER', 'private');
    await parseTarget('github-org:acme#OTHER', { env: env() }).deliver(KEY);
    expect(gh.lastPut('orgs/acme', 'OTHER')).toMatchObject({ visibility: 'private' });
    expect(gh.lastPut('orgs/acme', 'OTHER')).not.toHaveProperty('selected_repository_ids');
  });

  it('refuses an organisation secret that does not exist yet (keyrot does not choose who may read it)', async () => {
    const err = await caught(parseTarget('github-org:acme#NEW_ONE', { env: env() }).preflight());
    expect(err.message).toMatch(/no organisation secret NEW_ONE.*404/);
    expect(gh.requests.every((r) => r.method === 'GET')).toBe(true);
  });

  it.each([
    [401, 'Bad credentials', /wrong or expired/],
    [403, 'Resource not accessible by integration', /Secrets: write/],
    [404, 'Not Found', /may not see/],
  ])('a %i from GitHub: exit-12 error naming the target, never the token', async (status, message, hint) => {
    gh.failWhen(/secrets\/VULTR_API_KEY$/, status, message);
    const err = (await caught(parseTarget('github:acme/api#VULTR_API_KEY', { env: env() }).deliver(KEY))) as Error & { exitCode: number; hint?: string };
    expect(err.exitCode).toBe(12);
    expect(err.message).toContain(`--to github:acme/api#VULTR_API_KEY: GitHub refused writing the secret (HTTP ${status}: ${message})`);
    expect(err.hint).toMatch(hint);
    expect(`${err.message} ${err.hint}`).not.toContain(gh.token);
    expect(gh.secret('repos/acme/api', 'VULTR_API_KEY')).toBeUndefined();
  });

  it('a wrong token is refused by GitHub at preflight, before any key would be made', async () => {
    const err = await caught(parseTarget('github:acme/api#K', { env: { GH_TOKEN: 'ghp_wrongwrongwrong', GITHUB_API_URL: gh.url } }).preflight());
    expect(err.message).toMatch(/HTTP 401: Bad credentials/);
    expect(err.message).not.toContain('ghp_wrong');
  });

  it('refuses bad targets and a missing token before any request', () => {
    expect(() => parseTarget('github:acme#K', { env: env() })).toThrow(/expected github:OWNER\/REPO#NAME/);
    expect(() => parseTarget('github:acme/api#GITHUB_X', { env: env() })).toThrow(/reserves secret names starting with GITHUB_/);
    expect(() => parseTarget('github:acme/api#1X', { env: env() })).toThrow(/not a GitHub secret name/);
    expect(() => parseTarget('github:acme/api#K', { env: { GITHUB_API_URL: 'http://example.com' } })).toThrow(/must be https/);
    expect(() => parseTarget('github:acme/api#K', { env: { GITHUB_API_URL: gh.url } })).toThrow(/no GitHub token: set GH_TOKEN or GITHUB_TOKEN/);
    expect(() => parseTarget('s3:bucket#K', { env: {} })).toThrow(/unknown destination "s3"/);
    expect(parseTargets(['dotenv:a#K', 'dotenv:a#K'], { env: {} })).toHaveLength(1);
    expect(gh.requests).toEqual([]);
  });

  it('GitHub out of reach: one line naming the host', async () => {
    // Port 1 (tcpmux) is closed on any machine that runs tests: the connection is refused.
    const url = 'http://127.0.0.1:1';
    const err = await caught(parseTarget('github:acme/api#K', { env: { GH_TOKEN: gh.token, GITHUB_API_URL: url } }).deliver(KEY));
    expect(err.message).toBe(`--to github:acme/api#K: ${url} could not be reached (ECONNREFUSED).`);
  });
});
