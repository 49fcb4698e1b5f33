/**
 * Runs csi-local as a standalone process:
 *
 * ```sh
 * deno run -A plugins/csi-local/main.ts \
 *   --endpoint unix:///var/lib/skiff/plugins/csi-local/csi.sock \
 *   --data-dir /var/lib/skiff/csi-local --node-id pi-3 --enforce-size
 * ```
 *
 * Stops cleanly on SIGINT or SIGTERM; volumes and their mounts stay.
 *
 * @module
 */

import { CommanderError } from "commander";
import { runCsiLocal } from "./csi_local.ts";
import { parseCsiLocalFlags } from "./csi_local_flags.ts";

if (import.meta.main) {
  let options;
  try {
    options = parseCsiLocalFlags(Deno.args);
  } catch (error) {
    if (error instanceof CommanderError) {
      Deno.exit(error.code === "commander.helpDisplayed" ? 0 : 2);
    }
    throw error;
  }
  let plugin;
  try {
    plugin = await runCsiLocal(options);
  } catch (error) {
    console.error(`csi-local: cannot start: ${(error as Error).message}`);
    Deno.exit(1);
  }
  const stop = async (signal: string) => {
    console.error(`csi-local: ${signal} received, stopping`);
    await plugin.stop();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
}
