/**
 * What `skiff csi-local` does: parses csi-local's flags with the plugin's
 * own parser, defaulting them to where the node agent looks
 * (`<data-dir>/plugins/csi-local/csi.sock`, volumes under
 * `<data-dir>/csi-local`, the agent's node name as node id), then serves
 * until SIGINT or SIGTERM. Volumes and their mounts outlive the process.
 *
 * @module
 */

import { join } from "node:path";
import { CommanderError } from "commander";
import { parseCsiLocalFlags, runCsiLocal } from "@skiff/csi-local";
import { defaultNodeName, loadCredentials } from "@skiff/node-agent";
import { defaultDataDir } from "./_paths.ts";

/** Options of {@linkcode runCsiLocalCommand}. */
export interface CsiLocalCommandOptions {
  /** Skiff's data directory, which the defaults live under (default: {@linkcode defaultDataDir}). */
  skiffDataDir?: string;
  /** Environment lookup (default: the process's). */
  env?: (name: string) => string | undefined;
  /** Where help, errors and log lines go (default: standard error). */
  write?: (text: string) => void;
  /** Stops the plugin when aborted, as SIGINT and SIGTERM do. */
  signal?: AbortSignal;
  /** Called once the plugin serves its socket. */
  onReady?: (endpoint: string) => void;
}

/** The node id csi-local should report: the agent's node name when it has registered one, else the host name. */
async function nodeIdOf(skiffDataDir: string): Promise<string> {
  try {
    return (await loadCredentials(skiffDataDir))?.nodeName ?? defaultNodeName();
  } catch {
    return defaultNodeName();
  }
}

/**
 * Runs csi-local with `args` (its own flags) until SIGINT, SIGTERM or
 * `options.signal`.
 *
 * @throws {CommanderError} on bad flags or `--help`, after writing why.
 * @throws {Error} when the plugin cannot start, saying why.
 */
export async function runCsiLocalCommand(args: readonly string[], options: CsiLocalCommandOptions = {}): Promise<void> {
  const dir = options.skiffDataDir ?? defaultDataDir();
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const write = options.write ?? ((text: string) => console.error(text.trimEnd()));
  const endpoint = `unix://${join(dir, "plugins", "csi-local", "csi.sock")}`;
  const nodeId = await nodeIdOf(dir);
  let parsed;
  try {
    parsed = parseCsiLocalFlags(["--data-dir", join(dir, "csi-local"), ...args], {
      env: (name) => name === "CSI_ENDPOINT" ? env(name) ?? endpoint : env(name),
      hostname: () => nodeId,
      write,
    });
  } catch (error) {
    if (error instanceof CommanderError && error.code === "commander.helpDisplayed") {
      write(
        `\nUnder skiff the defaults are: --data-dir ${
          join(dir, "csi-local")
        }, --endpoint $CSI_ENDPOINT or ${endpoint} ` +
          `(where the agent looks for plugins), --node-id ${nodeId} (the agent's node name).`,
      );
    }
    throw error;
  }
  const plugin = await runCsiLocal({ ...parsed, log: write }).catch((error) => {
    throw new Error(`Cannot start csi-local: ${error instanceof Error ? error.message : error}`, { cause: error });
  });
  options.onReady?.(plugin.endpoint);
  const stopped = Promise.withResolvers<string>();
  const onSignal = (name: string) => () => stopped.resolve(name);
  const listeners = (["SIGINT", "SIGTERM"] as const).map((name) => [name, onSignal(name)] as const);
  for (const [name, listener] of listeners) Deno.addSignalListener(name, listener);
  const onAbort = () => stopped.resolve("stop request");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  try {
    const why = await stopped.promise;
    write(`csi-local: ${why} received, stopping; volumes and their mounts stay`);
    await plugin.stop();
  } finally {
    for (const [name, listener] of listeners) Deno.removeSignalListener(name, listener);
    options.signal?.removeEventListener("abort", onAbort);
  }
}
