/**
 * `skiff api-resources`: the resource types the server serves, with the
 * short names `get` and friends accept.
 *
 * @module
 */

import { Command, Option } from "commander";
import type { CliContext } from "./_context.ts";
import { runApiResources } from "./api_resources_run.ts";

/** The `api-resources` command's flags. */
export function apiResourcesCommand(ctx: CliContext): Command {
  return new Command("api-resources")
    .description("list the resource types and their short names")
    .addOption(new Option("-o, --output <format>", "name: only the names").choices(["name", "wide"]))
    .option("--namespaced [bool]", "only namespaced (true) or cluster-scoped (false) types", (v) => v !== "false")
    .option("--api-group <group>", 'only this API group ("" for core)')
    .option("--no-headers", "print no header line")
    .action((options) => {
      runApiResources(ctx, {
        output: options.output,
        namespaced: options.namespaced,
        apiGroup: options.apiGroup,
        headers: options.headers !== false,
      });
    });
}
