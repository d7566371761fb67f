// Commander wiring only: global flags, subcommands with their flags and examples, and a lazy import of each
// handler so `--help` and `--version` load nothing else.
import { Command, type CommanderError, Help, Option, type ParseOptions } from 'commander';
import { didYouMean, orList } from '../core/suggest.js';
import { exampleLines, wrapWords } from '../ui/wrap.js';
import { EXIT_CODE_NAMES, EXIT_CODE_TABLE, UsageError } from '../errors.js';
import type { CompletionFlag, CompletionSpec } from '../commands/completion.js';
import type { CommandModule } from '../commands/types.js';
import type { Context, Deps, GlobalOptions } from './context.js';
import { say, displayText, composed, type DisplayText } from '../ui/display-text.js';

declare const KEYROT_VERSION: string;
export const VERSION = typeof KEYROT_VERSION === 'string' ? KEYROT_VERSION : '0.0.0-dev';

type Loader = () => Promise<CommandModule<any, any>>;

interface CommandSpec {
  name: string;
  /** A positional argument, passed to the handler as options[<its name>]. */
  argument?: string;
  /** The values the positional argument takes, for shell completion. */
  argumentChoices?: readonly string[];
  summary: string;
  /** The summary in the command list of `keyrot --help` (one line at 80 columns). */
  brief: string;
  options: Option[];
  /** The global options that mean something to this command: its --help lists these, completion offers these. */
  globals: readonly GlobalFlag[];
  examples: string[];
  load: Loader;
}

/** keyrot's global options, declared once: the root command takes them, each subcommand lists those it uses. */
export function globalOptions(): Option[] {
  return [
    new Option('--json', 'print exactly one JSON document on stdout'),
    new Option('--events', 'stream one JSON object per line on stdout as each step happens'),
    new Option('--debug', 'log HTTP calls (never headers or bodies) and show stack traces'),
    new Option('--no-color', 'no colour (also NO_COLOR=1)'),
    new Option('-q, --quiet', 'only errors on stderr'),
    new Option('-v, --verbose', 'more detail on stderr'),
    new Option('--api-url <url>', 'API base URL (env VULTR_API_URL; default https://api.vultr.com/v2)'),
    new Option('--api-key-stdin', 'read the admin key from stdin instead of VULTR_API_KEY or the keychain'),
    new Option('--store <where>', 'where new keys go: os (the OS keychain) or none (only --on-new-key)').choices(['os', 'none']).default('os'),
    new Option('--provider <name>', "key provider: vultr (default), grafana, kubeadapt or example (keyrot's example service-account platform, a built-in --provider-file definition)"),
    new Option('--provider-file <path>', 'a declarative definition of a REST key API (JSON; see "Your own provider" in docs/providers.md)'),
    new Option('--profile <name>', 'the account profile to use (env KEYROT_PROFILE; see keyrot profiles)'),
    new Option('--state-dir <dir>', 'where journals and records live: a folder, or s3://BUCKET/PREFIX shared by runners (env KEYROT_STATE_DIR; default $XDG_STATE_HOME/keyrot)'),
  ];
}

export type GlobalFlag =
  | '--json'
  | '--events'
  | '--debug'
  | '--no-color'
  | '--quiet'
  | '--verbose'
  | '--api-url'
  | '--api-key-stdin'
  | '--store'
  | '--provider'
  | '--provider-file'
  | '--profile'
  | '--state-dir';

/** Output and logging: every command that prints a result. */
const OUTPUT: readonly GlobalFlag[] = ['--json', '--events', '--quiet', '--verbose', '--debug', '--no-color'];
/** Which account, and its admin key: every command that calls the provider. */
const ACCOUNT: readonly GlobalFlag[] = ['--api-url', '--api-key-stdin', '--provider', '--provider-file', '--profile'];

/** Every source of the admin key, in the order keyrot tries them. */
export const ADMIN_KEY_HELP =
  'Admin key, the first of: stdin with --api-key-stdin; the VULTR_API_KEY environment variable; the keychain entry that ' +
  'keyrot login stores. Each profile (--profile NAME or KEYROT_PROFILE, from ~/.config/keyrot/config) has its own entry: ' +
  'keyrot --profile NAME login. Never a command-line argument.';

/** The shells `keyrot completion` writes a script for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;

// Collected, not overwritten: a second --user is refused (oneUser) rather than silently winning over the first.
const user = () => new Option('-u, --user <user>', 'the user: id, e-mail address or name (asked for in a terminal when omitted)').argParser(collect);
const key = () => new Option('-k, --key <key>', 'the key: id (or its first 6+ characters) or name');
const yes = () => new Option('-y, --yes', 'confirm destructive steps without a prompt (required without a terminal)');
const heldKey = () => new Option('-k, --key <key>', 'the key: id or name (default: the key keyrot holds; during a rotation, the new key once proven)');
const onNewKey = () => new Option('--on-new-key <cmd>', 'shell command that receives the new key on stdin and installs it in the consumers');
const to = () =>
  new Option(
    '--to <target>',
    'also hand the new key to a built-in destination (repeatable): dotenv:FILE#VAR, github:OWNER/REPO[@ENV]#NAME, github-org:ORG#NAME, gitlab:PROJECT#VAR, k8s:NAMESPACE/SECRET#KEY',
  ).argParser(collect);
const hookTimeout = (hooks = '--on-new-key and --check') => new Option('--hook-timeout <duration>', `time limit for ${hooks} (default: 2m)`);
const force = () => new Option('--force', 'act even though the user has an unfinished rotation (refused otherwise)');

/** Options under one heading in a command's help, after its common options (those without a group). */
function group(heading: string, ...options: Option[]): Option[] {
  return options.map((o) => o.helpGroup(`${heading}:`));
}

/** Every subcommand, declared once as data. Options without a group are the common ones: its help shows them first. */
export const COMMANDS: CommandSpec[] = [
  {
    name: 'list-users',
    brief: "List the account's users.",
    summary: 'List every user of the account (all pages).',
    options: [],
    globals: [...OUTPUT, ...ACCOUNT],
    examples: ['keyrot list-users', "keyrot list-users --json | jq -r '.[].email'"],
    load: async () => (await import('../commands/list-users.js')).listUsersCommand,
  },
  {
    name: 'list-keys',
    brief: "List a user's keys; marks the one keyrot holds.",
    summary: "List a user's API keys, marking the one whose plaintext keyrot holds.",
    options: [user()],
    globals: [...OUTPUT, ...ACCOUNT, '--state-dir'],
    examples: ['keyrot list-keys --user ops@example.com', 'keyrot list-keys --user ops@example.com --json'],
    load: async () => (await import('../commands/list-keys.js')).listKeysCommand,
  },
  {
    name: 'audit',
    brief: 'Every key of every user; what needs attention.',
    summary: 'Every key of every user, what keyrot knows of it, and what needs attention, most urgent first (read-only).',
    options: [
      new Option('--expiring-within <duration>', 'report keys that expire within this span').default('30d'),
      new Option(
        '--fail-on <codes>',
        'exit 15 when a key has one of these findings (comma-separated): expired, expiring, unfinished-rotation, all-keys-expired, multiple-keys, inactive-user, never-expires, not-held, admin-user',
      ),
      new Option('--csv', 'print CSV (one row per key) instead of the table'),
    ],
    examples: [
      'keyrot audit',
      'keyrot audit --expiring-within 14d --json > audit.json',
      'keyrot audit --csv > keys.csv',
      'keyrot audit --fail-on expired,expiring   # in a CI schedule: exit 15 when a key needs rotating',
    ],
    globals: [...OUTPUT, ...ACCOUNT, '--state-dir'],
    load: async () => (await import('../commands/audit.js')).auditCommand,
  },
  {
    name: 'create',
    brief: 'Create a key; its plaintext goes to the keychain.',
    summary: 'Create an API key for a user; its plaintext goes to the OS keychain before anything else.',
    options: [
      user(),
      new Option('-n, --name <name>', 'the new key\'s name (default "keyrot-<date>")'),
      new Option('-e, --expires <when>', 'expiry: an ISO date (2027-01-31), a span (30d, 12w) or never').default(undefined, 'never'),
      new Option('--reveal', 'print the plaintext once (in --json: a "secret" field)'),
      new Option('--on-new-key <cmd>', 'shell command that receives the new key on stdin; if it fails, the key is deleted (with --store none it is the only place the key goes)'),
      hookTimeout('--on-new-key'),
      to(),
      force(),
      new Option('-y, --yes', 'delete, without a prompt, a key an interrupted earlier create left behind (nobody holds it)'),
    ],
    globals: [...OUTPUT, ...ACCOUNT, '--store', '--state-dir'],
    examples: [
      'keyrot create --user ops@example.com --name deploy-bot --expires 90d',
      'keyrot create --user ops@example.com --json',
      "keyrot create --user ci@example.com --store none --on-new-key 'gh secret set VULTR_KEY'   # a runner without a keychain",
    ],
    load: async () => (await import('../commands/create.js')).createCommand,
  },
  {
    name: 'revoke',
    brief: 'Delete a key, and its keychain entry.',
    summary: 'Delete a key at the provider, and its keychain entry if keyrot holds it.',
    options: [user(), key(), yes(), force()],
    globals: [...OUTPUT, ...ACCOUNT, '--state-dir'],
    examples: ['keyrot revoke --user ops@example.com --key deploy-bot', 'keyrot revoke --user ops@example.com --key 3f0c…e1 --yes --json'],
    load: async () => (await import('../commands/revoke.js')).revokeCommand,
  },
  {
    name: 'verify',
    brief: 'Prove the key keyrot holds authenticates.',
    summary: 'Prove that the key keyrot holds for a user (or one piped in) authenticates and is listed.',
    options: [
      user(),
      key(),
      new Option('--stdin', 'verify the key read from stdin instead of the keychain'),
      new Option('--force', 'verify even while a rotation of the user waits for its consumers (the call counts as their use)'),
    ],
    globals: [...OUTPUT, ...ACCOUNT],
    examples: ['keyrot verify --user ops@example.com', 'printf %s "$KEY" | keyrot verify --user ops@example.com --stdin'],
    load: async () => (await import('../commands/verify.js')).verifyCommand,
  },
  {
    name: 'get',
    brief: 'Print the key keyrot holds for a user, to a pipe.',
    summary: 'Print the plaintext of the key keyrot holds for a user, to a pipe (a terminal asks first); follows rotations.',
    options: [user(), heldKey(), new Option('--reveal', 'print it on a terminal without asking (a pipe or a file needs no flag)')],
    examples: ['keyrot get --user ops@example.com | gh secret set VULTR_API_KEY', 'export VULTR_API_KEY="$(keyrot get --user ops@example.com)"'],
    globals: [...OUTPUT, ...ACCOUNT, '--state-dir'],
    load: async () => (await import('../commands/get.js')).getCommand,
  },
  {
    name: 'exec',
    brief: 'Run a command with the held key in its environment.',
    summary: 'Run a command with the key keyrot holds for a user in its environment (VULTR_API_KEY); follows rotations.',
    argument: '[command...]',
    options: [user(), heldKey(), new Option('--env <name>', 'the variable that receives the key (default: VULTR_API_KEY)')],
    examples: ['keyrot exec --user ops@example.com -- vultr-cli account', 'keyrot exec --user ci@example.com --env TF_VAR_vultr_key -- terraform plan'],
    globals: [...OUTPUT, ...ACCOUNT, '--state-dir'],
    load: async () => (await import('../commands/exec.js')).execCommand,
  },
  {
    name: 'status',
    brief: 'Unfinished rotations and what to run next.',
    summary: 'Unfinished, paused and failed rotations with what is live and the next command; recent rotations; stale keychain entries.',
    options: [new Option('--prune', 'remove keychain entries of keys that no longer exist (asks; --yes without a terminal)'), yes()],
    examples: ['keyrot status', 'keyrot status --json', 'keyrot status --prune --yes'],
    globals: [...OUTPUT, ...ACCOUNT, '--state-dir'],
    load: async () => (await import('../commands/status.js')).statusCommand,
  },
  {
    name: 'rotate',
    brief: 'Rotate a key with zero downtime (--all: a fleet).',
    summary: 'Guided zero-downtime rotation: create, store, verify, hand over, wait for use, revoke, verify revoked.',
    options: [
      // Repeated with --all: several users.
      new Option('-u, --user <user>', 'the user: id or e-mail address (asked for in a terminal when omitted); repeat it with --all').argParser(collect),
      key(),
      onNewKey(),
      to(),
      new Option('--check <cmd>', 'shell command that exits 0 once the consumers work with the new key'),
      yes(),
      new Option('--dry-run', 'print the plan and change nothing'),
      ...group(
        'The new key',
        new Option('-n, --name <name>', "the new key's name (default: the old name with its generation bumped, e.g. deploy-v3)"),
        new Option('-e, --expires <when>', 'expiry of the new key: an ISO date, a span (90d, 12w) or never').default(undefined, 'never'),
        new Option('--new-key-stdin', 'read the key a person minted in the dashboard from stdin (providers whose keys only a person can mint, e.g. kubeadapt)'),
      ),
      ...group(
        'Waiting for consumers',
        new Option('--no-wait', 'do not wait for consumers to use the new key'),
        new Option('--wait-timeout <duration>', 'how long to wait for the new key to be used (default: 10m)'),
        new Option('--poll-interval <duration>', 'how often to look for usage (default: 5s)'),
        new Option('--usage-refresh <duration>', "how often the provider refreshes each key's last use (default: the provider's, e.g. 5m for Grafana); the old key must stay unused twice this long"),
        hookTimeout(),
      ),
      ...group(
        'Unfinished rotations and other modes',
        new Option('--resume', "continue the user's unfinished rotation from its journal"),
        new Option('--abort', 'roll an unfinished rotation back: delete the new key, keep the old'),
        new Option(
          '--keep-old [grace]',
          'stop after the wait with both keys live for a grace period (default 7d; keyrot status shows the time left; where the provider allows it, the old key is set to expire then); --resume finishes',
        ),
        new Option('--emergency', 'the old key is exposed: revoke it as soon as the new key is stored and proven, before the hand-over (downtime until consumers have it)'),
        new Option('--self', 'rotate the admin key keyrot runs with (stored by keyrot login, or --on-new-key to update a CI secret)'),
      ),
      ...group(
        'A fleet (--all)',
        new Option('--all', 'rotate every key the selection picks, several at once (each an ordinary rotation); --resume finishes an unfinished batch'),
        new Option('--expiring-within <span>', 'keys that expire within this span (30d), or have expired'),
        new Option('--never-expiring', 'keys that never expire'),
        new Option('--older-than <span>', 'keys keyrot created (and recorded) longer ago than this (90d)'),
        new Option('--users-file <file>', 'only the users listed in this file (one id or e-mail a line, # comments)'),
        new Option('--match <glob>', "only keys whose name matches (e.g. 'deploy-*')"),
        new Option('--fail-fast', 'start no new rotation once one has failed'),
        new Option('--concurrency <n>', 'rotations under way at once (default 10; the rate limit sets the pace)'),
      ),
    ],
    globals: [...OUTPUT, ...ACCOUNT, '--store', '--state-dir'],
    examples: [
      'keyrot rotate --user ops@example.com',
      'keyrot rotate --user ops@example.com --on-new-key "./push-secret.sh" --check "./healthcheck.sh" --yes --json',
      'keyrot rotate --user ops@example.com --keep-old --on-new-key "./push-secret.sh" --yes   # scheduled: grace period, then --resume',
      'keyrot rotate --user ops@example.com --emergency --on-new-key "./push-secret.sh"   # the key is exposed',
      'keyrot rotate --self --yes   # the admin key stored by keyrot login',
      'keyrot --provider grafana rotate --user sa-1-deploy-bot --on-new-key "./push-secret.sh" --yes   # waits on each token\'s own last use',
      'keyrot --provider kubeadapt rotate --key prod-exporter --on-new-key "./push-secret.sh"   # you mint and revoke in the dashboard',
      'keyrot rotate --all --expiring-within 30d --on-new-key ./push-secret.sh --dry-run   # what a scheduled batch would rotate',
      'keyrot rotate --all --older-than 90d --match "deploy-*" --on-new-key ./push-secret.sh --yes --json',
      'keyrot rotate --all --resume --yes   # after a crash: finish every unfinished rotation of the batch',
    ],
    load: async () => (await import('../commands/rotate.js')).rotateCommand,
  },
  {
    name: 'login',
    brief: 'Prove the admin key and store it in the keychain.',
    summary: 'Store the admin key in the keychain, after proving it (a hidden prompt, or stdin; never a flag).',
    options: [new Option('--with-key-stdin', 'read the admin key from stdin instead of a hidden prompt'), new Option('--force', 'store a key that authenticates but may not manage users (warned)')],
    globals: [...OUTPUT, '--api-url', '--profile'],
    examples: ['keyrot login', 'printf %s "$VULTR_ADMIN_KEY" | keyrot login --with-key-stdin'],
    load: async () => (await import('../commands/login.js')).loginCommand,
  },
  {
    name: 'whoami',
    brief: 'Show the admin key in use and what it may do.',
    summary: 'Show the admin key in use: where it comes from, its account and permissions, its expiry, unfinished rotations.',
    options: [],
    globals: [...OUTPUT, ...ACCOUNT, '--state-dir'],
    examples: ['keyrot whoami', 'keyrot whoami --json'],
    load: async () => (await import('../commands/login.js')).whoamiCommand,
  },
  {
    name: 'logout',
    brief: 'Delete the stored admin key.',
    summary: 'Delete the stored admin key (never the keys keyrot holds for users).',
    options: [yes()],
    globals: [...OUTPUT, '--profile'],
    examples: ['keyrot logout', 'keyrot logout --yes'],
    load: async () => (await import('../commands/login.js')).logoutCommand,
  },
  {
    name: 'profiles',
    brief: 'List the account profiles.',
    summary: 'List the account profiles of the profiles file, and which one is in force.',
    options: [],
    globals: [...OUTPUT, '--profile'],
    examples: ['keyrot profiles', 'keyrot --profile staging whoami'],
    load: async () => (await import('../commands/profiles.js')).profilesCommand,
  },
  {
    name: 'sandbox',
    brief: 'Serve a local Vultr-compatible API to try keyrot.',
    summary: 'Serve a local Vultr-compatible API on 127.0.0.1 to try or rehearse keyrot (Ctrl-C stops it).',
    options: [
      new Option('-p, --port <port>', 'port to listen on (0: any free port)').default('8080'),
      new Option('--users <count>', 'number of users to create').default('6'),
      new Option('--keys-per-user <count>', 'API keys of each generated user (user5@ onwards): expired, due soon, later, never').default('0'),
      new Option('--fault <spec...>', 'inject a fault, e.g. "POST /users/*/apikeys drop-after" or "GET /users status=503 times=2"'),
      new Option('--create-answer <how>', "a user-key create's answer: plaintext (Vultr's guides) or empty (202 without a body, as Vultr's OpenAPI document says)")
        .choices(['plaintext', 'empty'])
        .default('plaintext'),
      new Option('--refresh <duration>', "platform sandboxes (--provider grafana|example|kubeadapt): how often a key's last use is written (default: the real platform's, 5m for Grafana)"),
      new Option('--docs <generation>', 'the Kubeadapt sandbox: answer as Kubeadapt\'s current docs ({data, meta} envelope) or its earlier ones (bare lists, {"detail"} errors)').choices([
        'current',
        'earlier',
      ]),
    ],
    globals: ['--json', '--quiet', '--no-color'],
    examples: [
      'keyrot sandbox',
      'keyrot sandbox --port 0 --json',
      'keyrot sandbox --users 200 --keys-per-user 1   # an account to rehearse keyrot audit and rotate --all',
      'keyrot sandbox --fault "POST /users/*/apikeys drop-after"',
      'keyrot sandbox --create-answer empty   # answer creates as the OpenAPI spec documents them',
      'keyrot --provider grafana sandbox --refresh 2s   # a Grafana-shaped API whose tokens report their last use',
    ],
    load: async () => (await import('../commands/sandbox.js')).sandboxCommand,
  },
  {
    name: 'completion',
    brief: 'Print a shell completion script.',
    summary: 'Print a shell completion script (bash, zsh or fish).',
    options: [],
    globals: [],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a zsh expansion in an example command, not a template
    examples: ['eval "$(keyrot completion bash)"', 'keyrot completion zsh > "${fpath[1]}/_keyrot"', 'keyrot completion fish > ~/.config/fish/completions/keyrot.fish'],
    argument: '<shell>',
    argumentChoices: SHELLS,
    load: async () => (await import('../commands/completion.js')).completionCommand(completionSpec()),
  },
  {
    name: 'demo',
    brief: 'Run keyrot end to end against a built-in sandbox.',
    summary: 'Run keyrot end to end against a built-in sandbox: no account needed.',
    options: [],
    globals: ['--quiet', '--verbose', '--debug', '--no-color'],
    examples: ['keyrot demo'],
    load: async () => (await import('../commands/demo.js')).demoCommand,
  },
];

/** An option given several times: its values in order (one value stays a string). */
function collect(value: string, previous: string | string[] | undefined): string | string[] {
  return previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
}

/** What a flag's value is, for completion: a file or a folder; anything else is a value keyrot cannot list. */
const VALUE_KINDS: Readonly<Record<string, 'file' | 'dir'>> = { '--state-dir': 'dir', '--on-new-key': 'file', '--check': 'file', '--provider-file': 'file' };

const HELP_OPTION = new Option('-h, --help', 'show help');
const VERSION_OPTION = new Option('-V, --version', 'print the version');

function completionFlag(option: Option): CompletionFlag {
  const takesValue = option.required || option.optional;
  const kind = option.long ? VALUE_KINDS[option.long] : undefined;
  return {
    long: option.long ?? '',
    ...(option.short ? { short: option.short } : {}),
    description: option.description,
    value: takesValue ? { ...(option.argChoices ? { choices: option.argChoices } : {}), ...(kind ? { kind } : {}) } : null,
  };
}

/** The global options a command lists in its help and completion, in the order of the root's. */
function globalsOf(spec: Pick<CommandSpec, 'globals'>, all: readonly Option[]): Option[] {
  return all.filter((o) => !o.hidden && spec.globals.includes(o.long as GlobalFlag));
}

/** Commands, flags and values for shell completion, from the same tables as --help. */
export function completionSpec(): CompletionSpec {
  const globals = globalOptions();
  const commands: CompletionSpec['commands'] = COMMANDS.map((c) => ({
    name: c.name,
    summary: c.summary,
    flags: [...c.options, ...globalsOf(c, globals), HELP_OPTION].map(completionFlag),
    ...(c.argumentChoices ? { argumentChoices: c.argumentChoices } : {}),
  }));
  commands.push({ name: 'help', summary: HELP_SUMMARY, flags: [], argumentChoices: COMMANDS.map((c) => c.name) });
  return { commands, globalFlags: [...globals.filter((o) => !o.hidden), HELP_OPTION, VERSION_OPTION].map(completionFlag) };
}

const HELP_SUMMARY = 'Show the help of a command (keyrot help rotate), or of keyrot.';
const HELP_BRIEF = 'Show the help of a command.';

export interface RunState {
  /** The context of the command being run, for error reporting. */
  ctx?: Context;
  /** A result's own exit code (keyrot exec hands back its command's). */
  exitCode?: number;
}

export function buildProgram(deps: Deps, signal: AbortSignal, state: RunState): Command {
  // Commander wraps its own help at the terminal's width (80 without one): keyrot's paragraphs follow suit.
  const paragraph = (text: string) => wrapWords(text, deps.stdout.columns ?? 80);
  const program = new KeyrotCommand('keyrot')
    .description('Rotate API keys with zero downtime, never losing a key. First provider: Vultr.')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand(false)
    .showHelpAfterError(false)
    .configureHelp({
      showGlobalOptions: true,
      sortSubcommands: false,
      // The root lists its global options by name only (each command's help describes those it takes): one screen.
      visibleOptions(cmd: Command): Option[] {
        const all = Help.prototype.visibleOptions.call(this, cmd);
        return cmd.parent ? all : all.filter((o) => o.long === '--help' || o.long === '--version');
      },
      // The command list shows names and arguments: "[options]" after every name says nothing.
      subcommandTerm(cmd: Command): string {
        return [cmd.name(), ...cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`))].join(' ');
      },
      // Commander leaves a description column under 40 characters unwrapped (the terminal then cuts its words): from
      // 30 it is wrapped, and narrower still the description goes under its term.
      minWidthToWrap: 30,
      formatItem(term: string, termWidth: number, description: string, helper: Help): string {
        const width = this.helpWidth ?? 80;
        if (!description || width - termWidth - 4 >= 30) return Help.prototype.formatItem.call(this, term, termWidth, description, helper);
        return [`  ${term}`, ...wrapWords(description, width - 6).split('\n')].join('\n      ');
      },
      // Under a command, only the global options it uses (--api-key-stdin means nothing to completion).
      visibleGlobalOptions(cmd: Command): Option[] {
        const spec = COMMANDS.find((c) => c.name === cmd.name());
        const all = Help.prototype.visibleGlobalOptions.call(this, cmd);
        return spec ? all.filter((o) => spec.globals.includes(o.long as GlobalFlag)) : all;
      },
    })
    .configureOutput({
      writeOut: (s) => deps.stdout.write(s),
      writeErr: (s) => deps.stderr.write(s),
      // Commander's own error text is re-thrown as a UsageError and printed once by handleError.
      outputError: () => undefined,
    })
    .exitOverride()
    .addHelpText(
      'after',
      [
        '',
        paragraph(
          `Global options (keyrot help COMMAND describes those it takes): ${globalOptions()
            .map((o) => o.long)
            .join(' ')}`,
        ),
        '',
        paragraph(ADMIN_KEY_HELP),
        paragraph('Try it with no account: keyrot demo, or keyrot sandbox in one terminal and keyrot in another.'),
        '',
        // A code and its name never part at a line break (no-break spaces inside an item).
        paragraph(`Exit codes: ${EXIT_CODE_TABLE.map(([code]) => `${code} ${EXIT_CODE_NAMES[code] ?? ''}`.replace(/ /g, '\u00a0')).join(', ')}. What each asks of a script: docs/reference.md.`),
      ].join('\n'),
    );
  for (const option of globalOptions()) program.addOption(option);

  for (const spec of COMMANDS) {
    const cmd = program
      .command(spec.name)
      .description(spec.summary)
      .summary(spec.brief)
      .addHelpText(
        'after',
        `\nExamples:\n${spec.examples.map((e) => exampleLines(e, deps.stdout.columns ?? 80)).join('\n')}\n${spec.globals.includes('--api-key-stdin') ? `\n${paragraph(ADMIN_KEY_HELP)}\n` : ''}`,
      );
    for (const option of spec.options) cmd.addOption(option);
    if (spec.argument) cmd.argument(spec.argument);
    cmd.action(async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const positional = spec.argument ? { [spec.argument.replace(/[<>[\].]/g, '')]: args[0] } : {};
      const all = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
      oneUser(spec, command.opts());
      // Loaded only when a command runs: --help and --version never parse the context, output and journal code.
      const { createContext } = await import('./context.js');
      const ctx = createContext(all, deps, signal);
      state.ctx = ctx;
      await ctx.out.loadStyles();
      const handler = await spec.load();
      const result = await handler.run({ ...command.opts(), ...positional }, ctx);
      if (handler.exitCode) state.exitCode = handler.exitCode(result);
      if (handler.streams) return;
      // --events keeps stdout to JSON lines: a command without step events reports its result as one event.
      if (ctx.out.events && !handler.emitsEvents) ctx.out.event('result', { command: spec.name, data: handler.toJson ? handler.toJson(result) : result });
      else if (ctx.out.json) ctx.out.result(handler.toJson ? handler.toJson(result) : result, handler.revealed?.(result));
      else handler.render(result, ctx);
      const outcome = handler.outcome?.(result);
      if (outcome) {
        ctx.out.failure(outcome.message);
        state.exitCode = outcome.exitCode;
      }
    });
  }
  program
    .command('help')
    .description(HELP_SUMMARY)
    .summary(HELP_BRIEF)
    .argument('[command]')
    .action((name: string | undefined) => {
      if (name === undefined || name === 'help') return program.outputHelp();
      const sub = program.commands.find((c) => c.name() === name);
      if (!sub) throw unknownCommand(name);
      sub.outputHelp();
    });
  program.allowExcessArguments(true).action((_opts: unknown, cmd: Command) => {
    const unknown = cmd.args[0];
    if (unknown !== undefined) throw unknownCommand(unknown);
    program.outputHelp({ error: true });
    throw new UsageError(say`No command given.`, { hint: say`keyrot --help lists the commands.` });
  });
  return program;
}

/** Every command acts on one user (a script's appended --user must not silently win); only rotate --all takes several. */
function oneUser(spec: CommandSpec, opts: Record<string, unknown>): void {
  if (!Array.isArray(opts.user) || opts.all === true) return;
  const batch = spec.options.some((o) => o.long === '--all');
  throw new UsageError(say`--user is given ${opts.user.length} times: ${displayText(batch ? `${spec.name} one user at a time, or several with --all` : `${spec.name} takes one user`)}.`);
}

/**
 * keyrot's root command. Two command lines commander would answer with the root help or an error, answered as the
 * rest of the command line is: `keyrot rotat --help` is an unknown command (exit 2, with the suggestion), as
 * `keyrot rotat` is, not keyrot's help with exit 0; `-hV` is `-h -V`, as `-Vh` already is (the version wins, as in
 * `--help --version`).
 */
class KeyrotCommand extends Command {
  override parseAsync(argv?: readonly string[], options?: ParseOptions): Promise<this> {
    const user = options?.from === 'user' ? (argv ?? []) : (argv ?? process.argv).slice(2);
    const command = commandWord(user);
    if (command !== undefined && !isCommandName(command)) return Promise.reject(unknownCommand(command));
    // Only keyrot's own words: after "--" they are exec's command's.
    const end = user.includes('--') ? user.indexOf('--') : user.length;
    const args = [...user.slice(0, end).flatMap((word) => (/^-h[a-zA-Z]+$/.test(word) ? ['-h', `-${word.slice(2)}`] : [word])), ...user.slice(end)];
    return super.parseAsync(args, { from: 'user' });
  }
}

function isCommandName(name: string): boolean {
  return name === 'help' || COMMANDS.some((c) => c.name === name);
}

function unknownCommand(name: string): UsageError {
  const names = [...COMMANDS.map((c) => c.name), 'help'];
  return new UsageError(say`Unknown command "${displayText(name)}".${displayText(didYouMean(name, names))}`, { hint: say`keyrot --help lists the commands.` });
}

/** Commander's exits (help, version, bad flags) as either success or a UsageError. */
export function fromCommanderError(err: CommanderError, argv: readonly string[] = []): UsageError | null {
  if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return null;
  // "keyrot rotat --user x": the flag is unknown only because the command is; the command is what to correct.
  const command = commandWord(argv);
  if (err.code === 'commander.unknownOption' && command !== undefined && !isCommandName(command)) return unknownCommand(command);
  const message = err.message.replace(/^error:\s*/i, '');
  // Commander's own message (it may add a "(Did you mean …?)" line): several lines, each filtered.
  return new UsageError(composed(message.charAt(0).toUpperCase() + message.slice(1)), { hint: err.code === 'commander.unknownOption' ? unknownOptionHint(message, command) : HELP_HINT });
}

const HELP_HINT = say`keyrot --help lists commands and flags.`;

/** The first word of `argv` that is neither a global flag nor a global flag's value: where the command goes. */
function commandWord(argv: readonly string[]): string | undefined {
  const flagsOf = (options: Option[]) => new Set(options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined)));
  const globals = flagsOf(globalOptions());
  const takesValue = flagsOf(globalOptions().filter((o) => o.required || o.optional));
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? '';
    if (!word.startsWith('-')) return word;
    // A command's flag before any command word: that flag is the mistake, and commander's message says so.
    if (!globals.has(word.split('=')[0] ?? word)) return undefined;
    if (takesValue.has(word)) i++;
  }
  return undefined;
}

/**
 * A flag given where it does not belong names the commands it belongs to: given before any command, it goes after
 * one; given to `command` (already after it), it belongs to other commands.
 */
function unknownOptionHint(message: string, command: string | undefined): DisplayText {
  const found = /unknown option '([^'=]+)/i.exec(message)?.[1];
  const owners = COMMANDS.filter((c) => c.options.some((o) => o.long === found || o.short === found)).map((c) => c.name);
  if (!found || owners.length === 0) return HELP_HINT;
  const [flag, which] = [displayText(found), displayText(orList(owners))];
  const example = say`e.g. keyrot ${displayText(owners[0] ?? '')} ${flag} …`;
  if (command === undefined) return say`${flag} is an option of ${which}: put it after the command, ${example}`;
  const typed = displayText(command);
  return say`${flag} is an option of ${which}, not of ${typed}: ${example}; keyrot help ${typed} lists what ${typed} takes`;
}
