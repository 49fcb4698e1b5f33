/**
 * `skiff events`: what happened in the cluster, oldest first; `-w`
 * follows new events.
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { runEvents } from "./events_run.ts";

/** The `events` command's flags. */
export function eventsCommand(ctx: CliContext): Command {
  return new Command("events")
    .description("list events, oldest first (e.g. `skiff events -A`, `skiff events --for pod/web-1 -w`)")
    .option("-A, --all-namespaces", "across all namespaces")
    .option("-w, --watch", "after listing, print new events as they come")
    .option("--for <object>", "only events about this object, <type>/<name>")
    .option("--types <types>", "only these types, comma-separated (Normal, Warning)")
    .addOption(
      new Option("-o, --output <format>", "table, yaml, json or name").choices(["table", "yaml", "json", "name"]),
    )
    .option("--no-headers", "print no header line")
    .action(async (options, command: Command) => {
      await runEvents(ctx, command, {
        allNamespaces: Boolean(options.allNamespaces),
        watch: Boolean(options.watch),
        for: options.for,
        types: options.types,
        output: options.output ?? "table",
        headers: options.headers !== false,
      });
    });
}
