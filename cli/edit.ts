/**
 * `skiff edit`: opens an object in $KUBE_EDITOR or $EDITOR (else `vi`)
 * and saves what changed.
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { runEdit } from "./edit_run.ts";

/** The `edit` command's flags. */
export function editCommand(ctx: CliContext): Command {
  return new Command("edit")
    .description("edit an object in your editor ($KUBE_EDITOR, $EDITOR, else vi) and save the changes")
    .argument("<type-and-name...>", "<type> <name> or <type>/<name>")
    .addOption(new Option("-o, --output <format>", "edit as yaml or json").choices(["yaml", "json"]).default("yaml"))
    .action(async (args: string[], options, command: Command) => {
      await runEdit(ctx, command, args, { output: options.output });
    });
}
