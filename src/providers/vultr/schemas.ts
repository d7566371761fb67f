// Validators turning Vultr's JSON into typed records. Lenient where the public sources disagree (see the
// UNCONFIRMED lines of the API digest), strict where keyrot depends on a field. A violation throws
// ProviderResponseError naming the field and the type found, never a value: `api_key` fields hold secrets.

import { ProviderResponseError } from '../../errors.js';
import { singleLine } from '../../core/mask.js';
import { isSafeId } from '../ids.js';
import { say, displayText } from '../../ui/display-text.js';

export interface VultrUser {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  /** Deprecated full name; may be empty. */
  name: string;
  apiEnabled: boolean;
  serviceUser: boolean;
  acls: string[];
  /** The schema says pending|active|suspended|closed; an example shows a boolean. Kept as sent. */
  status: string | boolean | null;
  /** null when Vultr reports none ("" = no activity in the past year, or absent). */
  lastActivity: Date | null;
}

export interface VultrApiKey {
  id: string;
  name: string;
  /** As listed: 31 '*' then the key's last 5 characters. null when absent. */
  apiKey: string | null;
  expire: boolean;
  /** null when the key never expires. */
  dateExpire: Date | null;
}

/** The answer to a create: the only time the plaintext is readable. */
export interface VultrCreatedApiKey extends VultrApiKey {
  apiKey: string;
}

export interface VultrAccount {
  name: string;
  email: string;
  acls: string[];
}

export interface VultrPage<T> {
  items: T[];
  /** Opaque cursor of the next page; null on the last page. */
  next: string | null;
}

type Json = Record<string, unknown>;

function fail(path: string, expected: string, value: unknown): never {
  throw new ProviderResponseError(say`Vultr sent an unexpected answer: ${displayText(path)} should be ${displayText(expected)} (got ${displayText(describe(value))}).`, { data: { field: path } });
}

/** The JSON type of a value, never the value itself. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  return `a ${typeof value}`;
}

function object(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'an object', value);
  return value as Json;
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(path, 'an array', value);
  return value;
}

/** An id the provider sent: refused (malformed answer) when it could not be used in a URL safely. */
function requiredId(obj: Json, path: string): string {
  const id = requiredString(obj, 'id', path);
  if (!isSafeId(id)) fail(`${path}.id`, 'an id usable in a URL', 'an unsafe id');
  return id;
}

function requiredString(obj: Json, key: string, path: string): string {
  const value = obj[key];
  if (typeof value !== 'string' || value === '') fail(`${path}.${key}`, 'a non-empty string', value);
  return value;
}

/** A name or e-mail: shown to people, so one line (see singleLine). */
function optionalText(obj: Json, key: string, path: string): string {
  const value = obj[key];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') fail(`${path}.${key}`, 'a string', value);
  return singleLine(value);
}

function optionalBoolean(obj: Json, key: string, path: string, fallback: boolean): boolean {
  const value = obj[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') fail(`${path}.${key}`, 'a boolean', value);
  return value;
}

function stringArray(obj: Json, key: string, path: string): string[] {
  const value = obj[key];
  if (value === undefined || value === null) return [];
  return array(value, `${path}.${key}`).map((item, i) => (typeof item === 'string' ? item : fail(`${path}.${key}[${i}]`, 'a string', item)));
}

const NAIVE_DATE_TIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$/;

/** An ISO 8601 date; "", null, absent and an all-zero date mean none. A date without a zone is UTC. */
function optionalDate(obj: Json, key: string, path: string): Date | null {
  const value = obj[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') fail(`${path}.${key}`, 'a date string', value);
  const text = value.trim();
  if (text === '' || /^0000-00-00/.test(text)) return null;
  const naive = NAIVE_DATE_TIME.exec(text);
  const ms = Date.parse(naive ? `${naive[1]}T${naive[2]}Z` : text);
  if (Number.isNaN(ms)) fail(`${path}.${key}`, 'an ISO 8601 date', value);
  return new Date(ms);
}

/** `meta.links.next`, tolerating a missing meta or links; "" means the last page. */
function nextCursor(body: Json, path: string): string | null {
  const meta = body['meta'];
  if (meta === undefined || meta === null) return null;
  const links = object(meta, `${path}.meta`)['links'];
  if (links === undefined || links === null) return null;
  const next = object(links, `${path}.meta.links`)['next'];
  if (next === undefined || next === null || next === '') return null;
  if (typeof next !== 'string') fail(`${path}.meta.links.next`, 'a string', next);
  return next;
}

export function parseUser(value: unknown, path = 'user'): VultrUser {
  const obj = object(value, path);
  const status = obj['status'];
  if (status !== undefined && status !== null && typeof status !== 'string' && typeof status !== 'boolean') {
    fail(`${path}.status`, 'a string or a boolean', status);
  }
  return {
    id: requiredId(obj, path),
    email: singleLine(requiredString(obj, 'email', path)),
    firstName: optionalText(obj, 'first_name', path),
    lastName: optionalText(obj, 'last_name', path),
    name: optionalText(obj, 'name', path),
    // Absent only in an answer that is not quite the documented one; a false "disabled" would block rotations
    // for nothing, while a really disabled user shows up when the new key is checked.
    apiEnabled: optionalBoolean(obj, 'api_enabled', path, true),
    serviceUser: optionalBoolean(obj, 'service_user', path, false),
    acls: stringArray(obj, 'acls', path),
    status: status ?? null,
    lastActivity: optionalDate(obj, 'last_activity', path),
  };
}

/** `{"user": {...}}` from GET /users/{id}. */
export function parseUserResponse(body: unknown): VultrUser {
  return parseUser(object(body, 'answer')['user'], 'user');
}

/** `{"users": [...], "meta": {...}}` from GET /users. */
export function parseUserPage(body: unknown): VultrPage<VultrUser> {
  const obj = object(body, 'answer');
  const items = array(obj['users'], 'users').map((user, i) => parseUser(user, `users[${i}]`));
  return { items, next: nextCursor(obj, 'answer') };
}

export function parseApiKey(value: unknown, path = 'api_key'): VultrApiKey {
  const obj = object(value, path);
  const apiKey = obj['api_key'];
  if (apiKey !== undefined && apiKey !== null && typeof apiKey !== 'string') fail(`${path}.api_key`, 'a string', apiKey);
  const dateExpire = optionalDate(obj, 'date_expire', path);
  // `expire` is documented; if it is ever missing, a date is the best evidence of an expiry.
  const expire = optionalBoolean(obj, 'expire', path, dateExpire !== null);
  if (expire && dateExpire === null) fail(`${path}.date_expire`, 'a date when expire is true', obj['date_expire']);
  return {
    id: requiredId(obj, path),
    name: optionalText(obj, 'name', path),
    apiKey: typeof apiKey === 'string' && apiKey !== '' ? apiKey : null,
    expire,
    // With expire false the date is meaningless whatever Vultr puts there.
    dateExpire: expire ? dateExpire : null,
  };
}

/** `{"api_keys": [...]}` from GET /users/{id}/apikeys; meta and links may be missing. */
export function parseApiKeyPage(body: unknown): VultrPage<VultrApiKey> {
  const obj = object(body, 'answer');
  const items = array(obj['api_keys'], 'api_keys').map((key, i) => parseApiKey(key, `api_keys[${i}]`));
  return { items, next: nextCursor(obj, 'answer') };
}

/** `{"api_key": {...}}` from POST /users/{id}/apikeys, which must carry the plaintext. */
export function parseCreatedApiKey(body: unknown): VultrCreatedApiKey {
  const raw = object(body, 'answer')['api_key'];
  const key = parseApiKey(raw, 'api_key');
  if (key.apiKey === null) fail('api_key.api_key', 'the new key as a non-empty string', (raw as Json)['api_key']);
  return { ...key, apiKey: key.apiKey };
}

/** `{"account": {...}}` from GET /account. */
export function parseAccount(body: unknown): VultrAccount {
  const account = object(object(body, 'answer')['account'], 'account');
  return {
    name: optionalText(account, 'name', 'account'),
    email: optionalText(account, 'email', 'account'),
    acls: stringArray(account, 'acls', 'account'),
  };
}

/** The last characters a listed key shows: the tail after the '*' mask, at most 5; null when none. */
export function lastCharsOf(listed: string | null): string | null {
  if (listed === null) return null;
  const tail = listed.replace(/^\*+/, '').slice(-5);
  return tail === '' ? null : tail;
}
