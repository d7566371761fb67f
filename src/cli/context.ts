// The context every command handler receives: output, prompts, cancellation, clock, and lazily built
// adapters (provider, keychain, journal). Nothing here runs a network call or loads a native module until a
// command asks for it.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { validateBaseUrl } from '../core/base-url.js';
import { DEFAULT_PROFILE, parseProfiles, validateProfileName, type ProfileSettings } from '../core/profiles.js';
import { AuthError, KeychainError, UsageError } from '../errors.js';
import { KeyIndex } from '../journal/key-index.js';
import { localStateDir, stateDir } from '../journal/state-dir.js';
import { LocalStore } from '../state/local.js';
import { S3Store } from '../state/s3-store.js';
import { isS3Root, registerStore } from '../state/store.js';
import { KEYCHAIN_SERVICE, adminAccount, entryName, type SecretStore } from '../keychain/secret-store.js';
import { shellArg } from '../core/shell-arg.js';
import { atEffectiveBaseUrl, getProviderFactory, providerFromFile, type ProviderDescriptor } from '../providers/registry.js';
import type { Provider } from '../providers/types.js';
import { Output, decideColorLevel, isCi } from '../ui/output.js';
import { createPrompter, type Prompter } from '../ui/prompts.js';
import { createStepReporter, type StepReporter } from '../ui/steps.js';
import { say, displayText, type DisplayText } from '../ui/display-text.js';

export interface GlobalOptions {
  json?: boolean;
  events?: boolean;
  debug?: boolean;
  color?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  apiUrl?: string;
  apiKeyStdin?: boolean;
  provider?: string;
  providerFile?: string;
  store?: string;
  profile?: string;
  stateDir?: string;
}

export interface AdminKey {
  key: string;
  /** 'stdin' (--api-key-stdin), 'env' (e.g. VULTR_API_KEY) or 'keychain' (the entry keyrot login writes). */
  source: 'stdin' | 'env' | 'keychain';
  /** Where exactly: the variable's name, or the keychain account. */
  where: string;
}

/** What the process gives keyrot; tests pass their own. */
export interface Deps {
  env: NodeJS.ProcessEnv;
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean; columns?: number; getColorDepth?: () => number };
  stderr: Writable & { isTTY?: boolean; columns?: number; getColorDepth?: () => number };
  /** HTTP dispatcher for provider calls (MockAgent in unit tests). */
  dispatcher?: Dispatcher;
  /** A keychain to use instead of the OS one (tests, the demo). */
  secretStore?: SecretStore;
  now?: () => Date;
}

export interface Context {
  readonly env: NodeJS.ProcessEnv;
  /** The process streams (the demo hands them to the command lines it runs). */
  readonly io: Pick<Deps, 'stdin' | 'stdout' | 'stderr'>;
  readonly out: Output;
  readonly prompts: Prompter;
  readonly steps: StepReporter;
  /** True in a terminal without CI: prompts and spinners allowed. */
  readonly interactive: boolean;
  readonly signal: AbortSignal;
  /** The profile in force (--profile, KEYROT_PROFILE, else "default"): its account, keychain entries and state. */
  readonly profile: string;
  /** The profiles file (it may not exist), and its profiles. */
  readonly profilesFile: string;
  readonly profiles: ReadonlyMap<string, ProfileSettings>;
  readonly stateDir: string;
  /** --store: 'os' (the keychain) or 'none' (new keys reach consumers only through --on-new-key). */
  readonly storeMode: 'os' | 'none';
  readonly keyIndex: KeyIndex;
  readonly providerFactory: ProviderDescriptor;
  /** The flag that chose the provider ("--provider grafana", "--provider-file p.json"), '' when it came from elsewhere. */
  readonly providerFlag: string;
  /** --api-key-stdin: stdin carries the admin key (nothing else may read it). */
  readonly apiKeyStdin: boolean;
  now(): Date;
  /** Reads all of stdin (for --stdin / --api-key-stdin). */
  readStdin(): Promise<string>;
  /** The admin key and where it came from (resolved once): --api-key-stdin, the environment, or the keychain. */
  adminKey(): Promise<AdminKey>;
  /** The provider, authenticated with the admin key (resolved on first call). */
  provider(): Promise<Provider>;
  /** A provider authenticated with `adminKey` instead (keyrot login proves a key before storing it). */
  providerFor(adminKey: string): Promise<Provider>;
  /**
   * A second provider for clean-up after a cancel: not aborted by Ctrl-C or SIGTERM, but every request it sends
   * ends within CLEANUP_DEADLINE_MS of this call (a cancelled CI job is killed a few seconds later). Its requests go
   * ahead of the run's in the rate limiter and are not held by a Retry-After pause.
   */
  cleanupProvider(): Promise<Provider>;
  /** The API base URL in force (flag, environment, or the provider's default). */
  baseUrl(): string;
  /** The keychain (the OS one unless --store none or a test store). */
  secretStore(): Promise<SecretStore>;
  /** Frees sockets and timers so the process can end. */
  close(): Promise<void>;
  /** Files a later CI step reads ($GITHUB_OUTPUT) that keyrot could not write: said, and exit 20, once the work ends. */
  readonly lostOutputs: string[];
}

/** How long clean-up after a cancel may take: GitHub Actions sends SIGTERM 7.5 s after a cancel's SIGINT. */
export const CLEANUP_DEADLINE_MS = 5_000;

export function createContext(globals: GlobalOptions, deps: Deps, signal: AbortSignal): Context {
  const env = deps.env;
  const ci = isCi(env);
  // The person types on stdin and reads stderr: stdout may be a file or a pipe (keyrot rotate --json > r.json).
  const interactive = Boolean(deps.stdin.isTTY && deps.stderr.isTTY) && !ci;
  if (globals.json && globals.events) throw new UsageError(say`--json and --events cannot be combined: pick one output format.`);
  const out = new Output({
    stdout: deps.stdout,
    stderr: deps.stderr,
    json: Boolean(globals.json),
    events: Boolean(globals.events),
    quiet: Boolean(globals.quiet),
    verbose: Boolean(globals.verbose),
    debug: Boolean(globals.debug),
    colorLevel: decideColorLevel(env, deps.stderr, globals.color === false),
    timestamps: !interactive,
    envColumns: positiveInteger(env.COLUMNS),
    workflowCommands: env.GITHUB_ACTIONS === 'true',
  });
  const now = deps.now ?? (() => new Date());
  const profilesFile = profilesPath(env);
  const profiles = readProfiles(profilesFile);
  const profile = validateProfileName(globals.profile ?? (env.KEYROT_PROFILE || DEFAULT_PROFILE), globals.profile ? '--profile' : 'KEYROT_PROFILE');
  const settings = profiles.get(profile);
  if (!settings && profile !== DEFAULT_PROFILE) {
    throw new UsageError(say`No profile "${displayText(profile)}" in ${displayText(profilesFile)}.`, {
      hint: profiles.size ? say`Profiles there: ${displayText([...profiles.keys()].join(', '))}.` : say`Add a [section] for it (see "Profiles" in keyrot's docs/usage.md).`,
    });
  }
  // Precedence, for every setting: flags, then the environment, then the profile, then defaults.
  const chosen = chooseProvider(globals, settings, profilesFile);
  // Every profile but the default keeps its journals, locks and records apart, so two accounts never mix.
  // A profile's own state-dir is that profile's alone: used as it is. Otherwise each profile has a folder in the root.
  const ownDir = globals.stateDir === undefined && !env.KEYROT_STATE_DIR ? settings?.stateDir : undefined;
  const root = stateDir(env, globals.stateDir ?? ownDir, ownDir !== undefined ? `${profilesFile}:${settings?.lines.stateDir}: [${profile}] state-dir` : undefined);
  const dir = profile === DEFAULT_PROFILE || ownDir !== undefined ? root : isS3Root(root) ? `${root}/profiles/${profile}` : join(root, 'profiles', profile);
  if (isS3Root(dir)) {
    // Journals, locks and records go to the bucket; what must stay on this machine (rescue files) to the local folder.
    const localRoot = localStateDir(env);
    registerStore(new S3Store(dir, env, new LocalStore(profile === DEFAULT_PROFILE ? localRoot : join(localRoot, 'profiles', profile))));
    // Never echoed, whatever an error or a debug line would quote.
    for (const secret of [env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN]) if (secret && secret.length >= 8) out.protect(secret);
  }
  let stdinText: Promise<string> | undefined;
  let provider: Promise<Provider> | undefined;
  let adminKey: Promise<AdminKey> | undefined;
  let store: Promise<SecretStore> | undefined;
  const opened: Provider[] = [];

  const readStdin = () =>
    (stdinText ??= (async () => {
      if (deps.stdin.isTTY) throw new UsageError(say`Expected input on stdin, but stdin is a terminal.`, { hint: say`Pipe the key in, e.g. printf %s "$KEY" | keyrot …` });
      const chunks: Buffer[] = [];
      for await (const chunk of deps.stdin) chunks.push(Buffer.from(chunk as Buffer));
      return Buffer.concat(chunks).toString('utf8');
    })());

  const baseUrl = () => {
    if (globals.apiUrl) return validateBaseUrl(globals.apiUrl, '--api-url');
    const fromEnv = env[chosen.baseUrlEnv];
    if (fromEnv) return validateBaseUrl(fromEnv, chosen.baseUrlEnv);
    if (settings?.apiUrl) return validateBaseUrl(settings.apiUrl, `${profilesFile}:${settings.lines.apiUrl ?? settings.line}: [${profile}] api-url`);
    return chosen.defaultBaseUrl;
  };
  // A provider file's identity (its keychain entries, its journals) follows the URL its admin key goes to.
  const factory = atEffectiveBaseUrl(chosen, baseUrl);

  const secretStore = () =>
    (store ??= (async () => {
      if (deps.secretStore) return deps.secretStore;
      if (globals.store === 'none') {
        throw new KeychainError(say`--store none: this command needs the keychain.`, { hint: say`Run it where a keychain is available.` });
      }
      const { OsSecretStore } = await import('../keychain/os-store.js');
      const os = new OsSecretStore();
      if (profile === DEFAULT_PROFILE) return os;
      const { NamespacedSecretStore } = await import('../keychain/namespaced-store.js');
      return new NamespacedSecretStore(os, profile);
    })());

  const resolvedAdminKey = () =>
    (adminKey ??= resolveAdminKey(globals, factory, env, readStdin, secretStore).then((k) => {
      out.protect(k.key);
      return k;
    }));
  const openProvider = async (url: string, requestSignal: AbortSignal, explicitKey?: string, urgent = false): Promise<Provider> => {
    const admin = explicitKey === undefined ? await resolvedAdminKey() : undefined;
    const created = (await factory.load()).create({
      baseUrl: url,
      adminKey: explicitKey ?? admin!.key,
      dispatcher: deps.dispatcher,
      logger: { debug: (m) => out.debug(m) },
      signal: requestSignal,
      urgent,
    });
    opened.push(created);
    return admin ? namingKeySource(created, rejectedAdminKeyHint(admin, factory.displayName, profile), admin.where) : created;
  };

  const ctx: Context = {
    env,
    io: { stdin: deps.stdin, stdout: deps.stdout, stderr: deps.stderr },
    out,
    prompts: createPrompter(interactive, { input: deps.stdin, output: deps.stderr, signal }),
    steps: createStepReporter(out, interactive),
    interactive,
    signal,
    profile,
    profilesFile,
    profiles,
    stateDir: dir,
    storeMode: globals.store === 'none' ? 'none' : 'os',
    keyIndex: new KeyIndex(dir),
    providerFactory: factory,
    apiKeyStdin: Boolean(globals.apiKeyStdin),
    providerFlag: globals.providerFile !== undefined ? `--provider-file ${shellArg(globals.providerFile)}` : globals.provider !== undefined ? `--provider ${shellArg(globals.provider)}` : '',
    now,
    readStdin,
    baseUrl,
    secretStore,
    provider: () =>
      (provider ??= (async () => {
        const url = baseUrl();
        out.debug(`provider ${factory.id} at ${url}`);
        return openProvider(url, signal);
      })()),
    // Its requests go ahead of every other in the shared rate limiter, past a Retry-After pause: they are few.
    cleanupProvider: () => openProvider(baseUrl(), AbortSignal.timeout(CLEANUP_DEADLINE_MS), undefined, true),
    adminKey: resolvedAdminKey,
    providerFor: (key) => {
      out.protect(key);
      return openProvider(baseUrl(), signal, key);
    },
    async close() {
      await Promise.all(opened.map((p) => p.close().catch(() => undefined)));
    },
    lostOutputs: [],
  };
  return ctx;
}

/**
 * What to check when the provider rejects the admin key, named by where the key came from: only here is that known,
 * so every provider's 401 gets it (a provider's own hint could only guess its environment variable).
 */
function rejectedAdminKeyHint(admin: AdminKey, serviceName: string, profile: string): DisplayText {
  const login = displayText(`keyrot ${profile === DEFAULT_PROFILE ? '' : `--profile ${shellArg(profile)} `}login`);
  const [service, where] = [displayText(serviceName), displayText(admin.where)];
  switch (admin.source) {
    case 'stdin':
      return say`Check the admin key piped in with --api-key-stdin: it may be mistyped, deleted or expired at ${service}.`;
    case 'env':
      return say`Check the admin key in ${where}: it may be mistyped, deleted or expired at ${service}.`;
    case 'keychain':
      return say`The admin key ${login} stored (${where}) may be deleted or expired at ${service}: ${login} stores a working one.`;
  }
}

/**
 * `provider`, whose calls that fail because the admin key is rejected (401, not an IP allow-list) carry `hint`, unless
 * the provider's own hint already names where the key came from (`where`) and may say more (kubeadapt's: after a
 * rotation, the new key is in the keychain).
 */
function namingKeySource(provider: Provider, hint: DisplayText, where: string): Provider {
  return new Proxy(provider, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.catch((err: unknown) => {
          if (err instanceof AuthError && err.data?.['reason'] === 'rejected' && !err.hint?.includes(where)) err.hint = hint;
          throw err;
        });
      };
    },
  });
}

/** Admin key from --api-key-stdin, then the environment, then the keychain: never from argv. */
async function resolveAdminKey(
  globals: GlobalOptions,
  factory: ProviderDescriptor,
  env: NodeJS.ProcessEnv,
  readStdin: () => Promise<string>,
  secretStore: () => Promise<SecretStore>,
): Promise<AdminKey> {
  if (globals.apiKeyStdin) {
    const key = (await readStdin()).split(/\r?\n/)[0]?.trim() ?? '';
    if (!key) throw new UsageError(say`--api-key-stdin: stdin was empty.`);
    return { key, source: 'stdin', where: '--api-key-stdin' };
  }
  const fromEnv = env[factory.adminKeyEnv]?.trim();
  if (fromEnv) return { key: fromEnv, source: 'env', where: factory.adminKeyEnv };
  if (globals.store !== 'none') {
    const account = adminAccount(factory.id);
    try {
      const store = await secretStore();
      const stored = await store.get(account);
      if (stored) return { key: stored, source: 'keychain', where: `keychain service "${KEYCHAIN_SERVICE}", account "${entryName(store, account)}"` };
    } catch {
      // No keychain here: fall through to the explanation below.
    }
  }
  throw new UsageError(say`No admin key: run keyrot login, set ${displayText(factory.adminKeyEnv)}, or pipe it in with --api-key-stdin.`, {
    hint: say`Keys are never taken from the command line. To try keyrot without a ${displayText(factory.displayName)} account, run "keyrot demo" or "keyrot sandbox".`,
  });
}

function positiveInteger(text: string | undefined): number | undefined {
  const n = Number(text);
  return text && Number.isInteger(n) && n > 0 ? n : undefined;
}

/** --provider or --provider-file, else the profile's provider or provider-file, else Vultr. */
function chooseProvider(globals: GlobalOptions, settings: ProfileSettings | undefined, profilesFile: string): ProviderDescriptor {
  if (globals.provider !== undefined && globals.providerFile !== undefined) throw new UsageError(say`--provider and --provider-file cannot be combined: pick one.`);
  if (globals.providerFile !== undefined) return providerFromFile(globals.providerFile);
  if (globals.provider !== undefined) return getProviderFactory(globals.provider);
  if (settings?.providerFile !== undefined) {
    // A relative path is relative to the profiles file's folder, not to wherever keyrot runs.
    return providerFromFile(resolve(dirname(profilesFile), settings.providerFile), `${profilesFile}:${settings.lines.providerFile ?? settings.line}: [${settings.name}] provider-file`);
  }
  return getProviderFactory(settings?.provider ?? 'vultr');
}

/** $XDG_CONFIG_HOME/keyrot/config, else ~/.config/keyrot/config. */
export function profilesPath(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'keyrot', 'config');
}

/** The profiles file's sections; none when it does not exist. A file keyrot cannot read is an error naming it. */
function readProfiles(file: string): Map<string, ProfileSettings> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new UsageError(say`Cannot read the profiles file ${displayText(file)}: ${displayText((err as Error).message, 2000)}`);
  }
  return parseProfiles(text, file);
}
