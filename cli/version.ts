/**
 * `skiff version`: the client's version and the server's.
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { runVersion } from "./version_run.ts";

/** The `version` command's flags. */
export function versionCommand(ctx: CliContext): Command {
  return new Command("version")
    .description("print the client and server versions")
    .option("--client", "only the client version (no server needed)")
    .addOption(new Option("-o, --output <format>", "yaml or json").choices(["yaml", "json"]))
    .action(async (options, command: Command) => {
      await runVersion(ctx, command, { clientOnly: Boolean(options.client), output: options.output });
    });
}
