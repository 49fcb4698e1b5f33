/**
 * `skiff drain`: cordons a node, then evicts its pods and waits for them
 * to go, so the node can be taken down for maintenance.
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { dryRunMode, duration, wholeNumberOrMinusOne } from "./_flags.ts";
import { runDrain } from "./drain_run.ts";

/** The `drain` command's flags. */
export function drainCommand(ctx: CliContext): Command {
  return new Command("drain")
    .description("cordon a node and evict its pods, for maintenance (undo with `skiff uncordon`)")
    .argument("<node>", "the node")
    .option("--ignore-daemonsets", "leave DaemonSet-managed pods (they would come straight back) and go on")
    .option("--force", "also delete pods that no controller manages (they will not come back)")
    .option("--delete-emptydir-data", "also evict pods with emptyDir volumes (their data is lost)")
    .addOption(
      new Option("--grace-period <seconds>", "seconds each pod has to stop (-1: the pod's own)")
        .argParser(wholeNumberOrMinusOne).default(-1),
    )
    .addOption(
      new Option("--timeout <duration>", "give up after this long (0: never)").argParser(duration).default(0, "0"),
    )
    .option("--pod-selector <selector>", "only evict the pods with these labels")
    .option("--disable-eviction", "delete pods instead of evicting them (skips disruption budgets)")
    .addOption(new Option("--dry-run [mode]", "client or server: show what would be evicted").argParser(dryRunMode))
    .action(async (node: string, options, command: Command) => {
      await runDrain(ctx, command, node, {
        ignoreDaemonsets: Boolean(options.ignoreDaemonsets),
        force: Boolean(options.force),
        deleteEmptyDirData: Boolean(options.deleteEmptydirData),
        gracePeriod: options.gracePeriod,
        timeoutMs: options.timeout,
        podSelector: options.podSelector,
        disableEviction: Boolean(options.disableEviction),
        dryRun: dryRunMode(options.dryRun),
      });
    });
}
