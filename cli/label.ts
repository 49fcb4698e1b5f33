/**
 * `skiff label`: add, change (--overwrite) or remove (key-) labels on objects.
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { dryRunMode } from "./_flags.ts";
import { runLabelOrAnnotate } from "./_label_annotate.ts";

/** The `label` command's flags. */
export function labelCommand(ctx: CliContext): Command {
  return new Command("label")
    .description("add, change (--overwrite) or remove (key-) labels (e.g. `skiff label pod web tier=front`)")
    .argument("<objects-and-changes...>", "<type> <name>… or <type>/<name>…, then KEY=VALUE… and KEY-…")
    .option("--overwrite", "allow changing values that are already set")
    .option("-l, --selector <selector>", "change the objects with these labels")
    .option("--all", "change every object of the type in the namespace")
    .option("--list", "print the current labels instead")
    .option("--resource-version <version>", "only if the object is still at this resourceVersion")
    .addOption(new Option("--dry-run [mode]", "client or server: check without saving").argParser(dryRunMode))
    .action(async (args: string[], options, command: Command) => {
      await runLabelOrAnnotate(ctx, command, args, {
        field: "labels",
        overwrite: Boolean(options.overwrite),
        selector: options.selector,
        all: Boolean(options.all),
        list: Boolean(options.list),
        dryRun: dryRunMode(options.dryRun),
        resourceVersion: options.resourceVersion,
      });
    });
}
