/**
 * `skiff apply -f`: creates or updates objects from manifests, as
 * `kubectl apply` does (client-side three-way merge with the
 * last-applied-configuration annotation, or `--server-side`).
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { collect, dryRunMode } from "./_flags.ts";
import { runApply } from "./apply_run.ts";

/** The `apply` command's flags. */
export function applyCommand(ctx: CliContext): Command {
  return new Command("apply")
    .description("create or update objects from files, directories, URLs or - (standard input)")
    .option("-f, --filename <source>", "manifest file, directory, URL or - (repeatable)", collect, [])
    .option("-R, --recursive", "also read subdirectories of directories")
    .addOption(
      new Option("--dry-run [mode]", "client: show what would change; server: let the server check it too")
        .argParser(dryRunMode),
    )
    .option("-o, --output <format>", "name, yaml or json instead of the usual lines")
    .option("--prune", "delete objects applied before that are no longer in the manifests (needs -l or --all)")
    .option("-l, --selector <selector>", "with --prune: only prune objects with these labels")
    .option("--all", "with --prune: consider every applied object of the namespaces touched")
    .option("--server-side", "let the server merge (server-side apply) instead of a client-side three-way merge")
    .option("--force-conflicts", "with --server-side: take over fields other managers own")
    .action(async (options, command: Command) => {
      await runApply(ctx, command, {
        filenames: options.filename,
        recursive: Boolean(options.recursive),
        dryRun: dryRunMode(options.dryRun),
        output: options.output,
        prune: Boolean(options.prune),
        selector: options.selector,
        all: Boolean(options.all),
        serverSide: Boolean(options.serverSide),
        forceConflicts: Boolean(options.forceConflicts),
      });
    });
}
