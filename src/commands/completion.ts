// `keyrot completion bash|zsh|fish`: a completion script for commands and flags, generated from the same
// command table as --help. Nothing is fetched during completion (user e-mails would need an API call).
import { UsageError } from '../errors.js';
import type { CommandModule } from './types.js';

export interface CompletionOptions {
  shell?: string;
}

export interface CompletionSpec {
  commands: Array<{ name: string; summary: string; flags: string[] }>;
  globalFlags: string[];
}

export interface CompletionResult {
  shell: 'bash' | 'zsh' | 'fish';
  script: string;
}

const SHELLS = ['bash', 'zsh', 'fish'] as const;

export function completionCommand(spec: CompletionSpec): CommandModule<CompletionOptions, CompletionResult> {
  return {
    async run(options) {
      const shell = options.shell as (typeof SHELLS)[number];
      if (!SHELLS.includes(shell)) throw new UsageError(`keyrot completion takes one of: ${SHELLS.join(', ')}.`);
      return { shell, script: SCRIPTS[shell](spec) };
    },
    render(result, ctx) {
      ctx.out.data(result.script);
    },
    toJson: (r) => ({ shell: r.shell, script: r.script }),
  };
}

const SCRIPTS: Record<(typeof SHELLS)[number], (spec: CompletionSpec) => string> = {
  bash(spec) {
    const cases = spec.commands.map((c) => `    ${c.name}) flags="${[...c.flags, ...spec.globalFlags].join(' ')}" ;;`).join('\n');
    return `# keyrot bash completion: eval "$(keyrot completion bash)"
_keyrot() {
  local cur cmd flags
  cur="\${COMP_WORDS[COMP_CWORD]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${spec.commands.map((c) => c.name).join(' ')} ${spec.globalFlags.join(' ')}" -- "$cur") )
    return
  fi
  case "$cmd" in
${cases}
    *) flags="${spec.globalFlags.join(' ')}" ;;
  esac
  COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
}
complete -o default -F _keyrot keyrot`;
  },
  zsh(spec) {
    const cmds = spec.commands.map((c) => `    '${c.name}:${c.summary.replace(/'/g, "'\\''").replace(/:/g, '\\:')}'`).join('\n');
    const cases = spec.commands.map((c) => `    ${c.name}) _values 'flag' ${[...c.flags, ...spec.globalFlags].map((f) => `'${f}'`).join(' ')} ;;`).join('\n');
    return `#compdef keyrot
# keyrot zsh completion: keyrot completion zsh > "\${fpath[1]}/_keyrot"
_keyrot() {
  local -a commands
  commands=(
${cmds}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case "\${words[2]}" in
${cases}
  esac
}
compdef _keyrot keyrot`;
  },
  fish(spec) {
    const lines = [
      '# keyrot fish completion: keyrot completion fish > ~/.config/fish/completions/keyrot.fish',
      'complete -c keyrot -f',
      ...spec.commands.map((c) => `complete -c keyrot -n __fish_use_subcommand -a ${c.name} -d '${c.summary.replace(/'/g, "\\'")}'`),
      ...spec.commands.flatMap((c) => c.flags.map((f) => `complete -c keyrot -n '__fish_seen_subcommand_from ${c.name}' -l ${f.replace(/^--/, '')}`)),
      ...spec.globalFlags.map((f) => `complete -c keyrot -l ${f.replace(/^--/, '')}`),
    ];
    return lines.join('\n');
  },
};
