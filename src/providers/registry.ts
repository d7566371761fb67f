// The providers keyrot knows. Kept light on purpose: the CLI imports this module on every run (--help
// included), so it holds static descriptors only and loads a provider's implementation (undici and all) with
// `await import()` the first time a command needs it: `(await getProviderFactory(id).load()).create(options)`.
// Adding a provider = a folder under providers/ plus one entry here; a REST key API can instead be described by a
// declarative definition (rest/definition.ts): a built-in one below, or the user's own with --provider-file.
import { readFileSync } from 'node:fs';
import { sanitizeForDisplay } from '../core/mask.js';
import { UsageError } from '../errors.js';
import { validateDefinition, type RestDefinition } from './rest/definition.js';
import { EXAMPLE, GRAFANA } from './rest/definitions.js';
import type { ProviderFactory } from './types.js';
import { say, displayText } from '../ui/display-text.js';
import { sha256Hex } from '../random.js';

/**
 * A provider's static facts (help text, environment variables, default URL) and a loader for its
 * implementation. `load()` resolves to a ProviderFactory with the same facts and `create()`.
 */
export type ProviderDescriptor = Omit<ProviderFactory, 'create'> & {
  load(): Promise<ProviderFactory>;
};

/** A descriptor for a validated declarative definition. */
function declarative(def: RestDefinition): ProviderDescriptor {
  const { id, displayName, baseUrl: defaultBaseUrl, adminKeyEnv, baseUrlEnv } = def;
  return { id, displayName, defaultBaseUrl, adminKeyEnv, baseUrlEnv, load: async () => (await import('./rest/provider.js')).restFactory(def) };
}

export const providers: Readonly<Record<string, ProviderDescriptor>> = {
  vultr: {
    id: 'vultr',
    displayName: 'Vultr',
    defaultBaseUrl: 'https://api.vultr.com/v2',
    adminKeyEnv: 'VULTR_API_KEY',
    baseUrlEnv: 'VULTR_API_URL',
    load: async () => (await import('./vultr/provider.js')).vultr,
  },
  kubeadapt: {
    id: 'kubeadapt',
    displayName: 'Kubeadapt',
    defaultBaseUrl: 'https://public-api.kubeadapt.io/v1',
    adminKeyEnv: 'KUBEADAPT_API_KEY',
    baseUrlEnv: 'KUBEADAPT_API_URL',
    load: async () => (await import('./kubeadapt/provider.js')).kubeadapt,
  },
  grafana: declarative(validateDefinition(GRAFANA, 'the built-in grafana definition')),
  example: declarative(validateDefinition(EXAMPLE, 'the built-in example definition')),
};

/** The descriptor of provider `id`; nothing is loaded yet. Throws UsageError for an unknown id. */
export function getProviderFactory(id: string): ProviderDescriptor {
  const descriptor = Object.hasOwn(providers, id) ? providers[id] : undefined;
  if (!descriptor) {
    throw new UsageError(say`Unknown provider "${displayText(sanitizeForDisplay(id, 60))}".`, {
      hint: say`Known providers: ${displayText(Object.keys(providers).join(', '))}; or describe your own with --provider-file.`,
    });
  }
  return descriptor;
}

/** The provider a definition file describes (--provider-file). UsageError naming the file and field when it does not fit. */
export function providerFromFile(path: string, source = '--provider-file'): ProviderDescriptor {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(say`${displayText(source)}: cannot read ${displayText(path)}: ${displayText((err as NodeJS.ErrnoException).code ?? (err as Error).message)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(say`${displayText(path)}: not JSON (${displayText((err as Error).message, 2000)})`, { hint: say`See "Your own provider" in keyrot's docs/providers.md for the format.` });
  }
  const def = validateDefinition(raw, path);
  refuseBorrowedVariables(def, path);
  const descriptor = declarative({ ...def, id: fileProviderId(def) });
  fileDefinitions.set(descriptor, def);
  return descriptor;
}

/** The definition behind each provider file's descriptor, for atEffectiveBaseUrl. */
const fileDefinitions = new WeakMap<ProviderDescriptor, RestDefinition>();

/**
 * The provider as it will be used: a provider file's identity follows the base URL its admin key is sent to (the file's
 * baseUrl, or its baseUrlEnv variable, --api-url or a profile's api-url overriding it), so a key stored by `keyrot login`
 * for one URL is never sent to another. `effectiveBaseUrl` is only read for a provider file. A built-in provider keeps
 * its id wherever its URL points: its URL variable and --api-url come from the user, not from a file (docs/providers.md).
 */
export function atEffectiveBaseUrl(descriptor: ProviderDescriptor, effectiveBaseUrl: () => string): ProviderDescriptor {
  const def = fileDefinitions.get(descriptor);
  if (!def) return descriptor;
  const baseUrl = effectiveBaseUrl();
  return baseUrl === def.baseUrl ? descriptor : declarative({ ...def, baseUrl, id: fileProviderId({ id: def.id, baseUrl }) });
}

/**
 * A provider file reads no variable a built-in provider owns, unless it is that provider's twin (its id, its baseUrl
 * and both its variables, as a copy of the built-in example's definition is): a twin sends the key nowhere the
 * built-in would not. Otherwise a file with `"adminKeyEnv": "VULTR_API_KEY"` (one a committed profiles config names,
 * say) would be handed Vultr's admin key from the environment and send it to its own baseUrl. A user who means to use
 * the same key sets the file's own variable to it, which cannot happen by accident:
 * `MY_API_KEY="$VULTR_API_KEY" keyrot --provider-file my.json …`.
 */
function refuseBorrowedVariables(def: RestDefinition, path: string): void {
  for (const field of ['adminKeyEnv', 'baseUrlEnv'] as const) {
    const name = def[field];
    const owner = Object.values(providers).find((p) => p.adminKeyEnv === name || p.baseUrlEnv === name);
    if (!owner) continue;
    const twin = owner.id === def.id && owner.defaultBaseUrl === def.baseUrl && owner.adminKeyEnv === def.adminKeyEnv && owner.baseUrlEnv === def.baseUrlEnv;
    if (twin) continue;
    throw new UsageError(
      say`${displayText(path)}: ${displayText(`${field}`)} "${displayText(name)}" belongs to the built-in ${displayText(owner.displayName)} provider; a provider file must name a variable of its own.`,
      {
        hint: say`Name a variable of the file's own (e.g. "MYPLATFORM_${field === 'adminKeyEnv' ? say`API_KEY` : say`API_URL`}") and set it yourself; see "Your own provider" in docs/providers.md.`,
      },
    );
  }
}

/**
 * A provider file's identity, which names its keychain entries (its admin key's included) and journals: its id and a
 * digest of its base URL. A file can so never take a built-in provider's entries (a file whose id is "vultr" does not
 * get Vultr's admin key, and its login does not overwrite it), nor those of another file with the same id elsewhere.
 * The base URL is the effective one (atEffectiveBaseUrl), spelled one way (core/base-url.ts validateBaseUrl), so two
 * spellings of one endpoint share an identity and two endpoints never do.
 */
export function fileProviderId(def: { id: string; baseUrl: string }): string {
  return `${def.id}.${sha256Hex(def.baseUrl).slice(0, 8)}`;
}
