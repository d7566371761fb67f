// Local stand-ins for the GitLab and Kubernetes APIs the gitlab: and k8s: destinations write to. Each keeps what
// it was given (so a test sees the value a CI job or a pod would read) and holds every request and answer to the
// provider's API description (test/fixtures/k8s-openapi.json, test/fixtures/gitlab-api.json; see their .SOURCE
// files): a violation fails the test.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect } from 'vitest';
import { OpenAPIBackend } from 'openapi-backend';
import { describe as describeErrors, parse } from './contract.js';

export interface Exchange {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  body: unknown;
  status: number;
  answer: unknown;
}

export interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  contentType: string | undefined;
  body: unknown;
}

/** The status and the answer (null: no body, as a 204 has none). */
type Handler = (req: Request) => [number, unknown];

/** The problems with a server's exchanges against the contract it imitates (an empty list: none). */
export type Check = (exchanges: Exchange[]) => Promise<string[]>;

interface Contract {
  file: string;
  name: string;
  /** The schema a failure the document does not describe must match (the provider's error object). */
  failure: string;
  /** The part of a server path above the document's paths. */
  basePath: string;
}

interface Base {
  url: string;
  token: string;
  requests: Request[];
  /** Answers `status` with `body` to requests whose method and path match, instead of the real answer. */
  failWhen(method: string, pattern: RegExp, status: number, body: unknown): void;
  violations(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A local HTTP server that reads each request whole, answers it with `handle` (or a fault set by failWhen), and keeps
 * every exchange for `check`. Paths under /_test/ are not the provider's: `peek` answers them with what a job or a pod
 * would read.
 */
export async function serve(check: Check, handle: Handler, peek: (path: string) => string | undefined, answerType = 'application/json'): Promise<Omit<Base, 'token'>> {
  const exchanges: Exchange[] = [];
  const requests: Request[] = [];
  const faults: Array<{ method: string; pattern: RegExp; status: number; body: unknown }> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      // Not the provider's: what a job or a pod would read, for a test's check command.
      if (url.pathname.startsWith('/_test/')) {
        const value = peek(url.pathname.slice('/_test/'.length));
        res.writeHead(value === undefined ? 404 : 200).end(value ?? '');
        return;
      }
      const contentType = req.headers['content-type']?.split(';')[0];
      const request: Request = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, contentType, body: text ? parse(text) : undefined };
      requests.push(request);
      const fault = faults.find((f) => f.method === request.method && f.pattern.test(request.path));
      const [status, answer] = fault ? [fault.status, fault.body] : handle(request);
      exchanges.push({ method: request.method, path: url.pathname, query: Object.fromEntries(url.searchParams), contentType, body: request.body, status, answer });
      if (answer === null) res.writeHead(status).end();
      else res.writeHead(status, { 'content-type': answerType }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    failWhen: (method, pattern, status, body) => void faults.push({ method, pattern, status, body }),
    violations: () => check(exchanges),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const backends = new Map<string, Promise<OpenAPIBackend>>();

/** Holds every exchange to an API description in test/fixtures (its requests, its answers, its statuses). */
const heldTo =
  (contract: Contract): Check =>
  (exchanges) =>
    violations(contract, exchanges);

async function violations(contract: Contract, exchanges: Exchange[]): Promise<string[]> {
  let pending = backends.get(contract.file);
  if (!pending) {
    pending = (async () => {
      const b = new OpenAPIBackend({
        definition: withFailures(JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', contract.file), 'utf8')), contract.failure),
        strict: false,
        validate: true,
        quick: false,
        customizeAjv: (ajv) =>
          ajv
            .addFormat('byte', /^[A-Za-z0-9+/]*={0,2}$/)
            .addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d/)
            .addFormat('int32', true)
            .addFormat('int64', true),
      });
      await b.init();
      return b;
    })();
    backends.set(contract.file, pending);
  }
  const b = await pending;
  const problems: string[] = [];
  for (const e of exchanges) {
    const where = `${e.method} ${e.path}`;
    const path = e.path.startsWith(`${contract.basePath}/`) ? e.path.slice(contract.basePath.length) : e.path;
    const req = { method: e.method.toLowerCase(), path, query: e.query, headers: { 'content-type': e.contentType ?? 'application/json' }, body: e.body };
    const operation = b.router.matchOperation(req);
    if (!operation) {
      problems.push(`${where}: no such operation in ${contract.name}`);
      continue;
    }
    // openapi-backend takes any media type; the document lists the ones the operation accepts.
    const media = Object.keys((operation.requestBody as { content?: Record<string, unknown> } | undefined)?.content ?? {});
    if (e.body !== undefined && media.length && !media.includes('*/*') && !media.includes(e.contentType ?? '')) problems.push(`${where}: request sent as ${e.contentType}, not ${media.join(' | ')}`);
    const request = b.validateRequest(req, operation);
    if (!request.valid) problems.push(`${where}: request ${describeErrors(request.errors)}`);
    const declared = operation.responses?.[String(e.status)] as { content?: Record<string, { schema?: unknown }> } | undefined;
    if (declared?.content?.['application/json']?.schema || e.status >= 400) {
      // A failure the operation does not describe is checked against the provider's error object (see withFailures).
      const response = b.validateResponse(e.answer, operation, e.status);
      if (!response.valid) problems.push(`${where} → ${e.status}: answer ${describeErrors(response.errors)}`);
    } else {
      problems.push(`${where} → ${e.status}: a status ${contract.name} does not give this operation`);
    }
  }
  return problems;
}

/**
 * The document with a `default` answer on every operation: the provider's error object (Kubernetes' meta.v1.Status,
 * GitLab's {"message"}), which is what every failure carries though the operations list few or none of them.
 */
function withFailures(doc: any, failure: string): any {
  for (const item of Object.values<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      if (method === 'parameters') continue;
      op.responses.default ??= { description: 'failure', content: { 'application/json': { schema: { $ref: `#/components/schemas/${failure}` } } } };
    }
  }
  return doc;
}

/** A fresh server for each test of the suite, held to its document when the test ends. Returns a getter. */
export function useServer<T extends { violations(): Promise<string[]>; close(): Promise<void> }>(start: () => Promise<T>): () => T {
  let s: T | undefined;
  beforeEach(async () => void (s = await start()));
  afterEach(async () => {
    const problems = await s!.violations();
    await s!.close();
    expect(problems).toEqual([]);
  });
  return () => s!;
}

// ---- Kubernetes ----------------------------------------------------------------------------------------------

export interface K8sServer extends Base {
  /** A Secret that exists, with these keys (plain values), immutable or not. */
  secret(namespace: string, name: string, data: Record<string, string>, immutable?: boolean): void;
  /** The plain value of one key of a Secret; undefined when there is no such Secret or key. */
  value(namespace: string, name: string, key: string): string | undefined;
  /** Every key of a Secret, decoded; undefined when it does not exist. */
  data(namespace: string, name: string): Record<string, string> | undefined;
}

/** An API server with the namespaces default and prod; the token is the only credential it takes. */
export async function startK8sServer(): Promise<K8sServer> {
  const token = `k8s-test-${randomBytes(12).toString('hex')}`;
  const namespaces = new Set(['default', 'prod']);
  const secrets = new Map<string, { data: Record<string, string>; immutable: boolean; resourceVersion: number; uid: string }>();
  let version = 100;
  // The Status object every failure carries (meta.v1.Status).
  const status = (code: number, reason: string, message: string, name?: string): [number, unknown] => [
    code,
    { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(name ? { details: { name, kind: 'secrets' } } : {}), code },
  ];
  const object = (ns: string, name: string) => {
    const s = secrets.get(`${ns}/${name}`)!;
    return {
      kind: 'Secret',
      apiVersion: 'v1',
      metadata: { name, namespace: ns, uid: s.uid, resourceVersion: String(s.resourceVersion), creationTimestamp: '2026-01-01T00:00:00Z' },
      data: s.data,
      type: 'Opaque',
      ...(s.immutable ? { immutable: true } : {}),
    };
  };
  const handle: Handler = (req) => {
    if (req.headers.authorization !== `Bearer ${token}`) return status(401, 'Unauthorized', 'Unauthorized');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(req.path);
    if (!m) return status(404, 'NotFound', 'the server could not find the requested resource');
    const [, ns, name] = m as unknown as [string, string, string | undefined];
    const key = `${ns}/${name}`;
    if (req.method === 'POST' && !name) {
      const body = req.body as { metadata?: { name?: string }; data?: Record<string, string> };
      const n = body.metadata?.name ?? '';
      if (!namespaces.has(ns)) return status(404, 'NotFound', `namespaces "${ns}" not found`, ns);
      if (secrets.has(`${ns}/${n}`)) return status(409, 'AlreadyExists', `secrets "${n}" already exists`, n);
      secrets.set(`${ns}/${n}`, { data: { ...(body.data ?? {}) }, immutable: false, resourceVersion: ++version, uid: randomBytes(8).toString('hex') });
      return [201, object(ns, n)];
    }
    if (!name) return status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    const s = secrets.get(key);
    if (!s) return status(404, 'NotFound', `secrets "${name}" not found`, name);
    if (req.method === 'GET') return [200, object(ns, name)];
    if (req.method === 'PATCH') {
      if (req.contentType !== 'application/merge-patch+json' && req.contentType !== 'application/strategic-merge-patch+json')
        return status(415, 'UnsupportedMediaType', `the body of the request was in an unknown format`);
      const patch = req.body as { data?: Record<string, string | null> };
      const next = { ...s.data };
      for (const [k, v] of Object.entries(patch.data ?? {}))
        if (v === null) delete next[k];
        else next[k] = v;
      if (s.immutable && JSON.stringify(next) !== JSON.stringify(s.data))
        return status(422, 'Invalid', `Secret "${name}" is invalid: data: Forbidden: field is immutable when \`immutable\` is set`, name);
      Object.assign(s, { data: next, resourceVersion: ++version });
      return [200, object(ns, name)];
    }
    return status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  };
  const decode = (ns: string, name: string) => {
    const s = secrets.get(`${ns}/${name}`);
    return s && Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  };
  const base = await serve(heldTo({ file: 'k8s-openapi.json', name: "Kubernetes' OpenAPI document", failure: 'io.k8s.apimachinery.pkg.apis.meta.v1.Status', basePath: '' }), handle, (p) => {
    const [ns, name, key] = p.split('/');
    return decode(ns!, name!)?.[key!];
  });
  return {
    ...base,
    token,
    secret: (ns, name, data, immutable = false) =>
      void secrets.set(`${ns}/${name}`, {
        data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
        immutable,
        resourceVersion: ++version,
        uid: randomBytes(8).toString('hex'),
      }),
    value: (ns, name, key) => decode(ns, name)?.[key],
    data: decode,
  };
}

export const useK8sServer = () => useServer(startK8sServer);

/** A kubeconfig for the server: one context, a token user. */
export function kubeconfigFor(k8s: { url: string; token: string }, namespace = 'default'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'current-context: test',
    'clusters:',
    '- name: local',
    '  cluster:',
    `    server: ${k8s.url}`,
    'contexts:',
    '- name: test',
    '  context:',
    '    cluster: local',
    '    user: ci',
    `    namespace: ${namespace}`,
    'users:',
    '- name: ci',
    '  user:',
    `    token: ${k8s.token}`,
    '',
  ].join('\n');
}

// ---- GitLab --------------------------------------------------------------------------------------------------

export interface GitlabVariable {
  key: string;
  value: string;
  variable_type: 'env_var' | 'file';
  protected: boolean;
  masked: boolean;
  hidden: boolean;
  raw: boolean;
  environment_scope: string;
  description: string | null;
}

export interface GitlabServer extends Base {
  /** A project that exists (id and path), optionally with variables. */
  project(id: number, path: string, variables?: Array<Partial<GitlabVariable> & { key: string; value: string }>): void;
  variable(project: string, key: string): GitlabVariable | undefined;
}

// The masking rule GitLab enforces on save (https://docs.gitlab.com/ci/variables/#mask-a-cicd-variable).
const GITLAB_MASKABLE = /^[A-Za-z0-9+/=_\-@:.~]{8,}$/;

export async function startGitlabServer(): Promise<GitlabServer> {
  const token = `glpat-${randomBytes(12).toString('hex')}`;
  const projects = new Map<string, { id: number; path: string; variables: Map<string, GitlabVariable> }>();
  const find = (id: string) => [...projects.values()].find((p) => String(p.id) === id || p.path === id);
  const handle: Handler = (req) => {
    if (req.headers['private-token'] !== token) return [401, { message: '401 Unauthorized' }];
    const m = /^\/api\/v4\/projects\/([^/]+)\/variables(?:\/([^/]+))?$/.exec(req.path);
    if (!m) return [404, { error: '404 Not Found' }];
    const project = find(decodeURIComponent(m[1]!));
    if (!project) return [404, { message: '404 Project Not Found' }];
    const key = m[2] && decodeURIComponent(m[2]);
    const body = (req.body ?? {}) as Partial<GitlabVariable>;
    const invalid = body.masked && !GITLAB_MASKABLE.test(String(body.value)) ? ([400, { message: { value: ['is invalid'] } }] as [number, unknown]) : undefined;
    if (req.method === 'POST' && !key) {
      if (invalid) return invalid;
      if (project.variables.has(String(body.key))) return [400, { message: { key: [`(${body.key}) has already been taken`] } }];
      const v: GitlabVariable = {
        variable_type: 'env_var',
        protected: false,
        masked: false,
        hidden: false,
        raw: false,
        environment_scope: '*',
        description: null,
        ...body,
        key: String(body.key),
        value: String(body.value),
      };
      project.variables.set(v.key, v);
      return [201, v];
    }
    const v = key ? project.variables.get(key) : undefined;
    if (!v) return [404, { message: '404 Variable Not Found' }];
    if (req.method === 'GET') return [200, v];
    if (req.method === 'PUT') {
      if (invalid) return invalid;
      Object.assign(v, body);
      return [200, v];
    }
    return [405, { message: '405 Method Not Allowed' }];
  };
  const base = await serve(heldTo({ file: 'gitlab-api.json', name: "GitLab's API reference", failure: 'error', basePath: '/api/v4' }), handle, (p) => {
    const [project, key] = p.split('/');
    return find(decodeURIComponent(project!))?.variables.get(key!)?.value;
  });
  return {
    ...base,
    url: `${base.url}/api/v4`,
    token,
    project: (id, path, variables = []) =>
      void projects.set(path, {
        id,
        path,
        variables: new Map(variables.map((v) => [v.key, { variable_type: 'env_var', protected: false, masked: false, hidden: false, raw: false, environment_scope: '*', description: null, ...v }])),
      }),
    variable: (project, key) => find(project)?.variables.get(key),
  };
}

export const useGitlabServer = () => useServer(startGitlabServer);
