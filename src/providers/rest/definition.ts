// A declarative definition of a REST key API: accounts (the holders of keys: service accounts, users) with keys
// that can be listed, created, revoked, probed, and that may carry scopes, an expiry and a last-used time. One
// small JSON document per provider; built-in ones live beside this file, users bring their own with
// --provider-file. Validation names the field at fault, so a definition that does not fit is one clear line.
import { urlUnder, validateBaseUrl } from '../../core/base-url.js';
import { UsageError } from '../../errors.js';
import { say, displayText } from '../../ui/display-text.js';

export interface RestDefinition {
  /** Keychain accounts and journals use it: lower-case letters, digits and dashes. */
  id: string;
  displayName: string;
  baseUrl: string;
  adminKeyEnv: string;
  baseUrlEnv: string;
  /** How keys travel; default Authorization with the prefix "Bearer ". */
  auth: { header: string; prefix: string };
  /**
   * GET with the admin key: who it is (`label` names the field shown, e.g. an e-mail or an org name). `account`, when
   * the API can say it: a GET whose `field` is the label (accounts.fields.label) of the account the admin key belongs
   * to, so keyrot never rotates its own key away (an answer without it, or a 4xx, means "not known").
   */
  identity: { path: string; label: string; name: string | null; account: { path: string; field: string } | null };
  /** GET with any key: 2xx authenticates, 401 is rejected, 403 is a valid key without the probe's scope. */
  probe: { path: string };
  accounts: {
    list: string;
    /** Where the list sits in the answer ("" = the answer itself). */
    items: string;
    /** Page-number pagination, when the list is paged. */
    pages: { page: string; size: string; perPage: number } | null;
    /** One account; `{account}` is its id. */
    get: string;
    /** Which --user values are ids (others are looked up by label or name). Default: any. */
    idPattern: string | null;
    fields: { id: string; label: string; name: string | null };
  };
  keys: {
    /** `{account}`: the account's id. */
    list: string;
    items: string;
    create: {
      path: string;
      /** JSON body; a string value that is exactly a placeholder becomes that value, or is left out when it has none. */
      body: Record<string, unknown>;
      /** Where the key's record sits in the answer ("" = the answer itself), and where its plaintext is. */
      key: string;
      secret: string;
    };
    /** DELETE; `{key}`: the key's id. */
    revoke: string;
    /** Sets an existing key's expiry (rotate --keep-old 7d), when the API can. */
    expire: { method: 'PATCH' | 'PUT' | 'POST'; path: string; body: Record<string, unknown> } | null;
    fields: {
      id: string;
      name: string;
      lastChars: string | null;
      expiresAt: string | null;
      lastUsedAt: string | null;
      scopes: string | null;
      /** A true value (or any timestamp) marks a revoked key, which keyrot treats as gone. */
      revoked: string | null;
    };
  };
  /** Present when keys report their own last use: how often the provider refreshes it, in seconds. */
  lastUsed: { refreshSeconds: number } | null;
}

/** The placeholders a create or expire body may use. */
export const PLACEHOLDERS = ['{name}', '{expiresAt}', '{secondsToLive}', '{scopes}'] as const;

const ID = /^[a-z][a-z0-9-]{0,31}$/;
const ENV = /^[A-Z][A-Z0-9_]{0,63}$/;
const HEADER = /^[A-Za-z0-9-]{1,64}$/;
/** A base URL with a path, to check that a definition's paths stay under whatever base URL is used. */
const PROBE_BASE = new URL('https://base.invalid/api/');
const FIELD_PATH = /^([A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*)?$/;

/**
 * `raw` (parsed JSON) as a definition. Throws UsageError "<source>: <field>: <what is wrong>" at the first field
 * that does not fit.
 */
export function validateDefinition(raw: unknown, source: string): RestDefinition {
  const fail = (field: string, why: string): never => {
    throw new UsageError(say`${displayText(source)}: ${displayText(field)}: ${displayText(why)}`, { hint: say`See "Your own provider" in keyrot's docs/providers.md for the format.` });
  };
  const obj = (value: unknown, field: string): Record<string, unknown> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'must be an object');
    return value as Record<string, unknown>;
  };
  const str = (o: Record<string, unknown>, key: string, field: string, test?: RegExp, what?: string): string => {
    const value = o[key];
    if (typeof value !== 'string' || value.trim() === '') fail(field, 'required (a non-empty string)');
    if (test && !test.test(value as string)) fail(field, `must be ${what}`);
    return value as string;
  };
  const optStr = (o: Record<string, unknown>, key: string, field: string, test?: RegExp, what?: string): string | null =>
    o[key] === undefined || o[key] === null ? null : str(o, key, field, test, what);
  const path = (o: Record<string, unknown>, key: string, field: string, params: string[]): string => {
    const value = str(o, key, field, /^\//, 'a path starting with "/"');
    // Resolved against a stand-in base, with its placeholders filled as ids are (one safe segment each).
    if (urlUnder(PROBE_BASE, value.replace(/\{[^}]*\}/g, 'id')) === null) {
      fail(field, 'must be a path under the base URL (such as "/keys"): not "//host", "/\\host", "/scheme:…" or one going up with ".."');
    }
    for (const name of value.match(/\{[^}]*\}/g) ?? []) {
      if (!params.includes(name)) fail(field, `${name} is not a placeholder here (expected ${params.join(' and ') || 'none'})`);
    }
    for (const name of params) if (!value.includes(name)) fail(field, `must hold ${name}`);
    return value;
  };
  const fieldPath = (o: Record<string, unknown>, key: string, field: string, required: boolean): string | null => {
    const value = o[key];
    if (value === undefined || value === null) return required ? fail(field, 'required (a field path such as "id" or "data.id")') : null;
    if (typeof value !== 'string' || !FIELD_PATH.test(value)) fail(field, 'must be a field path such as "id" or "data.id" ("" for the answer itself)');
    return value as string;
  };
  const body = (value: unknown, field: string): Record<string, unknown> => {
    const b = obj(value, field);
    for (const [key, v] of Object.entries(b)) {
      if (typeof v === 'string' && v.startsWith('{') && v.endsWith('}') && !(PLACEHOLDERS as readonly string[]).includes(v)) {
        fail(`${field}.${key}`, `unknown placeholder ${v} (known: ${PLACEHOLDERS.join(', ')})`);
      }
    }
    return b;
  };
  const known = (o: Record<string, unknown>, keys: string[], field: string) => {
    const extra = Object.keys(o).find((k) => !keys.includes(k));
    if (extra !== undefined) fail(field ? `${field}.${extra}` : extra, `unknown field (expected ${keys.join(', ')})`);
  };

  const d = obj(raw, 'the definition');
  known(d, ['id', 'displayName', 'baseUrl', 'adminKeyEnv', 'baseUrlEnv', 'auth', 'identity', 'probe', 'accounts', 'keys', 'lastUsed', '$comment'], '');
  const auth = d['auth'] === undefined ? {} : obj(d['auth'], 'auth');
  known(auth, ['header', 'prefix'], 'auth');
  if (auth['prefix'] !== undefined && typeof auth['prefix'] !== 'string') fail('auth.prefix', 'must be a string (e.g. "Bearer ", or "")');
  const identity = obj(d['identity'], 'identity');
  known(identity, ['path', 'label', 'name', 'account'], 'identity');
  const ownAccount = identity['account'] === undefined || identity['account'] === null ? null : obj(identity['account'], 'identity.account');
  if (ownAccount) known(ownAccount, ['path', 'field'], 'identity.account');
  const probe = obj(d['probe'], 'probe');
  known(probe, ['path'], 'probe');
  const accounts = obj(d['accounts'], 'accounts');
  known(accounts, ['list', 'items', 'pages', 'get', 'idPattern', 'fields'], 'accounts');
  const accountFields = obj(accounts['fields'], 'accounts.fields');
  known(accountFields, ['id', 'label', 'name'], 'accounts.fields');
  const pages = accounts['pages'] === undefined || accounts['pages'] === null ? null : obj(accounts['pages'], 'accounts.pages');
  if (pages) known(pages, ['page', 'size', 'perPage'], 'accounts.pages');
  const perPage = pages?.['perPage'];
  if (pages && (typeof perPage !== 'number' || !Number.isInteger(perPage) || perPage < 1 || perPage > 10_000)) fail('accounts.pages.perPage', 'must be a whole number from 1 to 10000');
  const idPattern = optStr(accounts, 'idPattern', 'accounts.idPattern');
  if (idPattern !== null) {
    try {
      new RegExp(idPattern);
    } catch {
      fail('accounts.idPattern', 'is not a regular expression');
    }
  }
  const keys = obj(d['keys'], 'keys');
  known(keys, ['list', 'items', 'create', 'revoke', 'expire', 'fields'], 'keys');
  const create = obj(keys['create'], 'keys.create');
  known(create, ['path', 'body', 'key', 'secret'], 'keys.create');
  const expire = keys['expire'] === undefined || keys['expire'] === null ? null : obj(keys['expire'], 'keys.expire');
  if (expire) known(expire, ['method', 'path', 'body'], 'keys.expire');
  const method = expire ? (expire['method'] ?? 'PATCH') : null;
  if (expire && method !== 'PATCH' && method !== 'PUT' && method !== 'POST') fail('keys.expire.method', 'must be PATCH, PUT or POST');
  const keyFields = obj(keys['fields'], 'keys.fields');
  known(keyFields, ['id', 'name', 'lastChars', 'expiresAt', 'lastUsedAt', 'scopes', 'revoked'], 'keys.fields');
  const lastUsed = d['lastUsed'] === undefined || d['lastUsed'] === null ? null : obj(d['lastUsed'], 'lastUsed');
  if (lastUsed) known(lastUsed, ['refreshSeconds'], 'lastUsed');
  const refresh = lastUsed?.['refreshSeconds'];
  if (lastUsed && (typeof refresh !== 'number' || !(refresh >= 0) || refresh > 86_400)) fail('lastUsed.refreshSeconds', 'must be a number of seconds from 0 to 86400');
  const lastUsedField = fieldPath(keyFields, 'lastUsedAt', 'keys.fields.lastUsedAt', false);
  if (lastUsed && lastUsedField === null) fail('keys.fields.lastUsedAt', "required when lastUsed is set (where each key's last use sits)");

  // The same rule as --api-url: https anywhere, plain http only to a loopback host.
  const baseUrl = validateBaseUrl(str(d, 'baseUrl', 'baseUrl'), `${source}: baseUrl`);
  return {
    id: str(d, 'id', 'id', ID, 'lower-case letters, digits and dashes, starting with a letter (at most 32)'),
    displayName: str(d, 'displayName', 'displayName'),
    baseUrl,
    adminKeyEnv: str(d, 'adminKeyEnv', 'adminKeyEnv', ENV, 'an environment variable name (A-Z, 0-9, _)'),
    baseUrlEnv: str(d, 'baseUrlEnv', 'baseUrlEnv', ENV, 'an environment variable name (A-Z, 0-9, _)'),
    auth: {
      header: optStr(auth, 'header', 'auth.header', HEADER, 'an HTTP header name') ?? 'Authorization',
      prefix: typeof auth['prefix'] === 'string' ? auth['prefix'] : 'Bearer ',
    },
    identity: {
      path: path(identity, 'path', 'identity.path', []),
      label: fieldPath(identity, 'label', 'identity.label', true) as string,
      name: fieldPath(identity, 'name', 'identity.name', false),
      account: ownAccount ? { path: path(ownAccount, 'path', 'identity.account.path', []), field: fieldPath(ownAccount, 'field', 'identity.account.field', true) as string } : null,
    },
    probe: { path: path(probe, 'path', 'probe.path', []) },
    accounts: {
      list: path(accounts, 'list', 'accounts.list', []),
      items: fieldPath(accounts, 'items', 'accounts.items', false) ?? '',
      pages: pages ? { page: str(pages, 'page', 'accounts.pages.page'), size: str(pages, 'size', 'accounts.pages.size'), perPage: perPage as number } : null,
      get: path(accounts, 'get', 'accounts.get', ['{account}']),
      idPattern,
      fields: {
        id: fieldPath(accountFields, 'id', 'accounts.fields.id', true) as string,
        label: fieldPath(accountFields, 'label', 'accounts.fields.label', true) as string,
        name: fieldPath(accountFields, 'name', 'accounts.fields.name', false),
      },
    },
    keys: {
      list: path(keys, 'list', 'keys.list', ['{account}']),
      items: fieldPath(keys, 'items', 'keys.items', false) ?? '',
      create: {
        path: path(create, 'path', 'keys.create.path', ['{account}']),
        body: body(create['body'], 'keys.create.body'),
        key: fieldPath(create, 'key', 'keys.create.key', false) ?? '',
        secret: fieldPath(create, 'secret', 'keys.create.secret', true) as string,
      },
      revoke: path(keys, 'revoke', 'keys.revoke', ['{account}', '{key}']),
      expire: expire ? { method: method as 'PATCH' | 'PUT' | 'POST', path: path(expire, 'path', 'keys.expire.path', ['{account}', '{key}']), body: body(expire['body'], 'keys.expire.body') } : null,
      fields: {
        id: fieldPath(keyFields, 'id', 'keys.fields.id', true) as string,
        name: fieldPath(keyFields, 'name', 'keys.fields.name', true) as string,
        lastChars: fieldPath(keyFields, 'lastChars', 'keys.fields.lastChars', false),
        expiresAt: fieldPath(keyFields, 'expiresAt', 'keys.fields.expiresAt', false),
        lastUsedAt: lastUsedField,
        scopes: fieldPath(keyFields, 'scopes', 'keys.fields.scopes', false),
        revoked: fieldPath(keyFields, 'revoked', 'keys.fields.revoked', false),
      },
    },
    lastUsed: lastUsed ? { refreshSeconds: refresh as number } : null,
  };
}
