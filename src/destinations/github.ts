// GitHub Actions secrets: github:OWNER/REPO#NAME, github:OWNER/REPO@ENVIRONMENT#NAME, github-org:ORG#NAME.
// GitHub takes a secret only sealed (libsodium's crypto_box_seal) with the public key it hands out for the
// repository, environment or organisation, sent with that key's id:
// https://docs.github.com/rest/actions/secrets#create-or-update-a-repository-secret (operations
// actions/get-repo-public-key, actions/create-or-update-repo-secret, the environment and organisation
// twins, and actions/get-org-secret in github/rest-api-description; excerpt in test/fixtures/github-openapi.json).
import { UsageError } from '../errors.js';
import { DestinationError } from './errors.js';
import { apiUrl, callJson, refused, under, type JsonAnswer } from './http.js';
import type { Destination, DestinationDeps } from './types.js';
import { say, displayText } from '../ui/display-text.js';

export type GithubScope = { kind: 'repo'; owner: string; repo: string } | { kind: 'environment'; owner: string; repo: string; environment: string } | { kind: 'org'; org: string };

/** The API version keyrot was written against (https://docs.github.com/rest/about-the-rest-api/api-versions). */
const API_VERSION = '2022-11-28';

/** Pages of 100 repositories read for a "selected" organisation secret before keyrot gives up on the list. */
const MAX_PAGES = 1000;

/**
 * Secret names GitHub accepts (https://docs.github.com/actions/security-guides/using-secrets-in-github-actions#naming-your-secrets):
 * letters, digits and _, not starting with a digit nor with GITHUB_.
 */
export function checkSecretName(target: string, name: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw new UsageError(say`--to ${displayText(target)}: "${displayText(name)}" is not a GitHub secret name (letters, digits and _, not starting with a digit).`);
  if (/^GITHUB_/i.test(name)) throw new UsageError(say`--to ${displayText(target)}: GitHub reserves secret names starting with GITHUB_.`);
}

export function githubDestination(target: string, scope: GithubScope, name: string, deps: DestinationDeps): Destination {
  checkSecretName(target, name);
  const base = scopePath(target, scope);
  const api = apiBase(target, deps.env);
  const sent = headers(target, deps.env);
  /** What no error text may quote: the token, and once delivering, the key. */
  const secrets = [(sent.authorization ?? '').replace(/^Bearer /, '')];
  const call = async (method: 'GET' | 'PUT', path: string, body?: unknown): Promise<JsonAnswer> =>
    callJson(target, { method, url: under(target, api, path), headers: sent, body }, deps.dispatcher, deps.signal);

  /** The organisation secret as it is: its visibility is kept (keyrot does not choose who may read a secret). */
  async function orgSecret(): Promise<{ visibility: 'all' | 'private' | 'selected' }> {
    const answer = await call('GET', `${base}/secrets/${encodeURIComponent(name)}`);
    if (answer.status === 404) {
      throw new DestinationError(
        target,
        `GitHub has no organisation secret ${name} that this token can see (HTTP 404)`,
        say`Create it once in the organisation settings, choosing which repositories may read it; keyrot then updates its value and keeps that choice.`,
      );
    }
    expect(target, answer, secrets, 200, 'reading the organisation secret');
    const visibility = (answer.body as { visibility?: unknown }).visibility;
    if (visibility !== 'all' && visibility !== 'private' && visibility !== 'selected') throw new DestinationError(target, 'GitHub answered an organisation secret without a visibility keyrot knows');
    return { visibility };
  }

  /** The ids of the repositories a "selected" organisation secret is shared with, every page of them. */
  async function selectedRepositories(): Promise<number[]> {
    const ids: number[] = [];
    // A server that never stops paging (a hostile one, or a proxy's bug) would otherwise keep keyrot here for ever.
    for (let page = 1; page <= MAX_PAGES; page++) {
      const answer = await call('GET', `${base}/secrets/${encodeURIComponent(name)}/repositories?per_page=100&page=${page}`);
      expect(target, answer, secrets, 200, 'listing the repositories the organisation secret is shared with');
      const { total_count: total, repositories } = answer.body as { total_count?: unknown; repositories?: unknown };
      if (typeof total !== 'number' || !Array.isArray(repositories)) throw new DestinationError(target, 'GitHub answered a repository list without total_count and repositories');
      for (const r of repositories) if (typeof (r as { id?: unknown }).id === 'number') ids.push((r as { id: number }).id);
      if (repositories.length === 0 || ids.length >= total) return ids;
    }
    throw new DestinationError(target, `GitHub kept paging the organisation secret's repositories past ${MAX_PAGES * 100}; keyrot stopped rather than send a partial list`);
  }

  async function publicKey(): Promise<{ keyId: string; key: string }> {
    const answer = await call('GET', `${base}/secrets/public-key`);
    expect(target, answer, secrets, 200, 'reading the public key secrets are sealed with');
    const { key_id: keyId, key } = answer.body as { key_id?: unknown; key?: unknown };
    if (typeof keyId !== 'string' || typeof key !== 'string' || !keyId || !key) throw new DestinationError(target, 'GitHub answered a public key without key_id and key');
    // Checked here, so the preflight finds a key nothing could be sealed with before any new key exists.
    await sealingKey(target, key);
    return { keyId, key };
  }

  return {
    target,
    async preflight() {
      if (scope.kind === 'org') await orgSecret();
      await publicKey();
    },
    async deliver(secret) {
      const org = scope.kind === 'org' ? await orgSecret() : null;
      const { keyId, key } = await publicKey();
      const body: Record<string, unknown> = { encrypted_value: await seal(target, secret, key), key_id: keyId };
      // An organisation secret's update must say its visibility (required in the operation), and a "selected"
      // one its repositories: GitHub takes a missing selected_repository_ids as none, cutting every repository
      // off (reported in external-secrets/external-secrets#6514, fixed there the same way, by re-sending them).
      if (org) {
        body.visibility = org.visibility;
        if (org.visibility === 'selected') body.selected_repository_ids = await selectedRepositories();
      }
      const answer = await call('PUT', `${base}/secrets/${encodeURIComponent(name)}`, body);
      // 201 when the secret was created, 204 when it was updated (both in the operation's responses).
      if (answer.status !== 201 && answer.status !== 204) fail(target, answer, [...secrets, secret], 'writing the secret');
    },
  };
}

function scopePath(target: string, scope: GithubScope): string {
  const e = (segment: string): string => {
    // "." and ".." are no GitHub name, and a URL resolves them away: the call would name another path.
    if (segment === '.' || segment === '..')
      throw new UsageError(say`--to ${displayText(target)}: "${displayText(`${segment}`)}" is not a GitHub owner, repository, environment or organisation name.`);
    return encodeURIComponent(segment);
  };
  if (scope.kind === 'org') return `/orgs/${e(scope.org)}/actions`;
  if (scope.kind === 'environment') return `/repos/${e(scope.owner)}/${e(scope.repo)}/environments/${e(scope.environment)}`;
  return `/repos/${e(scope.owner)}/${e(scope.repo)}/actions`;
}

/** GITHUB_API_URL (set by Actions runners, and on GitHub Enterprise Server to its /api/v3), else github.com's. */
function apiBase(target: string, env: NodeJS.ProcessEnv): URL {
  return apiUrl(target, 'GITHUB_API_URL', env.GITHUB_API_URL || 'https://api.github.com');
}

/** The token from GH_TOKEN, else GITHUB_TOKEN (the order gh uses). It goes in the Authorization header and nowhere else. */
function headers(target: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const token = env.GH_TOKEN || env.GITHUB_TOKEN;
  if (!token)
    throw new UsageError(say`--to ${displayText(target)}: no GitHub token: set GH_TOKEN or GITHUB_TOKEN.`, {
      hint: say`In a workflow: env: GH_TOKEN: \${{ secrets.SECRETS_TOKEN }} (a token allowed to write Actions secrets; the job's own GITHUB_TOKEN cannot).`,
    });
  return {
    authorization: `Bearer ${token}`,
    accept: 'application/vnd.github+json',
    'x-github-api-version': API_VERSION,
    // GitHub refuses requests without a User-Agent (https://docs.github.com/rest/using-the-rest-api/getting-started-with-the-rest-api#user-agent).
    'user-agent': 'keyrot',
  };
}

/** Seals `secret` for GitHub: crypto_box_seal with the base64 public key, base64 out. */
export async function seal(target: string, secret: string, publicKey: string): Promise<string> {
  const { sodium, key } = await sealingKey(target, publicKey);
  return sodium.to_base64(sodium.crypto_box_seal(sodium.from_string(secret), key), sodium.base64_variants.ORIGINAL);
}

/** The public key's 32 bytes, or DestinationError for one that is not base64 or not a crypto_box public key. */
async function sealingKey(target: string, publicKey: string) {
  const { default: sodium } = await import('libsodium-wrappers');
  await sodium.ready;
  let key: Uint8Array;
  try {
    key = sodium.from_base64(publicKey, sodium.base64_variants.ORIGINAL);
  } catch {
    throw new DestinationError(target, 'GitHub answered a public key that is not base64');
  }
  if (key.length !== sodium.crypto_box_PUBLICKEYBYTES) throw new DestinationError(target, `GitHub answered a public key of ${key.length} bytes, not ${sodium.crypto_box_PUBLICKEYBYTES}`);
  return { sodium, key };
}

function expect(target: string, answer: JsonAnswer, secrets: readonly string[], status: number, doing: string): void {
  if (answer.status !== status) fail(target, answer, secrets, doing);
}

function fail(target: string, answer: JsonAnswer, secrets: readonly string[], doing: string): never {
  refused(
    target,
    'GitHub',
    doing,
    answer,
    {
      401: say`GitHub rejected the token in GH_TOKEN/GITHUB_TOKEN: it is wrong or expired.`,
      403: say`The token may not write Actions secrets here: a fine-grained token needs "Secrets: write" (organisation: "Secrets: write" on the organisation), a classic one the repo (admin:org) scope.`,
      404: say`GitHub answers 404 for a repository, environment or organisation that does not exist and for one the token may not see.`,
    },
    secrets,
  );
}
