/**
 * The command line of the standalone csi-local process: flag definitions
 * only; `main.ts` runs what they describe.
 *
 * @module
 */

import { Command, InvalidArgumentError } from "commander";
import type { CsiLocalOptions } from "./csi_local.ts";

/** Where {@linkcode parseCsiLocalFlags} reads defaults and writes text. */
export interface ParseFlagsOptions {
  /** Environment lookup; `CSI_ENDPOINT` is the spec's endpoint variable. */
  env?: (name: string) => string | undefined;
  /** This machine's host name, the default node id. */
  hostname?: () => string;
  /** Where help and errors go. */
  write?: (text: string) => void;
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(parsed) || parsed < 1) {
    throw new InvalidArgumentError("expected a positive integer");
  }
  return parsed;
}

/**
 * Parses csi-local's flags (`--endpoint --data-dir --node-id
 * --enforce-size --max-volumes`) into {@linkcode CsiLocalOptions}.
 *
 * @throws {import("commander").CommanderError} on bad flags or `--help`
 * (its `code` is `"commander.helpDisplayed"` then), after writing why.
 */
export function parseCsiLocalFlags(
  args: string[],
  options: ParseFlagsOptions = {},
): CsiLocalOptions {
  const env = options.env ?? ((name) => Deno.env.get(name));
  const hostname = options.hostname ?? (() => Deno.hostname());
  const write = options.write ?? ((text) => console.error(text.trimEnd()));
  const program = new Command("csi-local")
    .description(
      "CSI v1 plugin for node-local volumes (driver local.csi.skiff.dev)",
    )
    .option(
      "--endpoint <url>",
      "unix socket to serve, unix:///absolute/path/csi.sock (default: $CSI_ENDPOINT)",
    )
    .requiredOption(
      "--data-dir <dir>",
      "directory holding volume records and data",
    )
    .option("--node-id <id>", "this node's id (default: the host name)")
    .option(
      "--enforce-size",
      "make volumes ext4 images of their requested size (needs loop devices)",
      false,
    )
    .option(
      "--max-volumes <n>",
      "most volumes this node holds",
      positiveInteger,
    )
    .exitOverride()
    .configureOutput({ writeOut: write, writeErr: write });
  program.parse(args, { from: "user" });
  const flags = program.opts<{
    endpoint?: string;
    dataDir: string;
    nodeId?: string;
    enforceSize: boolean;
    maxVolumes?: number;
  }>();
  const endpoint = flags.endpoint ?? env("CSI_ENDPOINT");
  if (!endpoint) {
    program.error(
      "error: no endpoint: pass --endpoint unix:///path/csi.sock or set CSI_ENDPOINT",
    );
  }
  const parsed: CsiLocalOptions = {
    endpoint: endpoint as string,
    dataDir: flags.dataDir,
    nodeId: flags.nodeId ?? hostname(),
    enforceSize: flags.enforceSize,
  };
  if (flags.maxVolumes !== undefined) parsed.maxVolumes = flags.maxVolumes;
  return parsed;
}
