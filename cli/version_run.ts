/**
 * What `skiff version` does: prints the client's version, then asks the
 * server for `/version`.
 *
 * @module
 */

import type { Command } from "commander";
import type { CliContext } from "./_context.ts";
import { toJson, toYaml } from "./_printers.ts";
import { CLI_VERSION } from "./_version.ts";

/** Options of {@linkcode runVersion}. */
export interface VersionOptions {
  /** `--client`. */
  clientOnly: boolean;
  /** `-o`. */
  output?: "yaml" | "json";
}

/** The server's `/version` answer. */
export interface ServerVersion {
  /** e.g. `v1.32.0-skiff.0.1.0`. */
  gitVersion?: string;
  /** Kubernetes major version. */
  major?: string;
  /** Kubernetes minor version. */
  minor?: string;
  /** e.g. `linux/arm64`. */
  platform?: string;
  /** Other fields. */
  [field: string]: unknown;
}

/** Runs `skiff version`. */
export async function runVersion(ctx: CliContext, command: Command, options: VersionOptions): Promise<void> {
  const arch = Deno.build.arch === "aarch64" ? "arm64" : "amd64";
  const client = {
    gitVersion: `v${CLI_VERSION}`,
    platform: `${Deno.build.os}/${arch}`,
    runtime: `deno ${Deno.version.deno}`,
  };
  if (options.clientOnly) {
    if (options.output === "json") ctx.print(toJson({ clientVersion: client }));
    else if (options.output === "yaml") ctx.print(toYaml({ clientVersion: client }));
    else ctx.print(`Client Version: ${client.gitVersion}\n`);
    return;
  }
  if (!options.output) ctx.print(`Client Version: ${client.gitVersion}\n`);
  const conn = await ctx.connect(command);
  const server = await conn.client.json<ServerVersion>("GET", "/version");
  if (options.output === "json") ctx.print(toJson({ clientVersion: client, serverVersion: server }));
  else if (options.output === "yaml") ctx.print(toYaml({ clientVersion: client, serverVersion: server }));
  else {
    ctx.print(`Server Version: ${server.gitVersion ?? "unknown"}\n`);
    if (server.major && server.minor) ctx.print(`Kubernetes API: v${server.major}.${server.minor}\n`);
  }
}
