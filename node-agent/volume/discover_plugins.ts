/**
 * Finds the CSI plugins on this node: each one serves
 * `<data-dir>/plugins/<name>/csi.sock`, and GetPluginInfo tells its driver
 * name.
 *
 * @module
 */

import { join } from "node:path";
import { CsiClient } from "./csi_client.ts";
import { checkDriverName } from "./_driver_name.ts";

/** A plugin that answered GetPluginInfo. */
export interface DiscoveredPlugin {
  /** The plugin's directory name under the plugins directory. */
  dirName: string;
  /** Its socket. */
  socketPath: string;
  /** Its endpoint, `unix://<socketPath>`. */
  endpoint: string;
  /** The driver name it reports (e.g. `local.csi.skiff.dev`). */
  driverName: string;
  /** The vendor version it reports. */
  vendorVersion: string;
  /** An open client; close it when done. */
  client: CsiClient;
}

/** A socket that did not give a usable answer. */
export interface DiscoveryFailure {
  /** The plugin's directory name. */
  dirName: string;
  /** Its socket. */
  socketPath: string;
  /** Why it is not usable. */
  error: Error;
}

/** What {@linkcode discoverPlugins} found. */
export interface PluginDiscovery {
  /** Usable plugins, ordered by directory name. */
  plugins: DiscoveredPlugin[];
  /** Sockets that failed, ordered by directory name. */
  failures: DiscoveryFailure[];
}

/** Options of {@linkcode discoverPlugins}. */
export interface DiscoverPluginsOptions {
  /** Deadline of each plugin's GetPluginInfo (default 5 s). */
  timeoutMs?: number;
}

/**
 * Looks for `<pluginsDir>/<name>/csi.sock` sockets and asks each plugin its
 * driver name. A missing plugins directory means no plugins. Two sockets
 * claiming one driver name: the first (by directory name) wins, the other
 * is a failure.
 */
export async function discoverPlugins(
  pluginsDir: string,
  options: DiscoverPluginsOptions = {},
): Promise<PluginDiscovery> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(pluginsDir)) {
      if (entry.isDirectory) names.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { plugins: [], failures: [] };
    }
    throw error;
  }
  names.sort();

  const probes = await Promise.all(names.map(async (
    dirName,
  ): Promise<DiscoveredPlugin | DiscoveryFailure | undefined> => {
    const socketPath = join(pluginsDir, dirName, "csi.sock");
    try {
      const info = await Deno.stat(socketPath);
      if (!info.isSocket) {
        return {
          dirName,
          socketPath,
          error: new Error(`"${socketPath}" is not a unix socket`),
        };
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    const endpoint = `unix://${socketPath}`;
    const client = new CsiClient(endpoint, { timeoutMs });
    try {
      const info = await client.getPluginInfo();
      const driverName = checkDriverName(info.name, endpoint);
      return {
        dirName,
        socketPath,
        endpoint,
        driverName,
        vendorVersion: info.vendorVersion ?? "",
        client,
      };
    } catch (error) {
      client.close();
      return { dirName, socketPath, error: error as Error };
    }
  }));

  const discovery: PluginDiscovery = { plugins: [], failures: [] };
  for (const probe of probes) {
    if (!probe) continue;
    if ("error" in probe) {
      discovery.failures.push(probe);
      continue;
    }
    const earlier = discovery.plugins.find((p) => p.driverName === probe.driverName);
    if (earlier) {
      probe.client.close();
      discovery.failures.push({
        dirName: probe.dirName,
        socketPath: probe.socketPath,
        error: new Error(
          `Driver "${probe.driverName}" at "${probe.endpoint}" is already served by "${earlier.endpoint}"; remove one of the two plugins`,
        ),
      });
      continue;
    }
    discovery.plugins.push(probe);
  }
  return discovery;
}
