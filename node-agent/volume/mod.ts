/**
 * The node agent's volume part: a CSI v1 client over unix sockets, plugin
 * discovery under `<data-dir>/plugins/<name>/csi.sock`, and the
 * `VolumePlugin` seam pod workers use to publish, unpublish and measure a
 * pod's volumes with any CSI plugin.
 *
 * @example
 * ```ts
 * import { CsiVolumePlugin, discoverPlugins } from "./mod.ts";
 *
 * const { plugins, failures } = await discoverPlugins("/var/lib/skiff/plugins");
 * for (const failure of failures) console.error(failure.error.message);
 * const local = plugins.find((p) => p.driverName === "local.csi.skiff.dev");
 * if (local) {
 *   const volumes = await CsiVolumePlugin.create(local.client, {
 *     podsDir: "/var/lib/skiff/pods",
 *     stateDir: "/var/lib/skiff/volumes",
 *   });
 *   const published = await volumes.publish({
 *     podUid: "6a1f…",
 *     volumeName: "data",
 *     volumeId: "…",
 *   });
 *   console.log(published.targetPath);
 * }
 * ```
 *
 * @module
 */

export {
  CsiClient,
  type CsiClientOptions,
  CsiError,
  type CsiErrorOptions,
  DEFAULT_CSI_TIMEOUT_MS,
} from "./csi_client.ts";
export {
  type DiscoveredPlugin,
  discoverPlugins,
  type DiscoverPluginsOptions,
  type DiscoveryFailure,
  type PluginDiscovery,
} from "./discover_plugins.ts";
export {
  CsiVolumePlugin,
  type CsiVolumePluginOptions,
  type PodVolume,
  type PodVolumeRef,
  type PublishedVolume,
  type UsageFigures,
  type VolumePlugin,
  type VolumeStats,
} from "./volume_plugin.ts";
