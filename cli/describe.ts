/**
 * `skiff describe`: shows objects in detail, with their Events.
 *
 * @module
 */

import { Command } from "commander";
import type { CliContext } from "./_context.ts";
import { runDescribe } from "./describe_run.ts";

/** The `describe` command's flags. */
export function describeCommand(ctx: CliContext): Command {
  return new Command("describe")
    .description("show details of objects, with their events (e.g. `skiff describe pod web-1`)")
    .argument("<type-and-names...>", "<type> [name…] or <type>/<name>…")
    .option("-l, --selector <selector>", "describe the objects with these labels")
    .option("-A, --all-namespaces", "across all namespaces")
    .option("--show-events [bool]", "show the Events section (default true)", (v) => v !== "false", true)
    .action(async (args: string[], options, command: Command) => {
      await runDescribe(ctx, command, args, {
        selector: options.selector,
        allNamespaces: Boolean(options.allNamespaces),
        showEvents: options.showEvents !== false,
      });
    });
}
