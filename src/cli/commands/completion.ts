import { Command, Argument } from 'commander'
import { KizunaError } from '../../errors.js'
import { printJson, withCommonOptions, type CommonOptions } from '../common.js'

interface Spec { name: string, description: string, choices: string[], options: Array<{ flag: string, description: string, takesValue: boolean }>, subcommands: Spec[] }

function specOf (command: Command): Spec {
  return {
    name: command.name(),
    description: command.description(),
    choices: command.registeredArguments.flatMap(a => a.argChoices ?? []),
    options: command.options.flatMap(o => [o.long, o.short].filter((f): f is string => f != null).map(flag => ({ flag, description: o.description, takesValue: o.required || o.optional }))),
    subcommands: command.commands.map(specOf)
  }
}

const words = (list: string[]): string => list.join(' ')

/** bash: the command names first, then each command's options (and subcommands), files otherwise */
export function bashCompletion (program: Command): string {
  const spec = specOf(program)
  const cases = spec.subcommands.map(c => `    ${c.name}) opts="${words([...new Set([...c.choices, ...c.subcommands.map(s => s.name), ...c.options.map(o => o.flag), ...c.subcommands.flatMap(s => s.options.map(o => o.flag))])])}" ;;`).join('\n')
  return `# kizuna bash completion: source <(kizuna completion bash), or save it in ~/.local/share/bash-completion/completions/kizuna
_kizuna() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${words(spec.subcommands.map(c => c.name))}" -- "$cur") )
    return
  fi
  local opts=""
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
  if [[ "$cur" == -* || "\${COMP_WORDS[1]}" == config || "\${COMP_WORDS[1]}" == completion ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -o default -F _kizuna kizuna
`
}

const zshText = (text: string): string => text.replace(/[[\]:'\\]/g, ' ')

/** zsh: native _arguments specs, with descriptions */
export function zshCompletion (program: Command): string {
  const spec = specOf(program)
  const commands = spec.subcommands.map(c => `    '${c.name}:${zshText(c.description)}'`).join('\n')
  const cases = spec.subcommands.map(c => {
    const opts = c.options.map(o => `'${o.flag}[${zshText(o.description)}]${o.takesValue ? ':value:_files' : ''}'`)
    const subs = c.subcommands.length > 0
      ? [`'1:subcommand:(${c.subcommands.map(s => s.name).join(' ')})'`]
      : c.choices.length > 0 ? [`'1:choice:(${c.choices.join(' ')})'`] : ["'*:file:_files'"]
    return `    ${c.name}) _arguments ${[...opts, ...subs].join(' ')} ;;`
  }).join('\n')
  return `#compdef kizuna
# kizuna zsh completion: source <(kizuna completion zsh), or save it as _kizuna in a directory on $fpath
_kizuna() {
  local -a commands
  commands=(
${commands}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  shift words
  (( CURRENT-- ))
  case $words[1] in
${cases}
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _kizuna "$@"; else compdef _kizuna kizuna; fi
`
}

export function completionCommand (program: Command): Command {
  return withCommonOptions(new Command('completion'))
    .description('print a shell completion script (bash or zsh)')
    .addArgument(new Argument('<shell>').choices(['bash', 'zsh']))
    .action((shell: string, flags: CommonOptions) => {
      let script: string
      if (shell === 'bash') script = bashCompletion(program)
      else if (shell === 'zsh') script = zshCompletion(program)
      else throw new KizunaError('ERR_BAD_FLAG', `no completion for ${shell}`)
      if (flags.json === true) printJson({ shell, script })
      else process.stdout.write(script)
    })
}
