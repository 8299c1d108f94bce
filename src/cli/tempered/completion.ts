// Bash completion from the command tree itself, so it never falls behind the commands.
import type { Command } from 'commander';

/** Every command path ("node deploy") with the words that may follow it. */
function wordsByPath(
  command: Command,
  prefix: string[] = [],
  table: Map<string, string[]> = new Map(),
): Map<string, string[]> {
  const options = command.options.map((o) => o.long).filter((o): o is string => Boolean(o));
  table.set(prefix.join(' '), [...command.commands.map((c) => c.name()), ...options, '--help']);
  for (const sub of command.commands) wordsByPath(sub, [...prefix, sub.name()], table);
  return table;
}

export function bashCompletion(program: Command): string {
  const cases = [...wordsByPath(program)]
    .map(([path, words]) => `    "${path}") words="${words.join(' ')}" ;;`)
    .join('\n');
  return `# bash completion for tempered: source <(tempered completion)
_tempered() {
  local path="" word words
  for word in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$word" in -*) ;; *) path="\${path:+$path }$word" ;; esac
  done
  case "$path" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "\${COMP_WORDS[COMP_CWORD]}"))
}
complete -F _tempered tempered`;
}
