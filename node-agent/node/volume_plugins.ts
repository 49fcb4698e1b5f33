/**
 * Checks the node's CSI plugins at start (`<data-dir>/plugins/<name>/csi.sock`):
 * which drivers answer, and which sockets do not. The pod manager connects
 * to them again when a pod needs one, so plugins started later are found too.
 *
 * @module
 */

import { join } from "node:path";
import { discoverPlugins } from "../volume/mod.ts";

/** What {@linkcode checkVolumePlugins} found. */
export interface VolumePluginCheck {
  /** Where plugins serve their sockets. */
  pluginsDir: string;
  /** Driver names of the plugins that answered, in directory order. */
  drivers: string[];
  /** Sockets that did not answer, each with why. */
  failures: { socketPath: string; message: string }[];
}

/**
 * Asks every plugin under `<dataDir>/plugins` for its driver name, then
 * closes the connections. A missing plugins directory means no plugins.
 */
export async function checkVolumePlugins(
  dataDir: string,
  options: { timeoutMs?: number } = {},
): Promise<VolumePluginCheck> {
  const pluginsDir = join(dataDir, "plugins");
  const { plugins, failures } = await discoverPlugins(pluginsDir, {
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  for (const plugin of plugins) plugin.client.close();
  return {
    pluginsDir,
    drivers: plugins.map((p) => p.driverName),
    failures: failures.map((f) => ({ socketPath: f.socketPath, message: f.error.message })),
  };
}
