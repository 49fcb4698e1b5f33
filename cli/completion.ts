/**
 * `skiff completion bash|zsh|fish`: prints a shell completion script,
 * generated from the program's own commands.
 *
 * @module
 */

import { Argument, Command } from "commander";
import type { CliContext } from "./_context.ts";
import { runCompletion } from "./completion_run.ts";

/** The `completion` command's flags. */
export function completionCommand(ctx: CliContext): Command {
  return new Command("completion")
    .description("print a shell completion script (e.g. `source <(skiff completion bash)`)")
    .addArgument(new Argument("<shell>", "the shell").choices(["bash", "zsh", "fish"]))
    .action((shell: "bash" | "zsh" | "fish", _options, command: Command) => {
      runCompletion(ctx, command, shell);
    });
}
