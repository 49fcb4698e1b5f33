/**
 * `skiff cordon`: mark nodes unschedulable: running pods stay, new pods go elsewhere.
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { runCordon } from "./_cordon.ts";
import { dryRunMode } from "./_flags.ts";

/** The `cordon` command's flags. */
export function cordonCommand(ctx: CliContext): Command {
  return new Command("cordon")
    .description("mark nodes unschedulable: running pods stay, new pods go elsewhere")
    .argument("[nodes...]", "node names")
    .option("-l, --selector <selector>", "the nodes with these labels")
    .addOption(new Option("--dry-run [mode]", "client or server: check without saving").argParser(dryRunMode))
    .action(async (names: string[], options, command: Command) => {
      await runCordon(ctx, command, names, true, { selector: options.selector, dryRun: dryRunMode(options.dryRun) });
    });
}
