/**
 * `skiff uncordon`: mark nodes schedulable again.
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { runCordon } from "./_cordon.ts";
import { dryRunMode } from "./_flags.ts";

/** The `uncordon` command's flags. */
export function uncordonCommand(ctx: CliContext): Command {
  return new Command("uncordon")
    .description("mark nodes schedulable again")
    .argument("[nodes...]", "node names")
    .option("-l, --selector <selector>", "the nodes with these labels")
    .addOption(new Option("--dry-run [mode]", "client or server: check without saving").argParser(dryRunMode))
    .action(async (names: string[], options, command: Command) => {
      await runCordon(ctx, command, names, false, { selector: options.selector, dryRun: dryRunMode(options.dryRun) });
    });
}
