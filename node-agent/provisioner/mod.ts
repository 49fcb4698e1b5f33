/**
 * The node agent's volume provisioner: makes the volumes of claims the
 * scheduler selected this node for, with the node's CSI plugins, and
 * deletes them when their reclaim policy says so.
 *
 * @example
 * ```ts
 * import { discoverPlugins } from "../volume/mod.ts";
 * import { VolumeProvisioner } from "./mod.ts";
 *
 * const { plugins } = await discoverPlugins("/var/lib/skiff/plugins");
 * const provisioner = new VolumeProvisioner({ client, nodeName: "pi-3", plugins, recorder });
 * await provisioner.start();
 * // …
 * await provisioner.stop();
 * ```
 *
 * @module
 */

export {
  DEFAULT_CAPACITY_INTERVAL_MS,
  PARAMETER_FS_TYPE,
  type ProvisionerPlugin,
  VolumeProvisioner,
  type VolumeProvisionerOptions,
} from "./volume_provisioner.ts";
