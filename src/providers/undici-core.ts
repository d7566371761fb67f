// undici's dispatcher and its request API, without the rest of the package. `import 'undici'` evaluates
// everything (fetch, WebSocket, caches, mocks: ~1.1 MB bundled) and pulls in Node's own copy of undici too;
// keyrot needs an Agent and `dispatcher.request()` only, which loads in about a third of the time
// (bench/rotate.mjs). The classes are undici's own, so tests' MockAgent is a Dispatcher like any other.
import type { Agent as AgentType, Dispatcher, Pool as PoolType, ProxyAgent as ProxyAgentType } from 'undici';
import AgentImpl from 'undici/lib/dispatcher/agent.js';
import DispatcherImpl from 'undici/lib/dispatcher/dispatcher.js';
import ProxyAgentImpl from 'undici/lib/dispatcher/proxy-agent.js';
import PoolImpl from 'undici/lib/dispatcher/pool.js';
import api from 'undici/lib/api/index.js';
import { getGlobalDispatcher } from 'undici/lib/global.js';
import { tuneV8ForRequests } from '../v8-flags.js';

// What undici's index.js does: give every dispatcher request(), stream(), pipeline()… keyrot's requests all go
// through request(), which first sets V8's flags for the run (src/v8-flags.ts: before llhttp is compiled, after the
// built-in modules are loaded).
Object.assign(DispatcherImpl.prototype, api, {
  request(this: unknown, ...args: unknown[]) {
    tuneV8ForRequests();
    return (api.request as (...a: unknown[]) => unknown).apply(this, args);
  },
});

export const Agent: typeof AgentType = AgentImpl;
export const ProxyAgent: typeof ProxyAgentType = ProxyAgentImpl;
export const Pool: typeof PoolType = PoolImpl;
export const DispatcherBase: typeof Dispatcher = DispatcherImpl;

/** undici's `request(url, options)`, for a given dispatcher. */
export function requestWith(dispatcher: Dispatcher, url: string | URL, options: Omit<Dispatcher.RequestOptions, 'origin' | 'path'>): Promise<Dispatcher.ResponseData> {
  const target = new URL(url);
  return dispatcher.request({ ...options, origin: target.origin, path: `${target.pathname}${target.search}` });
}

/**
 * undici's top-level `request(url, options)`: through `options.dispatcher`, else undici's global dispatcher (the one
 * `setGlobalDispatcher` sets), as `import { request } from 'undici'` does, without evaluating the rest of the package.
 */
export function request(url: string | URL, options: Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher?: Dispatcher | undefined }): Promise<Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = options;
  return requestWith(dispatcher ?? getGlobalDispatcher(), url, rest);
}
