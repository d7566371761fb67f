// The providers keyrot knows. Kept light on purpose: the CLI imports this module on every run (--help
// included), so it holds static descriptors only and loads a provider's implementation (undici and all) with
// `await import()` the first time a command needs it: `(await getProviderFactory(id).load()).create(options)`.
// Adding a provider = a folder under providers/ plus one entry here.
import { UsageError } from '../errors.js';
import type { ProviderFactory } from './types.js';

/**
 * A provider's static facts (help text, environment variables, default URL) and a loader for its
 * implementation. `load()` resolves to a ProviderFactory with the same facts and `create()`.
 */
export type ProviderDescriptor = Omit<ProviderFactory, 'create'> & {
  load(): Promise<ProviderFactory>;
};

export const providers: Readonly<Record<string, ProviderDescriptor>> = {
  vultr: {
    id: 'vultr',
    displayName: 'Vultr',
    defaultBaseUrl: 'https://api.vultr.com/v2',
    adminKeyEnv: 'VULTR_API_KEY',
    baseUrlEnv: 'VULTR_API_URL',
    load: async () => (await import('./vultr/provider.js')).vultr,
  },
};

/** The descriptor of provider `id`; nothing is loaded yet. Throws UsageError for an unknown id. */
export function getProviderFactory(id: string): ProviderDescriptor {
  const descriptor = Object.hasOwn(providers, id) ? providers[id] : undefined;
  if (!descriptor) {
    throw new UsageError(`Unknown provider "${id}".`, { hint: `Known providers: ${Object.keys(providers).join(', ')}.` });
  }
  return descriptor;
}
