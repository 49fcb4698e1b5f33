/**
 * `skiff logs`: prints (and with `-f` follows) a container's log.
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { duration, wholeNumberOrMinusOne } from "./_flags.ts";
import { runLogs } from "./logs_run.ts";

/** The `logs` command's flags. */
export function logsCommand(ctx: CliContext): Command {
  return new Command("logs")
    .description("print a container's log (e.g. `skiff logs web-1`, `skiff logs -f deploy/web`)")
    .argument("<pod>", "a pod name, or <type>/<name> of a pod or a workload (one of its pods is used)")
    .argument("[container]", "the container (same as -c)")
    .option("-c, --container <name>", "the container (default: the pod's default container, else its first)")
    .option("-f, --follow", "keep printing new lines")
    .addOption(
      new Option("--tail <lines>", "only the last lines (-1: all)").argParser(wholeNumberOrMinusOne).default(-1),
    )
    .option("-p, --previous", "the log of the previous run of the container, before its last restart")
    .option("--timestamps", "prefix each line with its time")
    .addOption(new Option("--since <duration>", "only lines newer than this, e.g. 10m").argParser(duration))
    .action(async (pod: string, container: string | undefined, options, command: Command) => {
      await runLogs(ctx, command, pod, {
        container: options.container ?? container,
        follow: Boolean(options.follow),
        tail: options.tail,
        previous: Boolean(options.previous),
        timestamps: Boolean(options.timestamps),
        sinceMs: options.since,
      });
    });
}
