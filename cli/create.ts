/**
 * `skiff create -f`: creates objects from manifests; existing objects are
 * an error (use `apply` to change them).
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { collect, dryRunMode } from "./_flags.ts";
import { runCreate } from "./create_run.ts";

/** The `create` command's flags. */
export function createCommand(ctx: CliContext): Command {
  return new Command("create")
    .description("create objects from files, directories, URLs or - (standard input)")
    .option("-f, --filename <source>", "manifest file, directory, URL or - (repeatable)", collect, [])
    .option("-R, --recursive", "also read subdirectories of directories")
    .addOption(new Option("--dry-run [mode]", "client or server: check without creating").argParser(dryRunMode))
    .option("-o, --output <format>", "name, yaml or json instead of the usual lines")
    .action(async (options, command: Command) => {
      await runCreate(ctx, command, {
        filenames: options.filename,
        recursive: Boolean(options.recursive),
        dryRun: dryRunMode(options.dryRun),
        output: options.output,
      });
    });
}
