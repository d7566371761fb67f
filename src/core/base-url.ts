// The API base URL: https anywhere, plain http only to a loopback host (the sandbox, a local proxy).
import { UsageError } from '../errors.js';
import { sanitizeForDisplay } from './mask.js';
import { say, displayText } from './display-text.js';

export function validateBaseUrl(text: string, source: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(say`${displayText(source)}: "${displayText(sanitizeForDisplay(text, 100))}" is not a URL.`, { hint: say`Example: https://api.vultr.com/v2` });
  }
  if (url.username || url.password) {
    throw new UsageError(say`${displayText(source)}: credentials in the URL are not allowed.`, { hint: say`Pass the admin key through VULTR_API_KEY or --api-key-stdin.` });
  }
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw new UsageError(say`${displayText(source)}: plain http:// is refused for ${displayText(url.hostname)}: the admin key would cross the network unencrypted.`, {
      hint: say`Use https://, or http:// only to a loopback address (127.0.0.1, ::1, localhost).`,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(say`${displayText(source)}: "${displayText(url.protocol)}" URLs are not supported; use https://.`);
  }
  // keyrot appends request paths to the base URL: a query or fragment there would be dropped or land in the middle of
  // every request, so one spelling would name an endpoint that another spelling does not. Refused, not guessed.
  if (url.search || url.hash || text.includes('?') || text.includes('#')) {
    throw new UsageError(say`${displayText(source)}: a base URL has no query (?) or fragment (#).`, { hint: say`Give the scheme, host, port and path only, e.g. https://api.vultr.com/v2` });
  }
  return canonicalUrl(url);
}

/**
 * One spelling per endpoint, so one endpoint has one identity (providers/registry.ts fileProviderId): WHATWG URL
 * already lower-cases the scheme and host, drops the default port and resolves "." and ".."; here the host's trailing
 * dot is dropped, escapes of unreserved characters are decoded (%7E is ~, %41 is A), other escapes upper-cased (%2f is
 * %2F), and trailing slashes dropped.
 */
function canonicalUrl(url: URL): string {
  // "api.example.com." (the fully qualified spelling) is the same DNS name as "api.example.com", which is also the
  // name TLS checks the certificate against and sends as SNI (RFC 6066 section 3: no trailing dot): one dot dropped,
  // for the identity and for the requests alike, since this string is the base URL keyrot sends requests to.
  if (url.hostname.endsWith('.')) url.hostname = url.hostname.slice(0, -1);
  url.pathname = url.pathname.replace(/%([0-9a-fA-F]{2})/g, (percentEscape, hex: string) => {
    const c = String.fromCharCode(Number.parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : percentEscape.toUpperCase();
  });
  return url.toString().replace(/\/+$/, '');
}

export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const parts = host.split('.');
  return parts.length === 4 && parts[0] === '127' && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/**
 * `path` (a request path such as "/keys?page=2", relative to the base URL) resolved under `base` (whose path ends
 * with "/"), or null when the result would leave the base's origin or path: "/https://other/x" (a scheme),
 * "//host" or "/\host" (another host), "/../x" or "/%2e%2e/x" (above the base path). Keys travel with every request:
 * they go to the base URL and below it, nowhere else.
 */
export function urlUnder(base: URL, path: string): URL | null {
  if (!path.startsWith('/')) return null;
  let url: URL;
  try {
    url = new URL(path.slice(1), base);
  } catch {
    return null;
  }
  return url.origin === base.origin && url.protocol === base.protocol && url.pathname.startsWith(base.pathname) ? url : null;
}
