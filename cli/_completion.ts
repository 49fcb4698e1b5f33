/**
 * Shell completion scripts, generated from the commander program itself
 * (its commands, aliases, options and their choices), so they stay true as
 * commands change. Arguments named after resource types complete type
 * names, then object names (asked of the cluster with `skiff get`);
 * `<node>`/`<pod>` arguments complete node and pod names; `-n` completes
 * namespaces; `-f` completes files.
 *
 * @module
 */

import type { Command, Option } from "commander";
import { RESOURCE_TYPES } from "@skiff/api";

/** What an argument position completes. */
type ArgKind = "types" | "nodes" | "pods" | "none";

/** One command, as completion sees it. */
export interface CommandSpec {
  /** Words from the root, e.g. `["rollout", "status"]`. */
  path: string[];
  /** Name and aliases. */
  names: string[];
  /** Description. */
  description: string;
  /** Options (their own; the root's apply everywhere). */
  options: OptionSpec[];
  /** Subcommands. */
  subcommands: CommandSpec[];
  /** What the first argument completes. */
  args: ArgKind;
}

/** One option, as completion sees it. */
export interface OptionSpec {
  /** `-n`, if any. */
  short?: string;
  /** `--namespace`, if any. */
  long?: string;
  /** Whether it takes a value. */
  takesValue: boolean;
  /** Allowed values, if listed. */
  choices: string[];
  /** Description. */
  description: string;
  /** `file`, `namespace` or nothing: what its value completes. */
  value?: "file" | "namespace" | "format";
}

function argKind(command: Command): ArgKind {
  const first = command.registeredArguments[0]?.name() ?? "";
  if (first.startsWith("type") || first.startsWith("objects")) return "types";
  if (first.startsWith("node")) return "nodes";
  if (first === "pod") return "pods";
  return "none";
}

function optionSpec(option: Option): OptionSpec {
  const takesValue = option.required || option.optional;
  const spec: OptionSpec = {
    takesValue,
    choices: option.argChoices ?? [],
    description: option.description,
  };
  if (option.short) spec.short = option.short;
  if (option.long) spec.long = option.long;
  if (option.long === "--filename" || option.long === "--kubeconfig") spec.value = "file";
  if (option.long === "--namespace") spec.value = "namespace";
  if (option.long === "--output") spec.value = "format";
  return spec;
}

/** The completion model of `command` and everything under it. */
export function commandSpec(command: Command, path: string[] = []): CommandSpec {
  return {
    path,
    names: [command.name(), ...command.aliases()],
    description: command.description(),
    options: command.options.filter((o) => !o.hidden).map(optionSpec),
    subcommands: command.commands.map((c) => commandSpec(c, [...path, c.name()])),
    args: argKind(command),
  };
}

function all(spec: CommandSpec): CommandSpec[] {
  return [spec, ...spec.subcommands.flatMap(all)];
}

/** Every name a resource type answers to: plural, singular, short names. */
export function typeWords(): string[] {
  const words = new Set<string>();
  for (const t of RESOURCE_TYPES) {
    if (t.group === "metrics.k8s.io" || !t.verbs.includes("get")) continue;
    words.add(t.plural);
    words.add(t.singular);
    for (const s of t.shortNames) words.add(s);
  }
  return [...words].sort();
}

const OUTPUT_FORMATS = ["table", "wide", "yaml", "json", "name", "jsonpath=", "custom-columns="];

function flags(o: OptionSpec): string[] {
  return [o.short, o.long].filter((f): f is string => f !== undefined);
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The bash completion script. */
export function bashCompletion(root: CommandSpec): string {
  const commands = all(root);
  const key = (spec: CommandSpec) => spec.path.join(" ");
  const globals = root.options;
  const cases = (fn: (spec: CommandSpec) => string | undefined) =>
    commands.map((spec) => {
      const body = fn(spec);
      return body === undefined ? "" : `    ${quote(key(spec))}) ${body} ;;\n`;
    }).join("");
  const subcommands = cases((s) =>
    s.subcommands.length ? `echo ${quote(s.subcommands.flatMap((c) => c.names).join(" "))}` : undefined
  );
  const aliases = commands.flatMap((s) =>
    s.names.slice(1).map((alias) =>
      `    ${quote([...s.path.slice(0, -1), alias].join(" "))}) echo ${quote(key(s))} ;;\n`
    )
  ).join("");
  const options = cases((s) =>
    `echo ${quote([...s.options, ...(s === root ? [] : globals)].flatMap(flags).join(" "))}`
  );
  const valueOptions = cases((s) => {
    const list = [...s.options, ...(s === root ? [] : globals)].filter((o) => o.takesValue).flatMap(flags);
    return list.length ? `echo ${quote(list.join(" "))}` : undefined;
  });
  const choices = commands.flatMap((s) =>
    [...s.options, ...(s === root ? [] : globals)].filter((o) => o.takesValue).flatMap((o) => {
      const values = o.choices.length ? o.choices : o.value === "format" ? OUTPUT_FORMATS : [];
      const kind = o.value === "file" ? "__file__" : o.value === "namespace" ? "__namespace__" : values.join(" ");
      if (!kind) return [];
      return flags(o).map((f) => `    ${quote(`${key(s)}|${f}`)}) echo ${quote(kind)} ;;\n`);
    })
  ).join("");
  const args = cases((s) => s.args !== "none" ? `echo ${s.args}` : undefined);
  return `# bash completion for skiff, generated by \`skiff completion bash\` from the program's own commands.
# Load it with:  source <(skiff completion bash)

__skiff_subcommands() {
  case "$1" in
${subcommands}  esac
}

__skiff_alias() {
  case "$1" in
${aliases}    *) echo "$1" ;;
  esac
}

__skiff_options() {
  case "$1" in
${options}  esac
}

__skiff_value_options() {
  case "$1" in
${valueOptions}  esac
}

__skiff_choices() {
  case "$1|$2" in
${choices}  esac
}

__skiff_args() {
  case "$1" in
${args}  esac
}

__skiff_names() {
  local type="$1"; shift
  skiff get "$type" "$@" -o jsonpath='{.items[*].metadata.name}' 2>/dev/null
}

_skiff() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" path="" i w skip=0 ns=() positional=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then
      skip=0
      continue
    fi
    case "$w" in
      --) break ;;
      --*=*) ;;
      -n|--namespace) ns=("$w" "\${COMP_WORDS[i+1]}"); skip=1 ;;
      -*)
        if [[ " $(__skiff_value_options "$path") " == *" $w "* ]]; then skip=1; fi
        ;;
      *)
        if [[ " $(__skiff_subcommands "$path") " == *" $w "* ]]; then
          path=$(__skiff_alias "\${path:+$path }$w")
        else
          positional+=("$w")
        fi
        ;;
    esac
  done
  if ((skip)); then prev="\${COMP_WORDS[COMP_CWORD-1]}"; fi
  COMPREPLY=()
  if [[ -n "$prev" ]]; then
    local values
    values=$(__skiff_choices "$path" "$prev")
    case "$values" in
      __file__) COMPREPLY=($(compgen -f -- "$cur")) ;;
      __namespace__) COMPREPLY=($(compgen -W "$(__skiff_names namespaces)" -- "$cur")) ;;
      *) COMPREPLY=($(compgen -W "$values" -- "$cur")) ;;
    esac
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(__skiff_options "$path")" -- "$cur"))
    return 0
  fi
  local subs
  subs=$(__skiff_subcommands "$path")
  if [[ -n "$subs" ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    return 0
  fi
  case "$(__skiff_args "$path")" in
    types)
      if ((\${#positional[@]} == 0)); then
        COMPREPLY=($(compgen -W ${quote(typeWords().join(" "))} -- "$cur"))
      elif [[ "\${positional[0]}" != */* ]]; then
        COMPREPLY=($(compgen -W "$(__skiff_names "\${positional[0]}" "\${ns[@]}")" -- "$cur"))
      fi
      ;;
    nodes) COMPREPLY=($(compgen -W "$(__skiff_names nodes)" -- "$cur")) ;;
    pods)
      if ((\${#positional[@]} == 0)); then
        COMPREPLY=($(compgen -W "$(__skiff_names pods "\${ns[@]}")" -- "$cur"))
      fi
      ;;
  esac
  return 0
}

complete -F _skiff skiff
`;
}

/** The zsh completion script: zsh runs the bash one through bashcompinit. */
export function zshCompletion(root: CommandSpec): string {
  return `#compdef skiff
# zsh completion for skiff, generated by \`skiff completion zsh\` from the program's own commands.
# Load it with:  source <(skiff completion zsh)

autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit

${bashCompletion(root).split("\n").filter((line) => !line.startsWith("# ")).join("\n")}`;
}

/** The fish completion script. */
export function fishCompletion(root: CommandSpec): string {
  const lines: string[] = [
    "# fish completion for skiff, generated by `skiff completion fish` from the program's own commands.",
    "# Load it with:  skiff completion fish | source",
    "",
    "function __skiff_path",
    "    set -l words (commandline -opc)",
    "    set -e words[1]",
    "    set -l path",
    "    set -l skip 0",
    "    for w in $words",
    "        if test $skip = 1",
    "            set skip 0",
    "            continue",
    "        end",
    "        switch $w",
    "            case '--*=*'",
    "            case '-*'",
    "                if contains -- $w (__skiff_value_options (string join ' ' $path))",
    "                    set skip 1",
    "                end",
    "            case '*'",
    "                if contains -- $w (__skiff_subcommands (string join ' ' $path))",
    "                    set path $path (__skiff_alias (string join ' ' $path $w))",
    "                end",
    "        end",
    "    end",
    "    string join ' ' $path",
    "end",
    "",
    "function __skiff_positional",
    "    set -l words (commandline -opc)",
    "    set -e words[1]",
    "    set -l out",
    "    set -l skip 0",
    "    for w in $words",
    "        if test $skip = 1",
    "            set skip 0",
    "            continue",
    "        end",
    "        switch $w",
    "            case '--*=*'",
    "            case '-*'",
    "                if contains -- $w (__skiff_value_options (__skiff_path))",
    "                    set skip 1",
    "                end",
    "            case '*'",
    "                if not contains -- $w (string split ' ' -- (__skiff_path))",
    "                    set out $out $w",
    "                end",
    "        end",
    "    end",
    "    for o in $out",
    "        echo $o",
    "    end",
    "end",
    "",
    "function __skiff_is",
    "    set -l path (__skiff_path)",
    '    test "$path" = "$argv"',
    "end",
    "",
    "function __skiff_names",
    '    test -n "$argv[1]"; or return',
    "    skiff get $argv -o jsonpath='{.items[*].metadata.name}' 2>/dev/null | string split ' '",
    "end",
    "",
  ];
  const commands = all(root);
  const key = (spec: CommandSpec) => spec.path.join(" ");
  lines.push("function __skiff_subcommands", '    switch "$argv"');
  for (const s of commands.filter((c) => c.subcommands.length > 0)) {
    lines.push(
      `        case ${quote(key(s))}`,
      `            printf '%s\\n' ${s.subcommands.flatMap((c) => c.names).join(" ")}`,
    );
  }
  lines.push("    end", "end", "", "function __skiff_alias", '    switch "$argv"');
  for (const s of commands) {
    for (const alias of s.names.slice(1)) {
      lines.push(
        `        case ${quote([...s.path.slice(0, -1), alias].join(" "))}`,
        `            echo ${quote(s.names[0]!)}`,
      );
    }
  }
  lines.push("        case '*'", "            string split ' ' -- $argv | tail -n 1", "    end", "end", "");
  lines.push("function __skiff_value_options", '    switch "$argv"');
  for (const s of commands) {
    const list = [...s.options, ...(s === root ? [] : root.options)].filter((o) => o.takesValue).flatMap(flags);
    if (list.length) lines.push(`        case ${quote(key(s))}`, `            printf '%s\\n' -- ${list.join(" ")}`);
  }
  lines.push("    end", "end", "", "complete -c skiff -f");
  for (const s of commands) {
    const condition = `__skiff_is ${key(s)}`.trimEnd();
    for (const sub of s.subcommands) {
      for (const name of sub.names) {
        lines.push(`complete -c skiff -n ${quote(condition)} -a ${quote(name)} -d ${quote(sub.description)}`);
      }
    }
    const options = s === root ? s.options : s.options.concat(root.options);
    for (const o of options) {
      const parts = [`complete -c skiff -n ${quote(condition)}`];
      if (o.short) parts.push(`-s ${o.short.slice(1)}`);
      if (o.long) parts.push(`-l ${o.long.slice(2)}`);
      if (o.takesValue) {
        if (o.value === "file") parts.push("-r -F");
        else if (o.value === "namespace") parts.push("-x -a '(__skiff_names namespaces)'");
        else if (o.choices.length) parts.push(`-x -a ${quote(o.choices.join(" "))}`);
        else if (o.value === "format") parts.push(`-x -a ${quote(OUTPUT_FORMATS.join(" "))}`);
        else parts.push("-x");
      }
      parts.push(`-d ${quote(o.description)}`);
      lines.push(parts.join(" "));
    }
    if (s.args === "types") {
      lines.push(
        `complete -c skiff -n ${quote(`${condition}; and test (count (__skiff_positional)) -eq 0`)} -a ${
          quote(typeWords().join(" "))
        }`,
        `complete -c skiff -n ${
          quote(`${condition}; and test (count (__skiff_positional)) -ge 1`)
        } -a '(__skiff_names (__skiff_positional)[1])'`,
      );
    } else if (s.args === "nodes") {
      lines.push(`complete -c skiff -n ${quote(condition)} -a '(__skiff_names nodes)'`);
    } else if (s.args === "pods") {
      lines.push(
        `complete -c skiff -n ${
          quote(`${condition}; and test (count (__skiff_positional)) -eq 0`)
        } -a '(__skiff_names pods)'`,
      );
    }
  }
  return lines.join("\n") + "\n";
}
