// Contract checks against the providers' own API documents (test/fixtures/*-openapi.json, see their .SOURCE files):
// Vultr's OpenAPI document and Grafana's HTTP API document. Every request keyrot sends to a sandbox in the e2e tests
// must be valid for the document (method, path, query, body), and every sandbox answer the document describes with
// a schema must match it. The validator is openapi-backend (maintained, framework-agnostic, ajv underneath,
// validates requests and responses alike).
//
// Kubeadapt serves its own OpenAPI document (/v1/openapi.json) but no copy of it is public in a repository keyrot
// can cite, so its sandbox is held to the documented answer shapes in test/e2e/kubeadapt.test.ts instead; the
// example service-account platform (--provider example) has no public API at all: its sandbox is the definition.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpenAPIBackend } from 'openapi-backend';
import type { Exchange } from '../../src/sandbox/server.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

/**
 * The document's known flaws, fixed here and only here (everything else is taken as Vultr wrote it):
 * - `user.status` has the invalid type "enum"; the schema lists pending|active|suspended|closed while an example
 *   shows `true`: a string of those four, or a boolean.
 * - The `user` schema wraps its fields in a `user` property. That is right for GET /users/{id} (`{"user": {…}}`),
 *   but the items of GET /users are the fields themselves (as the document's own example shows).
 * - `apikey.date_expire` of a key that never expires: the public sources disagree (absent, "" or null); null is
 *   allowed beside the string.
 * - `/apikeys/{apikey-id}` does not declare its `apikey-id` path parameter (its twin under /users does): declared
 *   here the same way, a string.
 * - The security scheme is named "API Key": a name with a space, which OpenAPI 3.0's own schema rejects in
 *   security requirements. Renamed ApiKey (the scheme itself, bearer auth, is unchanged).
 */
function fixVultrFlaws(doc: any): any {
  const rename = (requirements: Array<Record<string, unknown>> | undefined) =>
    requirements?.map((r) => Object.fromEntries(Object.entries(r).map(([name, scopes]) => [name === 'API Key' ? 'ApiKey' : name, scopes])));
  doc.components.securitySchemes = { ApiKey: doc.components.securitySchemes['API Key'] };
  doc.security = rename(doc.security);
  for (const path of Object.values<any>(doc.paths)) for (const op of Object.values<any>(path)) if (op?.security) op.security = rename(op.security);
  const own = doc.paths['/apikeys/{apikey-id}'];
  own.parameters = [...(own.parameters ?? []), { name: 'apikey-id', in: 'path', required: true, schema: { type: 'string' } }];
  const user = doc.components.schemas.user;
  user.properties.user.properties.status = { oneOf: [{ type: 'string', enum: ['pending', 'active', 'suspended', 'closed'] }, { type: 'boolean' }] };
  doc.components.schemas.userFields = user.properties.user;
  doc.paths['/users'].get.responses['200'].content['application/json'].schema.properties.users.items = { $ref: '#/components/schemas/userFields' };
  doc.components.schemas.apikey.properties.date_expire.nullable = true;
  return doc;
}

/**
 * Grafana's document is Swagger 2.0 (openapi-backend reads OpenAPI 3): its definitions, responses and parameters
 * moved to their OpenAPI 3 places, nothing else changed. Its one flaw, fixed here: TokenDTO's `created`,
 * `lastUsedAt`, `expiration`, `secondsUntilExpiration` and `isRevoked` are Go pointers without omitempty in Grafana's
 * own source (pkg/services/serviceaccounts/api/token.go, `LastUsedAt *time.Time \`json:"lastUsedAt"\``), so a token
 * never used or never expiring is sent with null there, which Swagger 2.0 cannot say.
 */
function fromGrafanaSwagger(swagger: any): any {
  const doc = JSON.parse(JSON.stringify(swagger).replaceAll('#/definitions/', '#/components/schemas/').replaceAll('#/responses/', '#/components/responses/'));
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    paths[path] = {};
    for (const [method, op] of Object.entries<any>(item)) {
      const params: any[] = op.parameters ?? [];
      const body = params.find((p) => p.in === 'body');
      paths[path][method] = {
        operationId: op.operationId,
        parameters: params
          .filter((p) => p.in !== 'body')
          .map((p) => ({ name: p.name, in: p.in, required: p.required === true, schema: p.format ? { type: p.type, format: p.format } : { type: p.type } })),
        ...(body ? { requestBody: { content: { 'application/json': { schema: body.schema } } } } : {}),
        responses: op.responses,
      };
    }
  }
  const responses = Object.fromEntries(
    Object.entries<any>(doc.responses).map(([name, r]) => [name, { description: r.description, ...(r.schema ? { content: { 'application/json': { schema: r.schema } } } : {}) }]),
  );
  const token = doc.definitions.TokenDTO.properties;
  for (const field of ['created', 'lastUsedAt', 'expiration', 'secondsUntilExpiration', 'isRevoked']) token[field].nullable = true;
  return {
    openapi: '3.0.3',
    info: doc.info,
    paths,
    components: { schemas: doc.definitions, responses, securitySchemes: { api_key: { type: 'apiKey', name: 'Authorization', in: 'header' } } },
    security: [{ api_key: [] }],
  };
}

/** A provider's document, as the validator reads it; `basePath`: the part of a sandbox path above the document's paths. */
const CONTRACTS = {
  vultr: { file: 'vultr-openapi.json', name: "Vultr's OpenAPI document", basePath: '', prepare: fixVultrFlaws },
  grafana: { file: 'grafana-openapi.json', name: "Grafana's HTTP API document", basePath: '/api', prepare: fromGrafanaSwagger },
} as const;

export type ContractName = keyof typeof CONTRACTS;

const backends = new Map<ContractName, Promise<OpenAPIBackend>>();

/** A provider's document with its known flaws fixed, as every check reads it. */
export function contractDocument(name: ContractName): any {
  const { file, prepare } = CONTRACTS[name];
  return prepare(JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')));
}

function backend(name: ContractName): Promise<OpenAPIBackend> {
  let api = backends.get(name);
  if (!api) {
    api = (async () => {
      const b = new OpenAPIBackend({
        definition: contractDocument(name),
        strict: false,
        validate: true,
        coerceTypes: true,
        // Each operation's validators are compiled when an exchange first needs them (a test file uses a handful of
        // the document's operations; compiling all of them took 1.4 s of CPU per file). Quick mode also skips the
        // check of the document itself against OpenAPI's schema: test/unit/contract.test.ts makes that one.
        quick: true,
        // Grafana's formats: RFC 3339 times as Go writes them; Swagger's number formats carry no check of their own.
        customizeAjv: (ajv) =>
          ajv
            .addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/)
            .addFormat('int64', true)
            .addFormat('double', true),
      });
      await b.init();
      return b;
    })();
    backends.set(name, api);
  }
  return api;
}

/** The document's name, for a failing test's message. */
export function contractName(name: ContractName): string {
  return CONTRACTS[name].name;
}

/** What is wrong with `exchange` for a provider's document (Vultr's by default); empty when nothing is. */
export async function contractViolations(exchange: Exchange, contract: ContractName = 'vultr'): Promise<string[]> {
  const b = await backend(contract);
  const { basePath, name } = CONTRACTS[contract];
  const where = `${exchange.method} ${exchange.path}`;
  const req = {
    method: exchange.method.toLowerCase(),
    path: basePath !== '' && exchange.path.startsWith(`${basePath}/`) ? exchange.path.slice(basePath.length) : exchange.path,
    query: exchange.query,
    headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
    body: exchange.requestBody ? parse(exchange.requestBody) : undefined,
  };
  const operation = b.router.matchOperation(req);
  if (!operation) return [`${where}: no such operation in ${name}`];
  const problems: string[] = [];
  const request = b.validateRequest(req, operation);
  if (!request.valid) problems.push(`${where}: request ${describe(request.errors)}`);
  // Answers shaped by a fault are wrong on purpose; answers the document gives no schema are not checked.
  const declared = operation.responses?.[String(exchange.status)] as { content?: Record<string, { schema?: unknown }> } | undefined;
  const schema = declared?.content?.['application/json']?.schema;
  if (!exchange.fault && schema && exchange.responseBody) {
    const response = b.validateResponse(parse(exchange.responseBody), operation, exchange.status);
    if (!response.valid) problems.push(`${where} → ${exchange.status}: answer ${describe(response.errors)}`);
  }
  return problems;
}

export function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function describe(errors: unknown): string {
  return (Array.isArray(errors) ? errors : []).map((e: { instancePath?: string; message?: string }) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`).join('; ');
}

/**
 * What is wrong with a Kubeadapt exchange for the answer shapes its docs describe (no machine-readable copy of its
 * OpenAPI document is public): the current generation's envelope (API Overview, Error Handling) — `{data, meta:
 * {request_id, applied_at}}` without `error` on success, `data: null` and `error: {code, message}` on failure — or the
 * earlier one's `{"detail": "..."}` failures and bare answers; only GET requests (the API is read-only).
 */
export function kubeadaptViolations(exchange: Exchange, docs: 'current' | 'earlier'): string[] {
  if (exchange.fault) return [];
  const where = `${exchange.method} ${exchange.path} → ${exchange.status}`;
  const problems: string[] = [];
  if (exchange.method !== 'GET') problems.push(`${where}: keyrot sent a ${exchange.method}; every endpoint it may use is a GET`);
  let body: any;
  try {
    body = JSON.parse(exchange.responseBody);
  } catch {
    return [...problems, `${where}: the answer is not JSON`];
  }
  const ok = exchange.status >= 200 && exchange.status < 300;
  if (docs === 'earlier') {
    if (!ok && typeof body?.detail !== 'string') problems.push(`${where}: a failure without {"detail": "..."}`);
    if (ok && (typeof body !== 'object' || body === null || 'data' in body)) problems.push(`${where}: not an earlier-generation answer`);
    return problems;
  }
  if (typeof body?.meta?.request_id !== 'string' || typeof body?.meta?.applied_at !== 'string') problems.push(`${where}: meta.request_id and meta.applied_at missing`);
  if (ok && ('error' in body || body.data === undefined)) problems.push(`${where}: a success must carry data and omit error`);
  if (!ok && (body.data !== null || typeof body.error?.code !== 'string' || typeof body.error?.message !== 'string')) problems.push(`${where}: a failure must be {data: null, error: {code, message}}`);
  return problems;
}
