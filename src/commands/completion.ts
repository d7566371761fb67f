// `keyrot completion bash|zsh|fish`: a completion script for commands, flags and flag values, generated from
// the same tables as --help. Nothing is fetched during completion (user e-mails would need an API call), so
// a value keyrot cannot list (--user, --name) completes to nothing rather than to something wrong.
//
// Each script reads the words before the cursor the same way keyrot's parser does: a flag that takes a value
// swallows the next word (so `keyrot --api-url URL li<TAB>` still finds the command), the first other word is
// the command, and what follows it is its positional argument.
import { UsageError } from '../errors.js';
import type { CommandModule } from './types.js';
import { say, displayText } from '../ui/display-text.js';

export interface CompletionOptions {
  shell?: string;
}

export interface CompletionFlag {
  /** "--user" */
  long: string;
  /** "-u", when the flag has a short form. */
  short?: string;
  description: string;
  /** null: a switch. Otherwise it takes a value: one of `choices`, a file or folder (`kind`), or anything. */
  value: null | { choices?: readonly string[]; kind?: 'file' | 'dir' };
}

export interface CompletionCommand {
  name: string;
  summary: string;
  /** Its own flags and the global ones that apply to it. */
  flags: CompletionFlag[];
  /** The values of its positional argument, if it has one keyrot can list. */
  argumentChoices?: readonly string[];
}

export interface CompletionSpec {
  commands: CompletionCommand[];
  /** Flags before the command. */
  globalFlags: CompletionFlag[];
}

export interface CompletionResult {
  shell: Shell;
  script: string;
}

type Shell = 'bash' | 'zsh' | 'fish';

export function completionCommand(spec: CompletionSpec): CommandModule<CompletionOptions, CompletionResult> {
  return {
    async run(options) {
      const shell = options.shell as Shell;
      if (!Object.hasOwn(SCRIPTS, shell ?? '')) throw new UsageError(say`keyrot completion takes one of: ${displayText(Object.keys(SCRIPTS).join(', '))}.`);
      return { shell, script: SCRIPTS[shell](spec) };
    },
    render(result, ctx) {
      ctx.out.document(result.script);
    },
    toJson: (r) => ({ shell: r.shell, script: r.script }),
  };
}

/** A flag as the scripts recognise it: "--user=" / "-u=" for one that takes a value, "--yes" for a switch. */
function tokens(flags: readonly CompletionFlag[]): string[] {
  return flags.flatMap((f) => [f.long, ...(f.short ? [f.short] : [])].map((name) => `${name}${f.value ? '=' : ''}`));
}

/** Every flag whose value can be completed, by name (one value kind per name across commands). */
function valueFlags(spec: CompletionSpec): Array<{ names: string[]; choices?: readonly string[]; kind?: 'file' | 'dir' }> {
  const byLong = new Map<string, CompletionFlag>();
  for (const flag of [...spec.globalFlags, ...spec.commands.flatMap((c) => c.flags)]) {
    if (!flag.value || (!flag.value.choices && !flag.value.kind)) continue;
    const seen = byLong.get(flag.long);
    if (seen && JSON.stringify(seen.value) !== JSON.stringify(flag.value)) throw new Error(`${flag.long} takes different values in different commands`);
    byLong.set(flag.long, flag);
  }
  return [...byLong.values()].map((f) => ({ names: [f.long, ...(f.short ? [f.short] : [])], ...f.value }));
}

/** The commands whose positional argument can be completed. */
function argumentCases(spec: CompletionSpec): Array<{ name: string; choices: readonly string[] }> {
  return spec.commands.flatMap((c) => (c.argumentChoices ? [{ name: c.name, choices: c.argumentChoices }] : []));
}

/** Flag lists per command ('' is before any command). */
function flagSets(spec: CompletionSpec): Array<{ name: string; flags: readonly CompletionFlag[] }> {
  return [{ name: '', flags: spec.globalFlags }, ...spec.commands.map((c) => ({ name: c.name, flags: c.flags }))];
}

const single = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

const SCRIPTS: Record<Shell, (spec: CompletionSpec) => string> = {
  bash(spec) {
    const flagCases = flagSets(spec)
      .map((s) => `    ${single(s.name)}) echo ${single(tokens(s.flags).join(' '))} ;;`)
      .join('\n');
    const valueCases = valueFlags(spec)
      .map((v) => {
        const action = v.choices
          ? `COMPREPLY=( $(compgen -W ${single(v.choices.join(' '))} -- "$2") )`
          : `compopt -o filenames 2>/dev/null; COMPREPLY=( $(compgen ${v.kind === 'dir' ? '-d' : '-f'} -- "$2") )`;
        return `    ${v.names.join('|')}) ${action} ;;`;
      })
      .join('\n');
    const argCases = argumentCases(spec)
      .map((a) => `    ${a.name}) echo ${single(a.choices.join(' '))} ;;`)
      .join('\n');
    return `# keyrot bash completion: eval "$(keyrot completion bash)"
# Commands, flags and the values keyrot can list (--store, shells); nothing is fetched.
_keyrot_flags() {
  case "$1" in
${flagCases}
  esac
}
_keyrot_values() {
  case "$1" in
${valueCases}
    *) COMPREPLY=() ;;
  esac
}
_keyrot_args() {
  case "$1" in
${argCases}
  esac
}
# The words before the cursor as keyrot sees them: bash splits "--api-url https://x" and "--store=none" at
# ":" and "=" (COMP_WORDBREAKS); words with no blank between them are joined again.
_keyrot_words() {
  local i w start pos=0
  _keyrot_w=()
  _keyrot_c=0
  for (( i = 0; i < \${#COMP_WORDS[@]} && i <= COMP_CWORD; i++ )); do
    w="\${COMP_WORDS[i]}"
    start=$pos
    while [[ "\${COMP_LINE:pos:1}" == [[:blank:]] ]]; do pos=$((pos + 1)); done
    if [ "$i" -gt 0 ] && [ "$pos" -eq "$start" ]; then
      _keyrot_w[\${#_keyrot_w[@]} - 1]+="$w"
    else
      _keyrot_w+=("$w")
    fi
    pos=$((pos + \${#w}))
  done
  _keyrot_c=$((\${#_keyrot_w[@]} - 1))
}
_keyrot() {
  local _keyrot_w _keyrot_c cur cmd="" value="" flags offer="" w i n=0
  _keyrot_words
  cur="\${_keyrot_w[_keyrot_c]}"
  flags="$(_keyrot_flags "")"
  for (( i = 1; i < _keyrot_c; i++ )); do
    w="\${_keyrot_w[i]}"
    if [ -n "$value" ]; then
      value=""
      continue
    fi
    case "$w" in
      --) COMPREPLY=(); return ;;
      --*=*) ;;
      -*) case " $flags " in *" $w= "*) value="$w" ;; esac ;;
      *) if [ -z "$cmd" ]; then cmd="$w"; flags="$(_keyrot_flags "$cmd")"; else n=$((n + 1)); fi ;;
    esac
  done
  # --store=n: bash completes the part after "=".
  if [ -z "$value" ] && [[ "$cur" == --*=* ]]; then
    value="\${cur%%=*}"
    cur="\${cur#*=}"
    case " $flags " in *" $value= "*) ;; *) COMPREPLY=(); return ;; esac
  fi
  if [ -n "$value" ]; then
    _keyrot_values "$value" "$cur"
    return
  fi
  case "$cur" in
    -*)
      for w in $flags; do case "$w" in --*) offer="$offer \${w%=}" ;; esac; done
      COMPREPLY=( $(compgen -W "$offer" -- "$cur") ) ;;
    *)
      if [ -z "$cmd" ]; then
        COMPREPLY=( $(compgen -W ${single(spec.commands.map((c) => c.name).join(' '))} -- "$cur") )
      elif [ "$n" -eq 0 ]; then
        COMPREPLY=( $(compgen -W "$(_keyrot_args "$cmd")" -- "$cur") )
      else
        COMPREPLY=()
      fi ;;
  esac
}
complete -F _keyrot keyrot`;
  },

  zsh(spec) {
    // _describe takes "name:description"; a colon in the name would need escaping (flag names have none).
    const described = (name: string, description: string) => single(`${name}:${description}`);
    const flagCases = flagSets(spec)
      .map((s) => `    ${single(s.name)}) echo ${single(tokens(s.flags).join(' '))} ;;`)
      .join('\n');
    const describeCases = flagSets(spec)
      .map((s) => `    ${single(s.name)}) opts=( ${s.flags.map((f) => described(f.long, f.description)).join(' ')} ) ;;`)
      .join('\n');
    const valueCases = valueFlags(spec)
      .map((v) => `    ${v.names.join('|')}) ${v.choices ? `compadd -- ${v.choices.map(single).join(' ')}` : v.kind === 'dir' ? '_files -/' : '_files'} ;;`)
      .join('\n');
    const argCases = argumentCases(spec)
      .map((a) => `      ${a.name}) compadd -- ${a.choices.map(single).join(' ')} ;;`)
      .join('\n');
    return `#compdef keyrot
# keyrot zsh completion: keyrot completion zsh > "\${fpath[1]}/_keyrot" (or eval "$(keyrot completion zsh)" after compinit)
# Commands, flags and the values keyrot can list (--store, shells); nothing is fetched.
_keyrot_flags() {
  case "$1" in
${flagCases}
  esac
}
_keyrot_describe_flags() {
  case "$1" in
${describeCases}
  esac
}
_keyrot_values() {
  case "$1" in
${valueCases}
    *) return 1 ;;
  esac
}
_keyrot() {
  local cur="\${words[CURRENT]}" cmd="" value="" flags w i n=0
  local -a opts commands
  flags="$(_keyrot_flags "")"
  for (( i = 2; i < CURRENT; i++ )); do
    w="\${words[i]}"
    if [[ -n $value ]]; then
      value=""
      continue
    fi
    case "$w" in
      --) return 1 ;;
      --*=*) ;;
      -*) [[ " $flags " == *" $w= "* ]] && value="$w" ;;
      *) if [[ -z $cmd ]]; then cmd="$w"; flags="$(_keyrot_flags "$cmd")"; else n=$((n + 1)); fi ;;
    esac
  done
  if [[ -z $value && $cur == --*=* ]]; then
    value="\${cur%%=*}"
    [[ " $flags " == *" $value= "* ]] || return 1
    compset -P '*='
  fi
  if [[ -n $value ]]; then
    _keyrot_values "$value"
    return
  fi
  if [[ $cur == -* ]]; then
    _keyrot_describe_flags "$cmd"
    _describe -t options 'option' opts
    return
  fi
  if [[ -z $cmd ]]; then
    commands=( ${spec.commands.map((c) => described(c.name, c.summary)).join(' ')} )
    _describe -t commands 'keyrot command' commands
  elif (( n == 0 )); then
    case "$cmd" in
${argCases}
      *) return 1 ;;
    esac
  else
    return 1
  fi
}
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _keyrot "$@"
else
  compdef _keyrot keyrot
fi`;
  },

  fish(spec) {
    const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    const line = (name: string, description: string) => quote(`${name}\t${description}`);
    const flagCases = flagSets(spec)
      .map((s) => {
        const lines = s.flags.flatMap((f) => [f.long, ...(f.short ? [f.short] : [])].map((name) => line(`${name}${f.value ? '=' : ''}`, f.description)));
        return `        case ${quote(s.name)}\n            printf '%s\\n' ${lines.join(' ')}`;
      })
      .join('\n');
    const valueCases = valueFlags(spec)
      .map((v) => {
        const names = v.names.map(quote).join(' ');
        if (v.choices) return `        case ${names}\n            printf '%s\\n' $prefix${v.choices.map(quote).join(` $prefix`)}`;
        const helper = v.kind === 'dir' ? '__fish_complete_directories' : '__fish_complete_path';
        return `        case ${names}\n            ${helper} (string sub -s (math (string length -- "$prefix") + 1) -- $cur) | string replace -r -- '^' $prefix`;
      })
      .join('\n');
    const argCases = argumentCases(spec)
      .map((a) => `            case ${quote(a.name)}\n                printf '%s\\n' ${a.choices.map(quote).join(' ')}`)
      .join('\n');
    return `# keyrot fish completion: keyrot completion fish > ~/.config/fish/completions/keyrot.fish
# Commands, flags and the values keyrot can list (--store, shells); nothing is fetched.
function __keyrot_flags
    switch "$argv[1]"
${flagCases}
    end
end

function __keyrot_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -e words[1]
    set -l cmd ''
    set -l value ''
    set -l n 0
    for w in $words
        if test -n "$value"
            set value ''
            continue
        end
        switch $w
            case --
                return
            case '--*=*'
            case '-*'
                if __keyrot_flags $cmd | string match -q -- "$w=*"
                    set value $w
                end
            case '*'
                if test -z "$cmd"
                    set cmd $w
                else
                    set n (math $n + 1)
                end
        end
    end
    set -l prefix ''
    if test -z "$value"; and string match -q -- '--*=*' $cur
        set value (string split -m1 = -- $cur)[1]
        __keyrot_flags $cmd | string match -q -- "$value=*"; or return
        set prefix "$value="
    end
    if test -n "$value"
        switch $value
${valueCases}
        end
        return
    end
    if string match -q -- '-*' $cur
        __keyrot_flags $cmd | string match -r -- '^--.*' | string replace -r -- '^([^\\t=]*)=?\\t' '$1\\t'
        return
    end
    if test -z "$cmd"
        printf '%s\\n' ${spec.commands.map((c) => line(c.name, c.summary)).join(' ')}
    else if test $n -eq 0
        switch $cmd
${argCases}
        end
    end
end

complete -c keyrot -f -a '(__keyrot_complete)'`;
  },
};
