// A local stand-in for the part of GitHub's REST API the github: and github-org: destinations use. It holds a
// libsodium key pair per repository, environment and organisation, opens what keyrot sealed (so a test sees the
// value GitHub would store), and holds every request and answer to GitHub's own OpenAPI document
// (test/fixtures/github-openapi.json, see its .SOURCE file): a violation fails the test.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sodium from 'libsodium-wrappers';
import { OpenAPIBackend } from 'openapi-backend';
import { describe as describeErrors } from './contract.js';
import { type Exchange, type Request, serve, useServer } from './destination-servers.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'github-openapi.json');

export interface GithubRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: unknown;
  status: number;
}

export interface GithubServer {
  url: string;
  token: string;
  requests: GithubRequest[];
  /** The plaintext of a stored secret, opened with the scope's private key; undefined when never set. */
  secret(scope: string, name: string): string | undefined;
  /** The body keyrot sent for the secret (visibility, repository ids…). */
  lastPut(scope: string, name: string): Record<string, unknown> | undefined;
  /** Answers `status` (with GitHub's error body) to requests whose path matches, instead of the real answer. */
  failWhen(pattern: RegExp, status: number, message: string): void;
  /** An organisation secret that exists (GET answers it) with this visibility and these repositories. */
  orgSecret(org: string, name: string, visibility: 'all' | 'private' | 'selected', repositoryIds?: number[]): void;
  /** Problems with requests or answers against GitHub's OpenAPI document. */
  violations(): Promise<string[]>;
  close(): Promise<void>;
}

interface Scope {
  keyId: string;
  publicKey: Uint8Array;
  privateKey: Uint8Array;
  secrets: Map<string, { sealed: string; body: Record<string, unknown> }>;
}

export async function startGithubServer(): Promise<GithubServer> {
  await sodium.ready;
  const token = `ghp_test${sodium.to_hex(sodium.randombytes_buf(12))}`;
  const scopes = new Map<string, Scope>();
  const orgSecrets = new Map<string, { visibility: string; repositoryIds: number[] }>();
  const faults: Array<{ pattern: RegExp; status: number; message: string }> = [];
  const requests: GithubRequest[] = [];
  const scopeOf = (name: string): Scope => {
    let s = scopes.get(name);
    if (!s) {
      const pair = sodium.crypto_box_keypair();
      s = { keyId: String(1000 + scopes.size), publicKey: pair.publicKey, privateKey: pair.privateKey, secrets: new Map() };
      scopes.set(name, s);
    }
    return s;
  };

  const handle = (method: string, path: string, query: URLSearchParams, auth: string | undefined, body: unknown): [number, unknown] => {
    for (const f of faults) if (f.pattern.test(path)) return [f.status, { message: f.message, documentation_url: 'https://docs.github.com/rest' }];
    if (auth !== `Bearer ${token}`) return [401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' }];
    const m = /^\/(repos\/[^/]+\/[^/]+(?:\/environments\/[^/]+)?|orgs\/[^/]+)(?:\/actions)?\/secrets\/([^/]+)(\/repositories)?$/.exec(path);
    if (!m) return [404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' }];
    const scopeName = decodeURIComponent(m[1]!);
    const name = decodeURIComponent(m[2]!);
    const scope = scopeOf(scopeName);
    if (name === 'public-key' && method === 'GET') return [200, { key_id: scope.keyId, key: sodium.to_base64(scope.publicKey, sodium.base64_variants.ORIGINAL) }];
    const org = orgSecrets.get(`${scopeName}#${name}`);
    if (m[3] && method === 'GET') {
      if (!org) return [404, { message: 'Not Found' }];
      const page = Number(query.get('page') ?? 1);
      const per = Number(query.get('per_page') ?? 30);
      const ids = org.repositoryIds.slice((page - 1) * per, page * per);
      return [200, { total_count: org.repositoryIds.length, repositories: ids.map((id) => sampleRepository(id)) }];
    }
    if (method === 'GET' && scopeName.startsWith('orgs/')) {
      if (!org) return [404, { message: 'Not Found' }];
      return [
        200,
        {
          name,
          created_at: '2026-01-01T00:00:00Z',
          updated_at: '2026-01-01T00:00:00Z',
          visibility: org.visibility,
          ...(org.visibility === 'selected' ? { selected_repositories_url: `https://api.github.com/${scopeName}/actions/secrets/${name}/repositories` } : {}),
        },
      ];
    }
    if (method === 'PUT') {
      const b = body as Record<string, unknown>;
      if (b.key_id !== scope.keyId) return [422, { message: 'Bad key_id' }];
      const existed = scope.secrets.has(name);
      scope.secrets.set(name, { sealed: String(b.encrypted_value), body: b });
      if (org) {
        org.visibility = String(b.visibility);
        org.repositoryIds = (b.selected_repository_ids as number[] | undefined) ?? [];
      }
      return existed ? [204, null] : [201, {}];
    }
    return [404, { message: 'Not Found' }];
  };

  const opened = (scopeName: string, name: string): string | undefined => {
    const scope = scopes.get(scopeName);
    const s = scope?.secrets.get(name);
    if (!scope || !s) return undefined;
    return sodium.to_string(sodium.crypto_box_seal_open(sodium.from_base64(s.sealed, sodium.base64_variants.ORIGINAL), scope.publicKey, scope.privateKey));
  };

  // GitHub refuses a request without a User-Agent: each one sent is a violation of its own.
  const withoutAgent: string[] = [];
  const answer = (req: Request): [number, unknown] => {
    const [status, body] = handle(req.method, req.path, req.query, req.headers.authorization, req.body);
    requests.push({ method: req.method, path: req.path, authorization: req.headers.authorization, body: req.body, status });
    if (!req.headers['user-agent']) withoutAgent.push(`${req.method} ${req.path}: sent without a User-Agent (GitHub refuses those)`);
    return [status, body];
  };
  // Not GitHub's: what a deployed consumer would read from the secret (/_test/secret/SCOPE/NAME), for a test's smoke check.
  const peek = (path: string): string | undefined => {
    const m = /^secret\/(.+)\/([^/]+)$/.exec(path);
    return m ? opened(m[1]!, m[2]!) : undefined;
  };
  const base = await serve(async (exchanges) => [...withoutAgent, ...(await violations(exchanges))], answer, peek, 'application/json; charset=utf-8');

  return {
    ...base,
    token,
    requests,
    secret: opened,
    lastPut: (scope, name) => scopes.get(scope)?.secrets.get(name)?.body,
    failWhen: (pattern, status, message) => void faults.push({ pattern, status, message }),
    orgSecret: (org, name, visibility, repositoryIds = []) => void orgSecrets.set(`orgs/${org}#${name}`, { visibility, repositoryIds }),
  };
}

/**
 * A fresh GitHub for each test of the suite, held to GitHub's document when the test ends (a violation fails it).
 * Returns a getter: the server of the running test.
 */
export function useGithubServer(): () => GithubServer {
  return useServer(startGithubServer);
}

let api: Promise<OpenAPIBackend> | undefined;

async function violations(exchanges: Exchange[]): Promise<string[]> {
  const b = await (api ??= (async () => {
    const backend = new OpenAPIBackend({
      definition: JSON.parse(readFileSync(FIXTURE, 'utf8')),
      strict: false,
      validate: true,
      coerceTypes: true,
      quick: false,
      // The formats GitHub's document uses, checked loosely (ajv knows none of them without ajv-formats).
      customizeAjv: (ajv) => ajv.addFormat('uri', /^https?:\/\//).addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d/),
    });
    await backend.init();
    return backend;
  })());
  const doc = JSON.parse(readFileSync(FIXTURE, 'utf8'));
  const problems: string[] = [];
  for (const e of exchanges) {
    const where = `${e.method} ${e.path}`;
    const req = { method: e.method.toLowerCase(), path: e.path, query: e.query, headers: { 'content-type': 'application/json', accept: 'application/vnd.github+json' }, body: e.body };
    const operation = b.router.matchOperation(req);
    if (!operation) {
      problems.push(`${where}: no such operation in GitHub's OpenAPI document`);
      continue;
    }
    const request = b.validateRequest(req, operation);
    if (!request.valid) problems.push(`${where}: request ${describeErrors(request.errors)}`);
    const declared = operation.responses?.[String(e.status)] as { content?: Record<string, { schema?: unknown }> } | undefined;
    if (declared?.content?.['application/json']?.schema) {
      const response = b.validateResponse(e.answer, operation, e.status);
      if (!response.valid) problems.push(`${where} → ${e.status}: answer ${describeErrors(response.errors)}`);
    } else if (e.status >= 400) {
      // GitHub's failures carry its basic-error object (components/schemas/basic-error): string fields only.
      const fields = Object.keys(doc.components.schemas['basic-error'].properties);
      const bad = Object.entries(e.answer as Record<string, unknown>).filter(([k, v]) => fields.includes(k) && typeof v !== 'string');
      if (bad.length) problems.push(`${where} → ${e.status}: answer is not GitHub's basic-error`);
    } else if (!declared) {
      problems.push(`${where} → ${e.status}: a status GitHub's document does not give this operation`);
    }
  }
  return problems;
}

/** A repository as "List selected repositories for an organization secret" answers it: every required field. */
function sampleRepository(id: number): Record<string, unknown> {
  const doc = JSON.parse(readFileSync(FIXTURE, 'utf8'));
  const schema = doc.paths['/orgs/{org}/actions/secrets/{secret_name}/repositories'].get.responses['200'].content['application/json'].schema.properties.repositories.items;
  return { ...(sample(schema) as Record<string, unknown>), id };
}

/** The smallest value a schema accepts, with every required property: enough to stand for GitHub's answer. */
function sample(schema: any): unknown {
  if (schema.oneOf || schema.anyOf) return sample((schema.oneOf ?? schema.anyOf)[0]);
  if (schema.allOf) return Object.assign({}, ...schema.allOf.map(sample));
  if (schema.enum) return schema.enum[0];
  if (schema.nullable) return null;
  switch (Array.isArray(schema.type) ? schema.type[0] : schema.type) {
    case 'object':
      return Object.fromEntries((schema.required ?? []).map((k: string) => [k, sample(schema.properties?.[k] ?? { type: 'string' })]));
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return false;
    default:
      return schema.format === 'uri' ? 'https://api.github.com/x' : schema.format === 'date-time' ? '2026-01-01T00:00:00Z' : 'x';
  }
}

/** $GITHUB_OUTPUT as the runner reads it (name<<DELIMITER, the value, DELIMITER), by output name. */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2\n/gm)) out[m[1]!] = m[3]!;
  return out;
}
