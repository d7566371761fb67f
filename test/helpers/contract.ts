// Contract checks against Vultr's own OpenAPI document (test/fixtures/vultr-openapi.json, see its .SOURCE file):
// every request keyrot sends to the sandbox in the e2e tests must be valid for it (method, path, query, body),
// and every sandbox answer the document describes with a schema must match it. The validator is openapi-backend
// (maintained, framework-agnostic, ajv underneath, validates requests and responses alike).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpenAPIBackend } from 'openapi-backend';
import type { Exchange } from '../../src/sandbox/server.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'vultr-openapi.json');

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
function fixFlaws(doc: any): any {
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

let api: Promise<OpenAPIBackend> | undefined;

function backend(): Promise<OpenAPIBackend> {
  return (api ??= (async () => {
    const doc = fixFlaws(JSON.parse(readFileSync(FIXTURE, 'utf8')));
    const b = new OpenAPIBackend({ definition: doc, strict: false, validate: true, coerceTypes: true, quick: false });
    await b.init();
    return b;
  })());
}

/** What is wrong with `exchange` for Vultr's document; empty when nothing is. */
export async function contractViolations(exchange: Exchange): Promise<string[]> {
  const b = await backend();
  const where = `${exchange.method} ${exchange.path}`;
  const req = {
    method: exchange.method.toLowerCase(),
    path: exchange.path,
    query: exchange.query,
    headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
    body: exchange.requestBody ? parse(exchange.requestBody) : undefined,
  };
  const operation = b.router.matchOperation(req);
  if (!operation) return [`${where}: no such operation in Vultr's OpenAPI document`];
  const problems: string[] = [];
  const request = b.validateRequest(req, operation);
  if (!request.valid) problems.push(`${where}: request ${describe(request.errors)}`);
  // Answers shaped by a fault are wrong on purpose; answers the document gives no schema are not checked.
  const declared = (operation.responses ?? {})[String(exchange.status)] as { content?: Record<string, { schema?: unknown }> } | undefined;
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
  return (Array.isArray(errors) ? errors : [])
    .map((e: { instancePath?: string; message?: string }) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`)
    .join('; ');
}
