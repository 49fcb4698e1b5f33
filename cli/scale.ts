/**
 * `skiff scale`: sets the number of replicas of deployments, replica sets
 * and stateful sets.
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { dryRunMode, wholeNumber } from "./_flags.ts";
import { runScale } from "./scale_run.ts";

/** The `scale` command's flags. */
export function scaleCommand(ctx: CliContext): Command {
  return new Command("scale")
    .description("set the number of replicas (e.g. `skiff scale deploy/web --replicas=3`)")
    .argument("<type-and-names...>", "<type> <name>… or <type>/<name>…")
    .addOption(
      new Option("--replicas <count>", "the new number of replicas").argParser(wholeNumber).makeOptionMandatory(),
    )
    .addOption(
      new Option("--current-replicas <count>", "only if the current number of replicas is this").argParser(wholeNumber),
    )
    .addOption(new Option("--dry-run [mode]", "client or server: check without saving").argParser(dryRunMode))
    .action(async (args: string[], options, command: Command) => {
      await runScale(ctx, command, args, {
        replicas: options.replicas,
        currentReplicas: options.currentReplicas,
        dryRun: dryRunMode(options.dryRun),
      });
    });
}
