// Egress proxies, read from the environment the way curl reads them: https_proxy / HTTPS_PROXY for https:// URLs,
// http_proxy / HTTP_PROXY for http:// ones, all_proxy / ALL_PROXY for either, the lower-case form first (undici's
// EnvHttpProxyAgent reads the same names in the same order); no_proxy / NO_PROXY lists hosts reached directly
// ("*" for every host; "example.com" or ".example.com" covers its subdomains too; "host:port" only that port). A proxy
// without a scheme is http://, as curl takes it. One function decides, for the requests and for --debug alike.
import { isIP } from 'node:net';
import type { Agent as AgentTypes, Dispatcher, Pool as PoolTypes, buildConnector } from 'undici';
import { UsageError } from '../errors.js';
import { Agent, DispatcherBase, Pool, ProxyAgent } from './undici-core.js';
import { say, displayText } from '../ui/display-text.js';

export type ProxyEnv = Readonly<Record<string, string | undefined>>;

/** The variables that name a proxy (no_proxy alone names none). */
export const PROXY_VARIABLES = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'] as const;

/** The proxy URL a request to `target` goes through, or null to go direct. */
export function proxyFor(target: URL, env: ProxyEnv): string | null {
  return proxyVariableFor(target, env)?.url ?? null;
}

/**
 * The proxy a request to `target` goes through, checked: a variable that is not an http:// or https:// proxy URL is
 * bad input (UsageError naming the variable, never its value, which may carry a password), not a network failure to
 * retry. SOCKS proxies are refused: undici's support for them is experimental.
 */
export function checkedProxyFor(target: URL, env: ProxyEnv): string | null {
  const found = proxyVariableFor(target, env);
  if (!found) return null;
  let url: URL;
  try {
    url = new URL(found.url);
  } catch {
    throw new UsageError(
      say`${displayText(found.name)} is not a proxy URL keyrot can read (e.g. http://proxy.example.com:3128; check the port, the brackets of an IPv6 address, and percent-encode special characters in a user name or password).`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(
      say`${displayText(found.name)} names a ${displayText(url.protocol.replace(/:$/, ''))} proxy (${displayText(proxyLabel(found.url))}); keyrot goes through http:// and https:// proxies only.`,
    );
  }
  if (!url.hostname) throw new UsageError(say`${displayText(found.name)} names no proxy host.`);
  return found.url;
}

function proxyVariableFor(target: URL, env: ProxyEnv): { name: string; url: string } | null {
  const pick = (...names: readonly string[]) => {
    const name = names.find((n) => (env[n]?.trim() ?? '') !== '');
    return name === undefined ? undefined : { name, value: env[name]!.trim() };
  };
  const https = target.protocol === 'https:';
  const picked = https ? pick('https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY') : pick('http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY');
  if (picked === undefined) return null;
  const proxy = picked.value;
  // A trailing dot names the same host (curl strips it on both sides).
  const host = target.hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
  const port = Number(target.port) || (https ? 443 : 80);
  for (const raw of (pick('no_proxy', 'NO_PROXY')?.value ?? '').split(/[,\s]+/)) {
    const entry = raw.toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return null;
    if (inCidr(host, entry)) return null;
    const withPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (withPort && Number(withPort[2]) !== port) continue;
    const name = (withPort ? withPort[1]! : entry)
      .replace(/^\[|\]$/g, '')
      .replace(/^\*?\./, '')
      .replace(/\.$/, '');
    if (host === name || host.endsWith(`.${name}`)) return null;
  }
  return { name: picked.name, url: proxy.includes('://') ? proxy : `http://${proxy}` };
}

/** Whether an IP address falls in a NO_PROXY CIDR entry (`127.0.0.0/8`, `::1/128`), as curl 7.86 and later read them. */
function inCidr(host: string, entry: string): boolean {
  const cidr = /^\[?([^\]/]+)\]?\/(\d{1,3})$/.exec(entry);
  if (!cidr) return false;
  const [net, bits] = [ipBits(cidr[1]!), Number(cidr[2])];
  const ip = ipBits(host);
  if (!net || !ip || net.length !== ip.length || bits > net.length) return false;
  return net.slice(0, bits) === ip.slice(0, bits);
}

/** An IPv4 or IPv6 address as a string of bits, or undefined for anything else. */
function ipBits(address: string): string | undefined {
  const kind = isIP(address);
  if (kind === 4)
    return address
      .split('.')
      .map((o) => Number(o).toString(2).padStart(8, '0'))
      .join('');
  if (kind !== 6) return undefined;
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const parts = v4[1]!.split('.').map(Number);
    text = `${text.slice(0, -v4[1]!.length)}${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => parseInt(g, 16).toString(2).padStart(16, '0')).join('');
}

/** A proxy URL as --debug shows it: its origin, never the user and password it may carry. */
export function proxyLabel(proxy: string): string {
  try {
    // Not URL.origin: it is "null" for a scheme URL knows no origin of (socks5://).
    const url = new URL(proxy);
    return `${url.protocol}//${url.host}`;
  } catch {
    return 'a proxy whose URL does not parse';
  }
}

/** A dispatcher sending each request direct or through the proxy `proxyFor` names for it. */
export class ProxyRouter extends DispatcherBase {
  readonly #env: ProxyEnv;
  readonly #options: AgentTypes.Options;
  readonly #direct: Dispatcher;
  readonly #viaProxy = new Map<string, Dispatcher>();

  constructor(env: ProxyEnv, options: AgentTypes.Options) {
    super();
    this.#env = env;
    this.#options = options;
    this.#direct = new Agent(options);
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const proxy = proxyFor(new URL(String(options.origin)), this.#env);
    if (proxy === null) return this.#direct.dispatch(options, handler);
    let agent = this.#viaProxy.get(proxy);
    if (!agent) {
      agent = new ProxyAgent({ ...this.#options, uri: proxy, factory: (origin, opts) => tunnelPool(origin, opts, proxy) });
      this.#viaProxy.set(proxy, agent);
    }
    return agent.dispatch(options, handler);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = Promise.all([this.#direct, ...this.#viaProxy.values()].map((d) => d.close())).then(() => undefined);
    if (!callback) return done;
    void done.then(callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    const err = typeof a === 'function' ? null : (a ?? null);
    const callback = typeof a === 'function' ? a : b;
    const done = Promise.all([this.#direct, ...this.#viaProxy.values()].map((d) => d.destroy(err))).then(() => undefined);
    if (!callback) return done;
    void done.then(callback);
  }
}

/** A proxy's refusal or failure, named: the request fails with it (see failFast). */
export class ProxyConnectError extends Error {
  readonly code: 'KEYROT_PROXY_AUTH' | 'KEYROT_PROXY';
  constructor(
    readonly proxy: string,
    readonly status: number | undefined,
    cause: unknown,
  ) {
    const label = proxyLabel(proxy);
    super(
      status === 407 ? `the proxy ${label} wants authentication (407 Proxy Authentication Required)` : `the proxy ${label} ${status ? `refused the tunnel (${status})` : 'closed the connection'}`,
      { cause },
    );
    this.code = status === 407 ? 'KEYROT_PROXY_AUTH' : 'KEYROT_PROXY';
  }
}

function tunnelPool(origin: string | URL, opts: object, proxy: string): Dispatcher {
  const options = opts as PoolTypes.Options;
  return new Pool(origin, { ...options, connect: failFast(options.connect as buildConnector.connector | undefined, proxy) });
}

/**
 * undici reconnects at once, without end, when a tunnel through a proxy fails with a socket error (a proxy that
 * closes every CONNECT: over a million CONNECTs in ten minutes, the event loop too busy for any timeout to fire).
 * Failing the tunnel with an error of keyrot's own fails the queued request instead, and keyrot's retries (bounded,
 * with back-off) decide what follows.
 */
function failFast(connect: buildConnector.connector | undefined, proxy: string): buildConnector.connector | undefined {
  if (!connect) return connect;
  return (options, callback) =>
    connect(options, (err, socket) => {
      if (!err) return callback(null, socket!);
      const status = /Proxy response \((\d{3})\)/.exec(err.message)?.[1];
      const code = (err as { code?: string }).code;
      if (status === undefined && code !== 'UND_ERR_SOCKET' && code !== 'ECONNRESET' && code !== 'ECONNREFUSED') return callback(err, null);
      callback(new ProxyConnectError(proxy, status === undefined ? undefined : Number(status), err), null);
    });
}
