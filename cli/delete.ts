/**
 * `skiff delete`: deletes objects named on the command line, picked by a
 * selector, or read from manifests, and by default waits until they are
 * gone.
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { booleanValue, collect, duration, wholeNumberOrMinusOne } from "./_flags.ts";
import { runDelete } from "./delete_run.ts";

/** The `delete` command's flags. */
export function deleteCommand(ctx: CliContext): Command {
  return new Command("delete")
    .description("delete objects by type and name, by selector, or from manifests (-f)")
    .argument("[type-and-names...]", "<type> <name>… or <type>/<name>…")
    .option("-f, --filename <source>", "delete the objects of these manifests (repeatable)", collect, [])
    .option("-R, --recursive", "also read subdirectories of directories")
    .option("-l, --selector <selector>", "delete the objects with these labels")
    .option("--all", "delete every object of the type in the namespace")
    .option("-A, --all-namespaces", "with -l or --all: in every namespace")
    .option("--ignore-not-found", "say nothing about objects that do not exist")
    .addOption(
      new Option("--wait [bool]", "wait until the objects are gone").argParser(booleanValue).default(true),
    )
    .addOption(
      new Option("--timeout <duration>", "how long --wait waits (0: the objects' grace period plus a minute)")
        .argParser(duration).default(0, "0"),
    )
    .addOption(
      new Option("--grace-period <seconds>", "seconds to terminate gracefully (-1: the object's own)")
        .argParser(wholeNumberOrMinusOne).default(-1),
    )
    .option("--now", "terminate at once (grace period 1)")
    .option("--force", "with --grace-period=0: remove at once, without waiting for the node to confirm")
    .addOption(
      new Option("--cascade <policy>", "what happens to dependents").choices(["background", "foreground", "orphan"])
        .default("background"),
    )
    .addOption(new Option("--dry-run [mode]", "server: check without deleting").choices(["none", "client", "server"]))
    .action(async (args: string[], options, command: Command) => {
      await runDelete(ctx, command, args, {
        filenames: options.filename,
        recursive: Boolean(options.recursive),
        selector: options.selector,
        all: Boolean(options.all),
        allNamespaces: Boolean(options.allNamespaces),
        ignoreNotFound: Boolean(options.ignoreNotFound),
        wait: options.wait,
        timeoutMs: options.timeout,
        gracePeriod: options.gracePeriod,
        now: Boolean(options.now),
        force: Boolean(options.force),
        cascade: options.cascade,
        dryRun: options.dryRun === true ? "client" : options.dryRun ?? "none",
      });
    });
}
