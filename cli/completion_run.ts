/**
 * What `skiff completion` does: walks the program from its root and
 * prints the script for the shell asked for.
 *
 * @module
 */

import type { Command } from "commander";
import type { CliContext } from "./_context.ts";
import { bashCompletion, commandSpec, fishCompletion, zshCompletion } from "./_completion.ts";

/** Runs `skiff completion`. */
export function runCompletion(ctx: CliContext, command: Command, shell: "bash" | "zsh" | "fish"): void {
  let root = command;
  while (root.parent) root = root.parent;
  const spec = commandSpec(root);
  const generate = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion }[shell];
  ctx.print(generate(spec));
}
